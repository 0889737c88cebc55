"""Looking up channels-last maps at continuous positions, with float64 position arithmetic.

Maps are (B, H, W, C); positions (B, N, 2) are (x, y) in pixel units of the map, pixel j's
centre at j. Out-of-range positions clamp to the border: the results match
``grid_sample(padding_mode="border", align_corners=False)``. Unlike ``grid_sample``, the
split into whole pixel and fraction is done in float64, so a point 4000 pixels into an image
is placed as precisely as one near the origin; that is what makes a tile's output identical
to the whole image's. Each point is one weighted ``embedding_bag`` over its taps (rows of the
flattened map), which on a CPU is about twice as fast as ``grid_sample``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_CUBIC_A = -0.75  # the bicubic of torch.nn.functional.grid_sample / interpolate


def _weighted_taps(img: torch.Tensor, ys: list[torch.Tensor], xs: list[torch.Tensor],
                   wy: list[torch.Tensor], wx: list[torch.Tensor]) -> torch.Tensor:
    """Sum over taps (ys[j], xs[i]) weighted wy[j] * wx[i]; each (B, N). Returns (B, N, C)."""
    b, h, w, c = img.shape
    n = ys[0].shape[1]
    offset = (torch.arange(b, device=img.device) * (h * w)).unsqueeze(1)
    index = torch.stack([y * w + x + offset for y in ys for x in xs], dim=-1).reshape(b * n, -1)
    weight = torch.stack([v * u for v in wy for u in wx], dim=-1).reshape(b * n, -1).to(img.dtype)
    out = F.embedding_bag(index, img.reshape(b * h * w, c), per_sample_weights=weight, mode="sum")
    return out.reshape(b, n, c)


def bilinear_lookup(img: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    h, w = img.shape[1:3]
    x = pos[..., 0].clamp(0, w - 1)
    y = pos[..., 1].clamp(0, h - 1)
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0
    x0, y0 = x0.long(), y0.long()
    xs = [x0, (x0 + 1).clamp(max=w - 1)]
    ys = [y0, (y0 + 1).clamp(max=h - 1)]
    return _weighted_taps(img, ys, xs, [1 - fy, fy], [1 - fx, fx])


def bilinear_axis(u: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The two taps and the fraction of ``bilinear_lookup`` along one axis of ``n`` pixels, for
    (k,) float64 positions ``u``: (lower tap, upper tap, fraction of the upper)."""
    u = u.clamp(0, n - 1)
    lower = u.floor()
    frac = u - lower
    lower = lower.long()
    return lower, (lower + 1).clamp(max=n - 1), frac


def _cubic_weights(t: torch.Tensor) -> list[torch.Tensor]:
    """Keys' cubic convolution weights for the taps at -1, 0, 1, 2 around fraction t."""
    a = _CUBIC_A

    def near(d):
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def bicubic_lookup(img: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Like ``bilinear_lookup`` with 4x4 taps; each tap clamps to the border."""
    h, w = img.shape[1:3]
    x0, y0 = pos[..., 0].floor(), pos[..., 1].floor()
    wx, wy = _cubic_weights(pos[..., 0] - x0), _cubic_weights(pos[..., 1] - y0)
    x0, y0 = x0.long(), y0.long()
    xs = [(x0 + i - 1).clamp(0, w - 1) for i in range(4)]
    ys = [(y0 + j - 1).clamp(0, h - 1) for j in range(4)]
    return _weighted_taps(img, ys, xs, wy, wx)


def bicubic_window(image: torch.Tensor, size: tuple[int, int], rows: slice | None = None,
                   cols: slice | None = None) -> torch.Tensor:
    """Rows x cols (default all) of (C, h, w) ``image`` upscaled to ``size`` = (H, W) with this
    bicubic (what the models' residuals are over): (C, rows, cols)."""
    from ..coords import pixel_centers

    (out_h, out_w), (c, h, w) = size, image.shape
    rows, cols = rows or slice(0, out_h), cols or slice(0, out_w)
    pos = pixel_centers(out_h, out_w, rows, cols, dtype=torch.float64) * torch.tensor([w, h], dtype=torch.float64)
    values = bicubic_lookup(image.permute(1, 2, 0)[None].contiguous(), pos[None] - 0.5)[0]
    return values.T.reshape(c, rows.stop - rows.start, cols.stop - cols.start).to(image.dtype)


def bicubic_grid_lookup(img: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """``bicubic_lookup`` of one (1, H, W, C) map at every point of the grid ``ys`` x ``xs`` ((R,) and
    (K,) float64 positions): (R * K, C), row-major. Separable: the rows first, then the columns."""
    h, w = img.shape[1:3]
    img = img[0]
    y0, x0 = ys.floor(), xs.floor()
    wy, wx = _cubic_weights(ys - y0), _cubic_weights(xs - x0)
    y0, x0 = y0.long(), x0.long()
    xs_taps = [(x0 + i - 1).clamp(0, w - 1) for i in range(4)]
    lo, hi = int(xs_taps[0].min()), int(xs_taps[3].max()) + 1
    rows = None
    for j in range(4):
        tap = img[(y0 + j - 1).clamp(0, h - 1), lo:hi] * wy[j].to(img.dtype)[:, None, None]
        rows = tap if rows is None else rows.add_(tap)
    out = None
    for i in range(4):
        tap = rows[:, xs_taps[i] - lo] * wx[i].to(img.dtype)[None, :, None]
        out = tap if out is None else out.add_(tap)
    return out.reshape(-1, img.shape[-1])
