"""Text a user typed (a command-line flag or a web form field) -> validated values.

Each parser raises ValueError with one readable line naming what was expected.
"""

from __future__ import annotations

import math

from PIL import ImageColor

MAX_NOISE = 75.0  # the tunable models are trained for noise sigmas 0..75 (0-255 scale)


def parse_scale(text: str) -> float | tuple[float, float]:
    """'3.5', or 'SX,SY' for different factors across and down."""
    try:
        parts = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"scale expects a number such as 2 or 3.5, or SX,SY, got {text!r}") from None
    if len(parts) not in (1, 2) or not all(math.isfinite(v) and v > 0 for v in parts):
        raise ValueError(f"scale must be one or two finite numbers > 0, got {text!r}")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def parse_size(text: str) -> tuple[int, int]:
    """'WIDTHxHEIGHT' in pixels."""
    try:
        width, height = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise ValueError(f"size expects WIDTHxHEIGHT, e.g. 1920x1080, got {text!r}") from None
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {text!r}")
    return width, height


def parse_noise(text: str | None) -> float | None:
    """'auto' (estimate it from the image: None) or a sigma on the 0-255 scale, 0 to MAX_NOISE."""
    if text is None or text == "auto":
        return None
    try:
        sigma = float(text)
    except ValueError:
        raise ValueError(f"noise expects a sigma (0-255 scale) or 'auto', got {text!r}") from None
    if not 0 <= sigma <= MAX_NOISE:  # also refuses NaN
        raise ValueError(f"noise must be 'auto' or a sigma between 0 and {MAX_NOISE:g} (0-255 scale), got {text!r}")
    return sigma


def parse_jpeg(text: str) -> str | int:
    """'auto' (read the input's JPEG quality), 'off' (ignore it) or a quality from 1 to 100."""
    word = text.strip().lower()
    if word in ("auto", "off"):
        return word
    if not word.isdecimal() or not 1 <= int(word) <= 100:
        raise ValueError(f"jpeg expects auto, off or a quality from 1 to 100, got {text!r}")
    return int(word)


def parse_region(text: str) -> tuple[int, int, int, int]:
    """'X0,Y0,X1,Y1': a window of the output in its pixels (x1, y1 exclusive)."""
    try:
        x0, y0, x1, y1 = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"region expects X0,Y0,X1,Y1 in output pixels, e.g. 0,0,512,512, got {text!r}") from None
    if not (0 <= x0 < x1 and 0 <= y0 < y1):
        raise ValueError(f"region needs 0 <= x0 < x1 and 0 <= y0 < y1, got {text!r}")
    return x0, y0, x1, y1


def parse_colour(text: str) -> tuple[float, float, float]:
    """A colour name ('white') or hex ('#ff8800', '#f80') -> (r, g, b) in [0, 1]."""
    try:
        rgb = ImageColor.getrgb(text.strip())
    except ValueError:
        raise ValueError(f"expected a colour name or hex code such as white or #ff8800, got {text!r}") from None
    return tuple(c / 255 for c in rgb[:3])
