"""What the command-line tests share: frannet's CLI run in-process, and the luma it keeps."""

from __future__ import annotations

import numpy as np

from frannet.cli import main


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """``frannet ARGS...`` -> (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) BT.601 luma, as the colour models keep it."""
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
