"""Whether a picture is gray: its colour channels equal, or nearly.

A gray photo saved in RGB has equal channels, or channels a level apart where a colour-managed
copy rounded them (a round trip through Lab: 1 level at most); a JPEG encoder keeps them equal.
A colour photo's channels differ widely somewhere: on the 86 pictures of data/train (the
dead-leaves ones aside), data/corpus, data/val and data/eval, the 99th percentile of the
per-pixel spread (largest channel minus smallest) is 0 for the 8 gray ones and 30 levels or
more for every colour one. So a pixel counts
as gray when its spread is GRAY_LEVELS (of 255) or less, which leaves room for a scanner's faint
colour noise, and a picture is gray unless more than COLOUR_SHARE of its pixels are not: a
few stray coloured pixels (dust, a JPEG's ringing) do not make a gray photo a colour one.
"""

from __future__ import annotations

import torch

GRAY_LEVELS = 4        # the largest channel spread of a gray pixel, in levels of 255
COLOUR_SHARE = 0.01    # the share of pixels, not gray, above which a picture is in colour
_ROWS = 256            # rows measured at a time (a large picture needs no full-size copy)


def is_gray(rgb: torch.Tensor) -> bool:
    """True if (3, H, W) ``rgb`` in [0, 1] is gray: at most COLOUR_SHARE of its pixels have
    channels more than GRAY_LEVELS / 255 apart."""
    top = (GRAY_LEVELS + 0.5) / 255  # half a level for the rounding of float values
    coloured = sum(int((band.amax(dim=0) - band.amin(dim=0) > top).sum())
                   for band in rgb.split(_ROWS, dim=-2))
    return coloured <= COLOUR_SHARE * rgb.shape[-2] * rgb.shape[-1]
