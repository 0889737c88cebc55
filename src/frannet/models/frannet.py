"""FranNet: encode a degraded image once, then query any point of the restored image."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..coords import to_grid
from .decoder import CoordinateDecoder, scale_condition
from .encoder import Encoder, GlobalEncoder


@dataclass
class Encoding:
    """What the decoder needs from one batch of inputs; valid for any set of points."""

    lr: torch.Tensor                 # (B, 3, h, w) the input, for the bicubic base
    projected: list[torch.Tensor]    # per level (B, hidden, h_l, w_l)
    bias: torch.Tensor               # (B, hidden) global latent + condition


class FranNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.global_encoder = GlobalEncoder(cfg)
        self.decoder = CoordinateDecoder(cfg)

    def encode(self, lr: torch.Tensor, scale: torch.Tensor, latent: torch.Tensor | None = None) -> Encoding:
        """``scale`` is (B, 2) output/input size per axis (sx, sy); ``latent`` overrides the
        global latent (tiling passes the whole image's)."""
        maps = self.encoder(lr)
        if latent is None:
            latent = self.global_encoder(lr)
        projected, bias = self.decoder.prepare(maps, latent, scale_condition(scale, self.cfg.max_scale))
        return Encoding(lr=lr, projected=projected, bias=bias)

    def query(self, enc: Encoding, points: torch.Tensor) -> torch.Tensor:
        """Colours at (B, N, 2) points in [0, 1]^2: bicubic base plus predicted residual."""
        base = F.grid_sample(enc.lr, to_grid(points), mode="bicubic", padding_mode="border",
                             align_corners=False).squeeze(2).transpose(1, 2)
        return base + self.decoder(enc.projected, enc.bias, points, tuple(enc.lr.shape[-2:]))

    def forward(self, lr: torch.Tensor, scale: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return self.query(self.encode(lr, scale), points)
