"""The ``frannet`` command: a thin layer over the library.

    frannet restore INPUT -o OUTPUT [--scale S | --size WxH [--fit | --fill]] [--noise SIGMA|auto] [--colorize]
                    [--quality Q] [--background COLOR]
                    [--restorator diffusion --model M --steps K --eta E --seed S --samples N --uncertainty PNG]
                    [--adaptive SIGMA --steps-map PNG]
    frannet denoise INPUT -o OUTPUT [--noise SIGMA|auto]
    frannet colorize INPUT -o OUTPUT [--scale S | --size WxH] [--noise SIGMA|auto] [--force]
    frannet inpaint INPUT --mask MASK -o OUTPUT [--steps K]      (white in MASK = missing)
    frannet sense INPUT --ratio 0.25 -o MEASUREMENTS.npz [--block 32] [--seed 0]
    frannet reconstruct MEASUREMENTS.npz -o OUTPUT [--steps K]
    frannet estimate-noise IMAGE...
    frannet estimate-quality IMAGE...
    frannet interpolate A B --alpha 0.3 -o C
    frannet train CONFIG [--resume CKPT]
    frannet export CKPT -o MODEL [--half] [--task upscale|denoise|colorize]
    frannet describe [MODEL...] [--json]
    frannet eval HR_FOLDER [--scales 2,3,4,6,8] [--json OUT]
    frannet bench [--size 512] [--scale 4]
"""

from __future__ import annotations

import os
import sys
import warnings

from PIL import Image

from ..checkpoint import CheckpointError
from ..config import ConfigError
from ..io import ConversionWarning, ImageReadError
from . import inverse, restore, tools
from .common import OneLineParser, UsageError, stray_arguments

__all__ = ["UsageError", "build_parser", "main"]


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="frannet", description="Image restoration at any output resolution.")
    sub = parser.add_subparsers(dest="command", required=True)
    for part in (restore, inverse, tools):
        part.add_parsers(sub)
    return parser


def _one_line_warning(message, category, *_) -> None:
    kind = "note" if issubclass(category, ConversionWarning) else "warning"
    print(f"frannet: {kind}: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:
            raise UsageError(stray_arguments(argv, extra))
        with warnings.catch_warnings():  # e.g. a file's conversion (CMYK to RGB): one line each
            warnings.simplefilter("always", ConversionWarning)
            # read_image lifts Pillow's limit to the input limit and refuses, in one line, any image it warns of
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.showwarning = _one_line_warning
            return args.func(args)
    except (UsageError, ConfigError, CheckpointError, ImageReadError, FileNotFoundError, ValueError) as exc:
        print(f"frannet: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("frannet: interrupted", file=sys.stderr)
        return 130


def console() -> None:
    """The ``frannet`` command: ``main``, then the process ends at once. Every command has
    closed its files by then (outputs are renamed into place as they finish), and the
    interpreter's own teardown after importing torch would add 0.4 s on this CPU: a quarter of
    a small restore, start-up included."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # e.g. a pipe closed by its reader: nothing left to say
            pass
    os._exit(code)

