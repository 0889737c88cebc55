"""NeRF-like coordinate decoder.

For a query point p the first layer sees, summed,
  * the feature maps looked up at p, each projected to the hidden width,
  * Fourier features of both coordinates (x and y) measured in input pixels,
  * the global latent and the condition (the scale per axis; noise level and gray flag if tunable),
  * for an iterative model, the current value x_t (3 numbers) and sinusoidal features of the time t.
Projection commutes with bilinear interpolation, so each map is projected once per image by a
1x1 convolution at the input resolution and only ``hidden`` channels are looked up per point:
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
from .lookup import bilinear_lookup

TIME_BANDS = 4  # sin/cos of pi * 2^k * t, k = 0..3: from the whole path down to 1/8 of it

def condition_dims(cfg: ModelConfig) -> int:
    """1/sx, 1/sy, log sx, log sy; a tunable model adds the noise level and the gray flag, a
    JPEG-aware one the JPEG level."""
    return 4 + 2 * cfg.tunable + cfg.jpeg


def condition(degradation: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """(B, 5) condition rows (``Degradation.condition``: sx, sy, sigma on the 0-255 scale, gray
    0/1, JPEG level) to condition vectors.

    (B, 2) scales alone mean clean colour inputs, (B, 4) rows no JPEG. A model refuses what it
    was not trained for (noise or gray if not tunable, a JPEG level if not JPEG-aware) rather
    than silently ignoring it.
    """
    degradation = torch.cat([degradation, degradation.new_zeros(degradation.shape[0], 5 - degradation.shape[1])],
                            dim=1)
    s = degradation[:, :2].clamp(1.0, cfg.max_scale)
    parts = [1.0 / s, torch.log(s) / math.log(max(cfg.max_scale, 2.0))]
    if cfg.tunable:
        parts += [degradation[:, 2:3] / cfg.max_noise, degradation[:, 3:4]]
    elif degradation[:, 2:4].abs().sum() > 0:
        raise ValueError("this model only upscales; denoising and colorizing need a tunable model "
                         "(e.g. the bundled frannet-denoise or frannet-color)")
    if cfg.jpeg:
        parts.append(degradation[:, 4:5])
    elif degradation[:, 4].abs().sum() > 0:
        raise ValueError("this model was not trained on JPEG inputs: it cannot be told their quality")
    return torch.cat(parts, dim=1)


def fourier_features(pos: torch.Tensor, bands: int) -> torch.Tensor:
    """sin/cos of 2*pi*k*u for k = 1..bands, for u = x and y in input pixels (float64 in).

    Only the fractional part of u matters (k is whole); it is taken in float64, since in float32
    the angle of a point 4000 pixels in would already be off by ~0.02 rad.
    """
    phase = pos - torch.floor(pos)
    k = torch.arange(1, bands + 1, dtype=phase.dtype, device=pos.device) * (2 * math.pi)
    angles = (phase.unsqueeze(-1) * k).flatten(-2)  # (B, N, 2 * bands)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def time_features(t: torch.Tensor) -> torch.Tensor:
    """(..., 1) times in [0, 1] to (..., 2 * TIME_BANDS) features."""
    angles = t * (math.pi * 2.0 ** torch.arange(TIME_BANDS, dtype=t.dtype, device=t.device))
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class CoordinateDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.project = nn.ModuleList(nn.Conv2d(cfg.channels, cfg.hidden, 1) for _ in range(cfg.levels))
        self.coords = nn.Linear(4 * cfg.fourier_bands, cfg.hidden, bias=False)
        self.image = nn.Linear(cfg.latent + condition_dims(cfg), cfg.hidden)
        self.state = nn.Linear(3 + 2 * TIME_BANDS, cfg.hidden, bias=False) if cfg.iterative else None
        layers = []
        for _ in range(cfg.decoder_layers - 1):
            layers += [nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(inplace=True)]
        self.mlp = nn.Sequential(*layers, nn.Linear(cfg.hidden, 3))
        # Start as plain bicubic: the residual head begins at zero.
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def prepare(self, maps: list[torch.Tensor], latent: torch.Tensor, cond: torch.Tensor,
                full: torch.Tensor | None = None):
        """Per-image work: projected maps (channels-last) and the bias shared by all points.

        ``maps`` are the encoder's, finest first. ``full`` is the full-resolution level already
        projected, when the encoder's maps start at 1/2 (``Encoder.project_full``).
        """
        first = [] if full is None else [full]
        projected = first + [proj(m).permute(0, 2, 3, 1).contiguous()
                             for proj, m in zip(self.project[len(first):], maps)]
        bias = self.image(torch.cat([latent, cond], dim=1))
        return projected, bias

    def forward(self, projected: list[torch.Tensor], bias: torch.Tensor, pos: torch.Tensor,
                x_t: torch.Tensor | None = None, t: torch.Tensor | None = None) -> torch.Tensor:
        """The output at ``pos`` (B, N, 2): (x, y) in input pixels, float64, (0, 0) the top-left corner.

        A single-step decoder returns the residual over the bicubic base; an iterative one reads the
        current values ``x_t`` (B, N, 3) at times ``t`` (B, N, 1) and returns its interpolant's target.
        """
        if (self.state is None) != (x_t is None):
            raise ValueError("an iterative decoder needs x_t and t; a single-step one takes neither")
        h = bias.unsqueeze(1) + self.coords(fourier_features(pos, self.cfg.fourier_bands).to(bias.dtype))
        if self.state is not None:
            h = h + self.state(torch.cat([x_t, time_features(t.to(x_t.dtype).expand(*x_t.shape[:-1], 1))], dim=-1))
        for level, m in enumerate(projected):
            # Pixel j of level l covers input pixels [j * 2^l, (j + 1) * 2^l): its centre is at
            # (j + 0.5) * 2^l. A crop whose origin is a multiple of 2^l reads the same values.
            h += bilinear_lookup(m, pos / (1 << level) - 0.5)
        return self.mlp(F.relu_(h))
