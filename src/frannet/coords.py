"""Continuous image coordinates.

A point is (x, y) in [0, 1]^2 with the image's left/top edge at 0 and its right/bottom
edge at 1; pixel (i, j) of an H x W image covers [j/W, (j+1)/W] x [i/H, (i+1)/H] and its
centre is ((j + 0.5)/W, (i + 0.5)/H). The same point therefore names the same place in an
image at any resolution, which is what lets one model render any output size.
"""

from __future__ import annotations

import torch


def pixel_centers(height: int, width: int, rows: slice | None = None, cols: slice | None = None,
                  device=None, dtype=torch.float32) -> torch.Tensor:
    """Centres of the pixels of a height x width grid (optionally a window), shape (h*w, 2)."""
    rows = rows or slice(0, height)
    cols = cols or slice(0, width)
    ys = (torch.arange(rows.start, rows.stop, device=device, dtype=torch.float64) + 0.5) / height
    xs = (torch.arange(cols.start, cols.stop, device=device, dtype=torch.float64) + 0.5) / width
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2).to(dtype)

