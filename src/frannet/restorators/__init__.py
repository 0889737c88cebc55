"""Restorators turn an encoder + decoder into an image.

    common              what they share: Sampling, Rendered, interpolant, keyed noise
    single_step         render: one decoder query per output pixel
    iterative           sample_pixels: autoregressive walk or diffusion, pixel by pixel
    adaptive            sample_adaptive: the same, tiles of the output stopping early
    consistent          render_consistent: every step projected onto an Observation (DDNM)
    projected_denoising plug-and-play inverse problems with a denoiser as the prior

The dispatch between them is here: ``render_counted`` (and ``render_iterative``) picks the
iterative sampler for the sampling settings and observation; ``render_mean`` picks single-step
or iterative for the model. None of the modules above imports this one.
"""

from __future__ import annotations

import torch

from ..degradations import Degradation
from ..models import FranNet
from ..tiling import DEFAULT_CHUNK, DEFAULT_TILE, render_tiled
from .adaptive import sample_adaptive
from .common import DEFAULT_ADAPTIVE, DEFAULT_STEPS, DEFAULT_TEMPERATURE, MAX_SAMPLES, STEP_KEYS, VALIDATION, \
    Rendered, Sampling, interpolant, transitions
from .consistent import Observation, render_consistent
from .iterative import sample_pixels
from .single_step import render

__all__ = ["DEFAULT_ADAPTIVE", "DEFAULT_STEPS", "DEFAULT_TEMPERATURE", "MAX_SAMPLES", "STEP_KEYS", "VALIDATION",
           "Observation", "Rendered", "Sampling", "interpolant", "render", "render_counted", "render_iterative",
           "render_mean", "transitions"]


@torch.no_grad()
def render_counted(model: FranNet, lr: torch.Tensor, size: tuple[int, int], sampling: Sampling = Sampling(), *,
                   degradation: Degradation = Degradation(), tile: int = DEFAULT_TILE, chunk: int = DEFAULT_CHUNK,
                   progress=None, observation: Observation | None = None) -> Rendered:
    """Restore (3, h, w) ``lr`` to ``size`` = (H, W) with an iterative model: the mean of the
    samples and their per-pixel std, each (3, H, W), and the decoder evaluations per pixel.
    ``tile`` (input pixels) and ``degradation`` are as for ``render_tiled``; the result does not
    depend on ``tile`` or ``chunk`` (output pixels sampled at once, over all samples; with
    ``sampling.adaptive`` at least whole rows of adaptive tiles). With an ``Observation``, every
    step's estimate is projected onto it (DDNM; see ``consistent``)."""
    if not model.cfg.iterative:
        raise ValueError("this is a single-step model; the autoregressive and diffusion restorators need a model "
                         "trained for them")
    sampling = sampling.resolved(model.cfg, consistent=observation is not None)
    if observation is not None:
        mean, std = render_consistent(model, lr, size, sampling, observation, tile=tile, chunk=chunk,
                                      progress=progress, degradation=degradation)
        evaluations = torch.full(size, float(sampling.samples * transitions(model.cfg, sampling)))
        return Rendered(mean, std, evaluations)
    sample = sample_adaptive if sampling.adaptive else sample_pixels
    out = render_tiled(model, lr, size, degradation=degradation, tile=tile, chunk=max(1, chunk // sampling.samples),
                       progress=progress, channels=7, block=sampling.block,
                       decode=lambda enc, pos, pixels: sample(model, enc, pos, pixels, sampling))
    return Rendered(out[:3], out[3:6], out[6])


def render_iterative(model: FranNet, lr: torch.Tensor, size: tuple[int, int], sampling: Sampling = Sampling(),
                     **options) -> tuple[torch.Tensor, torch.Tensor]:
    """``render_counted`` (same keyword ``options``) without the evaluations: (mean, std)."""
    out = render_counted(model, lr, size, sampling, **options)
    return out.mean, out.std


def render_mean(model: FranNet, lr: torch.Tensor, size: tuple[int, int], *, degradation: Degradation = Degradation(),
                sampling: Sampling = VALIDATION) -> torch.Tensor:
    """(3, H, W): a single-step model's render, or an iterative model's mean over its samples."""
    if model.cfg.iterative:
        return render_counted(model, lr, size, sampling, degradation=degradation).mean
    return render(model, lr, size, degradation=degradation)
