"""FranNet: encode a degraded image once, then query any point of the restored image."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import ENGINES, ModelConfig
from .decoder import CoordinateDecoder, condition, condition_dims
from .encoder import Encoder, GlobalEncoder
from .lookup import bicubic_grid_lookup, bicubic_lookup
from .ncnn_encoder import NcnnEncoder


@dataclass
class Encoding:
    """What the decoder needs from one batch of inputs; valid for any set of points."""

    lr: torch.Tensor                 # (B, h, w, 3) the input, channels-last, for the bicubic base
    projected: list[torch.Tensor]    # per level (B, h_l, w_l, hidden)
    bias: torch.Tensor               # (B, hidden) global latent + condition

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the encoded input."""
        return self.lr.shape[1], self.lr.shape[2]


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 bf16 or AMX): there ``set_bf16`` is
    ~1.7x faster than float32; elsewhere bfloat16 is emulated and slower."""
    cpu = torch.cpu
    return any(getattr(cpu, check, lambda: False)() for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


class FranNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.bf16 = False  # see ``set_bf16``
        self.ncnn_encoder: NcnnEncoder | None = None  # see ``set_engine``
        self.encoder = Encoder(cfg, condition_dims(cfg))
        self.global_encoder = GlobalEncoder(cfg) if cfg.latent > 0 else None
        self.decoder = CoordinateDecoder(cfg)

    def encode(self, lr: torch.Tensor, degradation: torch.Tensor, latent: torch.Tensor | None = None) -> Encoding:
        """``degradation`` is (B, 5) condition rows (``degradations.Degradation.condition``:
        output/input size per axis (sx, sy), the input's noise sigma (0-255 scale), a gray flag,
        its JPEG level), or (B, 2) scales alone; ``latent`` overrides the global latent (tiling passes the whole
        image's)."""
        cond = condition(degradation, self.cfg)
        if self.ncnn_encoder is not None and not self.training and not torch.is_grad_enabled():
            maps = self.ncnn_encoder(lr, cond)
        elif self.bf16 and not self.training:
            with torch.autocast("cpu", torch.bfloat16):
                maps = [m.float() for m in self.encoder(lr, cond)]
        else:
            maps = self.encoder(lr, cond)
        if latent is None:
            latent = self.global_latent(lr)
        full = None
        if self.encoder.expand is not None:
            full = self.encoder.project_full(maps[0], self.decoder.project[0], lr.shape[-2:])
        projected, bias = self.decoder.prepare(maps, latent, cond, full)
        return Encoding(lr=lr.permute(0, 2, 3, 1).contiguous(), projected=projected, bias=bias)

    def set_bf16(self, on: bool = True) -> "FranNet":  # see also ``native_bf16``
        """Run inference in bfloat16 where it was measured harmless: the encoder under autocast and
        the decoder MLP of the grid path (``query_grid``). On this project's CPU (AVX-512 bf16, one
        thread), x4 of a 512^2 photo ran ~1.7x faster than float32 and denoising (sigma 25) ~1.9x;
        the outputs move by up to ~1e-2 (the float32 path is the reference, held to 1e-4), mean
        PSNR on the held-out photos by 0.001 dB (x4) and 0.003 dB (denoising, sigma 25):
        ``benchmarks/bf16_quality.py``. Returns the model."""
        self.bf16 = bool(on)
        self.decoder.bf16 = bool(on)
        return self

    def set_engine(self, engine: str = "torch") -> "FranNet":
        """Run the encoder's CNN with ``engine`` at inference (without gradients): "torch" (the
        reference) or "ncnn" (Tencent's engine, its Winograd convolutions: float32, within 1e-4 of
        torch, the encoder ~1.7-2x faster on one thread; ``models/ncnn_encoder.py``; an ImportError
        if the ncnn package is missing). Under "ncnn", ``set_bf16`` affects the decoder only.
        Choosing again rebuilds from the current weights. Returns the model."""
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.ncnn_encoder = NcnnEncoder(self.encoder) if engine == "ncnn" else None
        return self

    def global_latent(self, lr: torch.Tensor) -> torch.Tensor:
        """(B, latent) from a small view of the whole input; (B, 0) for a model without one."""
        if self.global_encoder is None:
            return lr.new_zeros(lr.shape[0], 0)
        return self.global_encoder(lr)

    def query(self, enc: Encoding, points: torch.Tensor, x_t: torch.Tensor | None = None,
              t: torch.Tensor | None = None) -> torch.Tensor:
        """Colours at (B, N, 2) points (x, y) in [0, 1]^2 of the encoded input (see ``query_pixels``)."""
        h, w = enc.size
        return self.query_pixels(enc, points.double() * points.new_tensor([w, h], dtype=torch.float64), x_t, t)

    def query_pixels(self, enc: Encoding, pos: torch.Tensor, x_t: torch.Tensor | None = None,
                     t: torch.Tensor | None = None) -> torch.Tensor:
        """Colours at (B, N, 2) positions in input pixels ((0, 0) the top-left corner; float64
        keeps them exact on large images): bicubic base plus predicted residual.

        An iterative model instead returns its interpolant's target for the current values
        ``x_t`` (B, N, 3) at times ``t`` (B, N) or a number, in its residual space (see ``base``).
        Without ``x_t`` (a single-step model's Constant interpolant has no state), ``t`` is not read.
        """
        pos = pos.double()
        if x_t is None:  # the decoder refuses this if it is iterative, and x_t if it is not
            return self.base(enc, pos) + self.decoder(enc.projected, enc.bias, pos)
        return self.decoder(enc.projected, enc.bias, pos, x_t,
                            torch.as_tensor(t, dtype=x_t.dtype, device=x_t.device)[..., None])

    def query_grid(self, enc: Encoding, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
        """``query_pixels`` of one encoded image at every point of the grid ``ys`` x ``xs`` ((R,) and
        (C,) positions in input pixels, float64): (R * C, 3), row-major. Single-step models only;
        the same values (to float rounding), computed once per row and column where it can be
        (``CoordinateDecoder.forward_grid``)."""
        ys, xs = ys.double(), xs.double()
        out = self.decoder.forward_grid(enc.projected, enc.bias, ys, xs)
        return out.add_(bicubic_grid_lookup(enc.lr, ys - 0.5, xs - 0.5))

    @staticmethod
    def base(enc: Encoding, pos: torch.Tensor) -> torch.Tensor:
        """The bicubic upscaling of the input at ``pos`` (input pixels): what residuals are over."""
        return bicubic_lookup(enc.lr, pos.double() - 0.5)

    def answer(self, lr: torch.Tensor, points: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
        """``colours`` (B, N, 3) at ``points`` (B, N, 2) in [0, 1]^2 of (B, 3, h, w) ``lr`` in the
        space this model predicts: the colours themselves for a single-step model, an iterative
        one's residuals over the bicubic base, scaled by ``residual_scale`` (see ``query_pixels``)."""
        if not self.cfg.iterative:
            return colours
        h, w = lr.shape[-2:]
        pos = points.double() * torch.tensor([w, h], dtype=torch.float64, device=points.device)
        base = bicubic_lookup(lr.permute(0, 2, 3, 1).contiguous(), pos - 0.5)
        return (colours - base) * self.cfg.residual_scale

    def forward(self, lr: torch.Tensor, degradation: torch.Tensor, points: torch.Tensor,
                x_t: torch.Tensor | None = None, t: torch.Tensor | None = None) -> torch.Tensor:
        return self.query(self.encode(lr, degradation), points, x_t, t)
