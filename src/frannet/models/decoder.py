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
from .lookup import bilinear_axis, bilinear_lookup

GRID_BLOCK = 4096  # points whose first layer and MLP run at once in ``forward_grid`` (kept in cache)
# oneDNN's linear with the bias and ReLU fused (what inductor emits on CPU), for the bfloat16 MLP:
# measured ~12% faster there than autocast; in float32 it was no faster than F.linear + ReLU at these
# block sizes, so float32 keeps the plain layers. Private, hence optional.
_LINEAR_POINTWISE = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
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


def axis_fourier(u: torch.Tensor, bands: int) -> torch.Tensor:
    """(n,) float64 positions along one axis to (n, 2 * bands): the sin and cos halves of
    ``fourier_features`` for that axis alone."""
    phase = u - torch.floor(u)
    angles = phase.unsqueeze(-1) * (torch.arange(1, bands + 1, dtype=phase.dtype, device=u.device) * (2 * math.pi))
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def time_features(t: torch.Tensor) -> torch.Tensor:
    """(..., 1) times in [0, 1] to (..., 2 * TIME_BANDS) features."""
    angles = t * (math.pi * 2.0 ** torch.arange(TIME_BANDS, dtype=t.dtype, device=t.device))
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class CoordinateDecoder(nn.Module):
    bf16 = False  # ``run_mlp`` in bfloat16 (``FranNet.set_bf16``)

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
        rest = list(zip(self.project[len(first):], maps))
        bias = self.image(torch.cat([latent, cond], dim=1))
        if torch.is_grad_enabled():
            return first + [proj(m).permute(0, 2, 3, 1).contiguous() for proj, m in rest], bias
        # Inference: the levels projected here share one (rows, hidden) table, one after another
        # (the maps are views of it), so that ``forward_grid`` samples them in one lookup. A 1x1
        # convolution of a channels-last map is a matrix product, written straight into the table.
        # An already projected ``full`` level stays as it is (copying it in would add its size to
        # the peak memory).
        shapes = [(m.shape[0], m.shape[2], m.shape[3]) for _, m in rest]
        table = maps[-1].new_empty(sum(b * h * w for b, h, w in shapes), self.cfg.hidden)
        projected, start = list(first), 0
        for (proj, m), (b, h, w) in zip(rest, shapes):
            view = table[start:start + b * h * w]
            rows = m.permute(0, 2, 3, 1)
            if rows.is_contiguous():
                torch.addmm(proj.bias, rows.reshape(-1, rows.shape[-1]), proj.weight.flatten(1).T, out=view)
            else:
                view.copy_(proj(m).permute(0, 2, 3, 1).reshape(-1, self.cfg.hidden))
            projected.append(view.view(b, h, w, self.cfg.hidden))
            start += b * h * w
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

    def forward_grid(self, projected: list[torch.Tensor], bias: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor,
                     block: int = GRID_BLOCK) -> torch.Tensor:
        """``forward`` at every point of the grid ``ys`` x ``xs`` ((R,) and (C,) float64 positions in
        input pixels, one image): (R * C, 3), row-major. A single-step decoder only.

        The same sum, with what depends on one axis only computed once per row or column: the
        coordinate term is a row term plus a column term (the Fourier features of x and y meet only
        in the first layer, which is linear; this replaces a 24-wide matrix product per point, and
        the float64 sin/cos, by two per row and column), and the bilinear taps and weights of each
        level are sums and products of per-row and per-column ones. The first layer (one weighted
        ``embedding_bag`` over every level's taps when ``prepare`` put the levels in one table) and
        the MLP then run on blocks of about ``block`` points (whole rows) while the block is in
        cache: the MLP's matrix products ran at ~90% of the machine's float32 peak at 1024-4096
        points, against about half of it at the 65536 of a chunk.
        """
        if self.state is not None:
            raise ValueError("forward_grid is for single-step decoders; an iterative one reads x_t per point")
        if bias.shape[0] != 1:
            raise ValueError("forward_grid decodes one image at a time")
        b = self.cfg.fourier_bands
        w = self.coords.weight  # columns: sin x, sin y, cos x, cos y (``fourier_features``)
        dtype = w.dtype
        w_x, w_y = torch.cat([w[:, :b], w[:, 2 * b:3 * b]], 1), torch.cat([w[:, b:2 * b], w[:, 3 * b:]], 1)
        row_term = torch.addmm(bias, axis_fourier(ys, b).to(dtype), w_y.T)  # (R, hidden)
        col_term = axis_fourier(xs, b).to(dtype) @ w_x.T  # (C, hidden)
        rows, cols = len(ys), len(xs)
        # Per level, its taps' row offsets and weights (R, 4) and column offsets and weights (C, 4):
        # a tap's table row and weight are a row part plus (times) a column part.
        # Maps that are views of one table (``prepare``) are sampled in one lookup, with their taps'
        # rows offset to where each starts in it; any other map is a lookup of its own.
        groups = {}
        for level, m in enumerate(projected):
            scale = 1.0 / (1 << level)
            _, h, width, c = m.shape
            y0, y1, fy = bilinear_axis(ys * scale - 0.5, h)
            x0, x1, fx = bilinear_axis(xs * scale - 0.5, width)
            fy, fx = fy.to(dtype), fx.to(dtype)
            base = m._base
            shared = base is not None and base.dim() == 2 and base.is_contiguous() and m.is_contiguous()
            table = base if shared else m.reshape(-1, c)
            first = (m.storage_offset() - table.storage_offset()) // c
            taps = [torch.stack([y0, y0, y1, y1], 1) * width + first, torch.stack([1 - fy, 1 - fy, fy, fy], 1),
                    torch.stack([x0, x1, x0, x1], 1), torch.stack([1 - fx, fx, 1 - fx, fx], 1)]
            group = groups.setdefault(id(table), [table, [], [], [], []])
            for parts, part in zip(group[1:], taps):
                parts.append(part)
        groups = [[table] + [torch.cat(parts, 1) for parts in rest] for table, *rest in groups.values()]
        hidden = col_term.shape[1]
        out = torch.empty(rows, cols, 3, dtype=dtype)
        step = max(1, block // cols)
        for r0 in range(0, rows, step):
            r1 = min(rows, r0 + step)
            h = None
            for source, row_off, row_w, col_off, col_w in groups:
                index = (row_off[r0:r1, None] + col_off).view(-1, col_off.shape[1])
                weight = (row_w[r0:r1, None] * col_w).view(-1, col_w.shape[1])
                sampled = F.embedding_bag(index, source, per_sample_weights=weight, mode="sum")
                h = sampled if h is None else h.add_(sampled)
            h.view(r1 - r0, cols, hidden).add_(col_term).add_(row_term[r0:r1, None])
            out[r0:r1] = self.run_mlp(F.relu_(h)).view(r1 - r0, cols, 3)
        return out.view(-1, 3)

    def run_mlp(self, h: torch.Tensor) -> torch.Tensor:
        """``self.mlp(h)``, or, if ``self.bf16`` is set, the same layers with weights and activations
        in bfloat16 through oneDNN's fused linear + ReLU where torch has it (measured: the MLP ~1.5x
        faster; outputs move by ~5e-4, PSNR by < 0.001 dB, ``benchmarks/bf16_quality.py``). The
        result is float32."""
        if not self.bf16:
            return self.mlp(h)
        layers = list(self.mlp)
        fused = (_LINEAR_POINTWISE is not None and not torch.is_grad_enabled()
                 and all(isinstance(m, nn.Linear if i % 2 == 0 else nn.ReLU) for i, m in enumerate(layers))
                 and len(layers) % 2 == 1)
        if fused:
            x, dtype = h.to(torch.bfloat16), torch.bfloat16
            try:
                for lin in layers[:-1:2]:
                    x = _LINEAR_POINTWISE(x, lin.weight.to(dtype), lin.bias.to(dtype), "relu", [], "")
                last = layers[-1]
                return _LINEAR_POINTWISE(x, last.weight.to(dtype), last.bias.to(dtype), "none", [], "").float()
            except RuntimeError:  # a torch build whose oneDNN cannot run it: autocast below
                pass
        return self._plain_mlp(h, torch.bfloat16)

    def _plain_mlp(self, h: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if dtype == torch.float32:
            return self.mlp(h)
        with torch.autocast("cpu", dtype):
            return self.mlp(h).float()
