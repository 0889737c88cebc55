"""NeRF-like coordinate decoder.

For a query point p the first layer sees, summed,
  * the feature maps sampled at p, each projected to the hidden width,
  * Fourier features of both coordinates (x and y) measured in input pixels,
  * the global latent and the condition (the scale per axis).
Projection commutes with bilinear sampling, so each map is projected once per image by a
1x1 convolution at the input resolution and only ``hidden`` channels are sampled per point:
the per-point cost does not grow with the encoder width. The coordinate features use whole
frequencies of the position in input pixels, which are periodic on the input grid and so
continuous everywhere: the output has no seams at input pixel borders.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..coords import to_grid

COND_DIMS = 4  # 1/sx, 1/sy, log sx, log sy


def scale_condition(scale: torch.Tensor, max_scale: float) -> torch.Tensor:
    """(B, 2) per-axis factors (sx, sy) to the decoder's condition vector."""
    s = scale.clamp(1.0, max_scale)
    return torch.cat([1.0 / s, torch.log(s) / math.log(max(max_scale, 2.0))], dim=1)


def fourier_features(points: torch.Tensor, lr_size: tuple[int, int], bands: int) -> torch.Tensor:
    """sin/cos of 2*pi*k*u for k = 1..bands, u the position in input pixels, for x and y."""
    h, w = lr_size
    u = points * torch.tensor([w, h], dtype=points.dtype, device=points.device)
    k = torch.arange(1, bands + 1, dtype=points.dtype, device=points.device) * (2 * math.pi)
    angles = (u.unsqueeze(-1) * k).flatten(-2)  # (B, N, 2 * bands)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class CoordinateDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.project = nn.ModuleList(nn.Conv2d(cfg.channels, cfg.hidden, 1) for _ in range(cfg.levels))
        self.coords = nn.Linear(4 * cfg.fourier_bands, cfg.hidden, bias=False)
        self.image = nn.Linear(cfg.latent + COND_DIMS, cfg.hidden)
        layers = []
        for _ in range(cfg.decoder_layers - 1):
            layers += [nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU()]
        self.mlp = nn.Sequential(*layers, nn.Linear(cfg.hidden, 3))
        # Start as plain bicubic: the residual head begins at zero.
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def prepare(self, maps: list[torch.Tensor], latent: torch.Tensor, cond: torch.Tensor):
        """Per-image work: projected maps and the bias shared by all of an image's points."""
        projected = [proj(m) for proj, m in zip(self.project, maps)]
        bias = self.image(torch.cat([latent, cond], dim=1))
        return projected, bias

    def forward(self, projected: list[torch.Tensor], bias: torch.Tensor, points: torch.Tensor,
                lr_size: tuple[int, int]) -> torch.Tensor:
        grid = to_grid(points)
        h = bias.unsqueeze(1) + self.coords(fourier_features(points, lr_size, self.cfg.fourier_bands))
        for m in projected:
            sampled = F.grid_sample(m, grid, mode="bilinear", padding_mode="border", align_corners=False)
            h = h + sampled.squeeze(2).transpose(1, 2)
        return self.mlp(F.relu(h))
