"""Single-step restorator: one decoder query per output pixel."""

from __future__ import annotations

import torch

from ..coords import pixel_centers
from ..degradations import Degradation
from ..models import FranNet
from ..tiling import DEFAULT_CHUNK


@torch.no_grad()
def render(model: FranNet, lr: torch.Tensor, size: tuple[int, int], *, degradation: Degradation = Degradation(),
           chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Restore (3, h, w) ``lr`` to (3, H, W) for ``size`` = (H, W) in one piece; any H, W >= 1.

    ``degradation`` is what the input suffered besides the resize (its noise sigma, 0-255 scale,
    and whether it is gray and the output should be colour: tunable models); the scale is the
    sizes'. The reference that ``tiling.render_tiled`` (what the API and CLI run) must equal.
    """
    out_h, out_w = size
    lr = lr.unsqueeze(0) if lr.dim() == 3 else lr
    condition = degradation.for_sizes(tuple(lr.shape[-2:]), size).condition(lr.dtype, lr.device)[None]
    enc = model.encode(lr, condition)
    out = torch.empty(3, out_h, out_w, dtype=lr.dtype, device=lr.device)
    rows = max(1, chunk // out_w)
    for top in range(0, out_h, rows):
        bottom = min(out_h, top + rows)
        points = pixel_centers(out_h, out_w, rows=slice(top, bottom), device=lr.device, dtype=torch.float64)
        values = model.query(enc, points[None])[0]
        out[:, top:bottom] = values.T.reshape(3, bottom - top, out_w)
    return out
