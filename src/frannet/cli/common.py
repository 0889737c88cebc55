"""What the command's parts share: the usage error, argument types and the progress bar."""

from __future__ import annotations

import argparse


class UsageError(ValueError):
    """A bad command-line argument."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value




def progress_bar(quiet: bool, total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=quiet)
