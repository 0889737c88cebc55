"""Iterative restoration that agrees with its input at every step (DDNM).

With an observation y = A x of the output (for upscaling, A is the bicubic downscale the models
are trained on), every step's clean estimate is projected onto it before the sampler moves on:

    x0 <- x0 + A+ (y - A x0)

in colour, i.e. on colour = base + x0 / residual_scale, and mapped back to the residual space
(diffusion first clips the colour to [0, 1], as it does without the projection). The sampler's
last x0 is a projected one, so A x_hat = y to float precision.

A noisy observation, y = A x + n with n of std sigma_y, should be agreed with only up to its
noise (DDNM+): each correction is weighted, x0 <- x0 + lambda_t A+ (y - A x0), with
lambda_t = min(1, s / (a sigma)) for the state x_next = a x0 + s noise the step goes to and
sigma = sigma_y * residual_scale, the observation's noise in x0's (residual) units; diffusion
also shrinks the step's own noise by as much as the correction brings (``samplers.ddim_step``).
lambda_t is 1 while x_next is noisier than the observation and falls to 0 at the last step, so
A x_hat - y is left at about the observation's noise. The scalar lambda_t treats A+ n as
per-pixel noise of std sigma_y: exact for average pooling (A+ repeats each value), DDNM+'s
simplified form for bicubic downscaling, whose A+ reshapes the noise's spectrum.

A couples pixels across the image, so the steps run outermost over the whole output and the
chunks inside: x_t is held for every output pixel and sample (3 floats each, a few copies of
that while a step runs: fine up to tens of megapixels). Each step evaluates the model chunk by
chunk from tile encodings (kept when one tile covers the input, re-encoded every step
otherwise, so encoder memory stays that of one tile). Noise is keyed to absolute output pixels
as in ``iterative.sample_pixels``, so the result does not depend on the tile or chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..consistency import Operator
from ..degradations import Degradation
from ..models import FranNet
from ..models.lookup import bicubic_window
from ..sampling import Diffusion, ddim, grid_coords, walk
from ..tiling import tile_bands, tile_encoder
from .common import Sampling, interpolant, keyed_noise, transitions


@dataclass(frozen=True)
class Observation:
    """What the output must agree with: y = A x for (3, H, W) outputs x, A the ``operator``."""

    operator: Operator
    y: torch.Tensor
    sigma: float = 0.0  # the noise std of y (colour units, 0-1 scale): agree with y up to it (DDNM+)

    def __post_init__(self):
        if self.sigma < 0:
            raise ValueError(f"the observation's noise std must be >= 0, got {self.sigma}")


def _bicubic_base(lr: torch.Tensor, size: tuple[int, int], rows_at_once: int) -> torch.Tensor:
    """(3, H, W) bicubic upscaling of (3, h, w) ``lr``, band by band: the base residuals are over."""
    return torch.cat([bicubic_window(lr, size, slice(r0, min(size[0], r0 + rows_at_once)))
                      for r0 in range(0, size[0], rows_at_once)], dim=1)


@torch.no_grad()
def render_consistent(model: FranNet, lr: torch.Tensor, size: tuple[int, int], sampling: Sampling,
                      observation: Observation, *, tile: int, chunk: int, progress=None,
                      degradation: Degradation = Degradation()) -> tuple[torch.Tensor, torch.Tensor]:
    """``render_iterative`` (same arguments) with every step's estimate projected onto
    ``observation``: the mean and std of the samples, (3, H, W) each; every sample satisfies
    A x = y before any clipping (up to y's noise, if ``observation.sigma``). ``progress`` gets fractions of output pixels (each step's share)."""
    sampling = sampling.resolved(model.cfg, consistent=True)
    if sampling.tol > 0:
        raise ValueError("consistency projects every pixel at every step, so pixels cannot stop early: use tol 0")
    if sampling.adaptive > 0:
        raise ValueError("consistency projects the whole output at every step, so tiles cannot stop early: "
                         "use --adaptive 0 (or drop --consistency)")
    cfg, count = model.cfg, sampling.samples
    (out_h, out_w), in_size = size, tuple(lr.shape[-2:])
    interp = interpolant(cfg)
    per_chunk = max(1, chunk // count)  # output pixels per model call, over all samples
    band_rows = max(1, per_chunk // out_w)
    base = _bicubic_base(lr, size, band_rows)
    tiles = [t for band in tile_bands(cfg, in_size, size, tile=tile) for t in band]
    encode = tile_encoder(model, lr, size, degradation=degradation)
    kept = encode(tiles[0]) if len(tiles) == 1 else None
    evaluations = transitions(cfg, sampling)

    # The state is (samples * H * W, 3), sample-major then row-major: a (S, H, W, 3) view.
    def model_fn(x, t, *_):
        x, out = x.view(count, out_h, out_w, 3), torch.empty_like(x).view(count, out_h, out_w, 3)
        for tile_ in tiles:
            enc = kept if kept is not None else encode(tile_)
            cols = slice(tile_.cols.start, tile_.cols.stop)
            for rows in tile_.chunks(per_chunk):
                pos, _ = tile_.points(rows, in_size, size)
                span = slice(rows.start, rows.stop)
                values = x[:, span, cols].reshape(1, -1, 3)
                pred = model.query_pixels(enc, pos.repeat(1, count, 1), values, t)[0]
                out[:, span, cols] = pred.view(count, len(rows), len(tile_.cols), 3)
                if progress is not None:
                    progress(len(rows) * len(tile_.cols) / evaluations)
        return out.view(-1, 3)

    def keyed(step: int, like: torch.Tensor) -> torch.Tensor:  # sample k's noise keyed (seed, k, step, pixel)
        bands = [grid_coords(range(r0, min(out_h, r0 + band_rows)), range(out_w)) for r0 in range(0, out_h, band_rows)]
        return keyed_noise(sampling, torch.cat(bands), step).to(like)

    def to_colour(x):
        return base + x.view(count, out_h, out_w, 3).permute(0, 3, 1, 2) / cfg.residual_scale

    def project(x0, weight):  # x0 + weight A+ (y - A x0), in colour
        colour = to_colour(x0)
        if isinstance(interp, Diffusion):  # valid colours, as ``sample_pixels`` clips its estimates
            colour = colour.clamp(0.0, 1.0)
        if weight:
            op = observation.operator
            colour = colour + weight * op.pinv(observation.y - op(colour))
        return ((colour - base) * cfg.residual_scale).permute(0, 2, 3, 1).reshape(-1, 3)

    x1, sigma_y = keyed(0, base), observation.sigma * cfg.residual_scale
    if isinstance(interp, Diffusion):
        x = ddim(model_fn, x1, interp, keyed, steps=sampling.steps, eta=sampling.eta, skip=sampling.skip,
                 project=project, sigma_y=sigma_y)
    else:
        x, _ = walk(model_fn, x1, sampling.steps, project=project, sigma_y=sigma_y)
    colours = to_colour(x)
    std = colours.std(dim=0) if count > 1 else torch.zeros_like(base)
    return colours.mean(dim=0), std
