"""Pictures with alpha: the colour of fully transparent pixels is arbitrary (often black), and
a model that reads it would carry it into the edges as a dark fringe. Before restoring, it is
replaced by the colour of the nearest visible pixels; the colour is then restored straight (not
premultiplied), so no division by alpha can turn a semi-transparent edge dark, and alpha is
resized on its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .models.lookup import bicubic_window

HIDDEN = 1e-3  # below this alpha a pixel's colour is not seen: it is replaced
BAND_ROWS = 512  # full-size rows handled at once, so filling holds no full-size temporaries


def _halve(weighted: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both pooled over 2x2 blocks (an odd edge's blocks are cut; the ratio is what matters)."""
    return F.avg_pool2d(weighted[None], 2, ceil_mode=True)[0], F.avg_pool2d(weight[None, None], 2, ceil_mode=True)[0, 0]


def _double(colour: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Each pixel of (3, h, w) ``colour`` as a 2x2 block, cut to ``rows`` x ``cols``."""
    return colour.repeat_interleave(2, dim=1)[:, :rows].repeat_interleave(2, dim=2)[:, :, :cols]


def _spread(weighted: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(3, h, w) colour everywhere: the weighted mean where any weight falls, else the coarser
    level's (push-pull), so empty areas take the colour of the nearest weighted pixels."""
    colour = weighted / weight.clamp(min=torch.finfo(weight.dtype).tiny)
    empty = weight <= 0
    if empty.any():
        coarse = _spread(*_halve(weighted, weight))
        colour = torch.where(empty, _double(coarse, *colour.shape[1:]), colour)
    return colour


def fill_hidden(rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """(3, h, w) ``rgb`` with the colour of the pixels whose ``alpha`` (h, w) is below HIDDEN
    replaced by the alpha-weighted mean colour of the visible pixels in the smallest block
    around them that has any (blocks of 2, 4, 8 ... pixels a side)."""
    hidden = alpha < HIDDEN
    if not hidden.any() or hidden.all():
        return rgb
    weight = alpha.masked_fill(hidden, 0.0)
    h, w = alpha.shape
    halves = [_halve(rgb[:, r:r + BAND_ROWS] * weight[r:r + BAND_ROWS], weight[r:r + BAND_ROWS])
              for r in range(0, h, BAND_ROWS)]  # BAND_ROWS is even: the bands' blocks are the image's
    coarse = _spread(torch.cat([c for c, _ in halves], dim=1), torch.cat([t for _, t in halves]))
    out = torch.empty_like(rgb)
    for r in range(0, h, BAND_ROWS):
        rows = slice(r, r + BAND_ROWS)
        fill = _double(coarse[:, r // 2:(r + BAND_ROWS) // 2], min(BAND_ROWS, h - r), w)
        out[:, rows] = torch.where(hidden[rows], fill, rgb[:, rows])
    return out


def resize_alpha(alpha: torch.Tensor, size: tuple[int, int], rows: slice, cols: slice) -> torch.Tensor:
    """The window (rows, cols) of alpha (h, w) resized to ``size`` with the models' bicubic base."""
    return bicubic_window(alpha[None], size, rows, cols)[0].clamp(0.0, 1.0)
