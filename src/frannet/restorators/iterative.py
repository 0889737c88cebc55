"""Iterative restorators: autoregressive (a walk along the Direction interpolant) and diffusion
(DDIM, or DDPM as DDIM with eta = 1 over every step), run independently at every output pixel.

Both work in the residual space of ``common``. The decoder reads the current value x_t and the
time t and predicts its interpolant's target (the direction x0 - x_t, or eps / v). The image is
encoded once per tile (``tiling.render_tiled``); each chunk of output pixels is then sampled by
``sample_pixels`` over that encoding and the chunk's positions. All randomness (the source and
each step's noise) is keyed to the absolute output pixel. Several samples give a mean and a
per-pixel standard deviation. ``restorators.render_counted`` picks this sampler, the adaptive
one (``adaptive``) or the consistent one (``consistent``).
"""

from __future__ import annotations

import torch

from ..models import FranNet
from ..sampling import Diffusion, ddim, walk
from .common import Sampling, interpolant, keyed_noise, summarize, transitions, x0_range


def sample_pixels(model: FranNet, enc, pos: torch.Tensor, pixels: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """(N, 7): the mean colour and the per-channel std over ``sampling.samples`` samples at
    positions ``pos`` (1, N, 2) (input pixels of ``enc``) of output pixels ``pixels`` (N, 2),
    and the decoder evaluations spent per pixel (summed over the samples)."""
    cfg, count = model.cfg, sampling.samples
    interp = interpolant(cfg)
    base = model.base(enc, pos)[0]
    pos_all = pos.repeat(1, count, 1)  # all samples in one batch, sample-major

    def noise(step: int, like: torch.Tensor) -> torch.Tensor:
        return keyed_noise(sampling, pixels, step).to(like)

    x1 = noise(0, base)
    if isinstance(interp, Diffusion):  # x0 estimates are clipped to the residuals of valid colours
        x = ddim(lambda v, t: model.query_pixels(enc, pos_all, v[None], t)[0], x1, interp, noise,
                 steps=sampling.steps, eta=sampling.eta, skip=sampling.skip, clip=x0_range(cfg, base, count))
        evals = torch.full((x.shape[0],), transitions(cfg, sampling))
    else:
        x, evals = walk(lambda v, t, idx: model.query_pixels(enc, pos_all[:, idx], v[None], t)[0], x1,
                        sampling.steps, tol=sampling.tol)
    return summarize(base.repeat(count, 1) + x / cfg.residual_scale, evals, count)
