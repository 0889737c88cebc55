"""What the command's parts share: one-line errors, argument types and the progress bar."""

from __future__ import annotations

import argparse
import sys


class UsageError(ValueError):
    """A bad command-line argument."""


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are UsageErrors naming the option (``--tile: ...``), which the
    command prints on one line like any other, instead of the usage block."""

    def error(self, message: str):
        raise UsageError(message.removeprefix("argument "))


def stray_arguments(argv: list[str], extra: list[str]) -> str:
    """The error for arguments nothing took: most often a list typed with spaces (--scale 2, 3)."""
    for at in range(2, len(argv)):
        option, value = argv[at - 2], argv[at - 1]
        if argv[at] == extra[0] and option.startswith("-") and value.endswith(","):
            return f"{option}: {value!r} is followed by {extra[0]!r}: write the list without spaces, or quote " \
                   f"it ({option} '{value} {extra[0]}')"
    return f"unrecognized arguments: {' '.join(extra)}"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def tile_side(text: str) -> int:
    from ..tiling import tile_problem

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels, got {text!r}") from None
    problem = tile_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def ensemble_views(text: str) -> int:
    from ..ensemble import ENSEMBLE_SIZES

    if text.strip() not in {str(n) for n in ENSEMBLE_SIZES}:
        *rest, last = (str(n) for n in ENSEMBLE_SIZES)
        raise argparse.ArgumentTypeError(f"must be {', '.join(rest)} or {last}, got {text!r}")
    return int(text)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def progress_bar(iterable=None, total: float | None = None, desc: str = "", unit: str = "step", quiet: bool = False,
                 tty: bool | None = None, **options):
    """A tqdm bar on stderr, drawn only in a terminal (``tty``: whether stderr is one; None: ask
    it), so a piped or logged run gets none, and never when ``quiet``."""
    from tqdm import tqdm

    shown = not quiet and (stderr_is_terminal() if tty is None else tty)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not shown, file=sys.stderr, **options)
