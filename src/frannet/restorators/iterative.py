"""Iterative restorators: autoregressive (a walk along the Direction interpolant) and diffusion
(DDIM, or DDPM as DDIM with eta = 1 over every step), run independently at every output pixel.

Both work in a residual space: the answer is x0 = (colour - bicubic base) * residual_scale and
the source is x1 ~ N(0, I). The decoder reads the current value x_t and the time t and predicts
its interpolant's target (the direction x0 - x_t, or eps / v). The image is encoded once per
tile (``tiling.render_tiled``); each chunk of output pixels is then sampled by a closure over
that encoding and the chunk's positions. All randomness (the source and each step's noise) is
keyed to the absolute output pixel, so a seed gives the same image whatever the tiling or chunk
size. Several samples give a mean and a per-pixel standard deviation. With ``adaptive``, square
tiles of the output stop once their clean estimate has settled (``adaptive``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from ..config import MAX_SCHEDULE_STEPS, ModelConfig
from ..data import Batch, sample_generator
from ..models import FranNet
from ..models.sampling import sample_bicubic
from ..sampling import Diffusion, Direction, ddim, keyed_normal, timesteps, walk
from ..sampling.schedules import build as build_schedule
from ..tiling import DEFAULT_TILE, render_tiled
from .single_step import DEFAULT_CHUNK

STEP_KEYS = MAX_SCHEDULE_STEPS + 1  # noise keys per sample: 0 for the source, then sampler steps 1..T
MAX_SAMPLES = 1000
# What Sampling's None means, per restorator. With the bundled diffusion model, 2 steps with tiles
# stopping at adaptive 4 measured best (README, "Iterative restorators": the PSNR-Y of uniform 2
# steps, which more steps do not raise, with 31% fewer decoder evaluations). The walk is unmeasured.
DEFAULT_STEPS = {"diffusion": 2, "autoregressive": 10}
DEFAULT_ADAPTIVE = {"diffusion": 4.0, "autoregressive": 0.0}  # at the default steps only


@dataclass(frozen=True)
class Sampling:
    """How an iterative restorator samples (ignored parts: eta and skip by a walk, tol by diffusion)."""

    steps: int | None = None  # model evaluations per pixel and sample (None: DEFAULT_STEPS)
    eta: float = 0.0         # diffusion: DDIM's noise share (0 deterministic; 1 on all steps is DDPM)
    skip: str = "uniform"    # diffusion: step spacing, or "quadratic" (denser near the clean end)
    tol: float = 0.0         # autoregressive: a pixel stops once its step (residual units) is below this
    seed: int = 0
    samples: int = 1         # samples averaged; with 2 or more, their per-pixel std is the uncertainty
    adaptive: float | None = None  # a tile stops once its clean estimate's update has a noise std below this
    #                                (0-255; 0 off; None: DEFAULT_ADAPTIVE with the default steps, else off)
    adaptive_tile: int = 32  # the side of those tiles (output pixels)

    def __post_init__(self):
        for name, value in (("steps", 1 if self.steps is None else self.steps), ("samples", self.samples),
                            ("seed", self.seed), ("adaptive_tile", self.adaptive_tile)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if not 1 <= self.samples <= MAX_SAMPLES:
            raise ValueError(f"samples must be in [1, {MAX_SAMPLES}], got {self.samples}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not 0.0 <= self.eta <= 1.0:  # also refuses NaN
            raise ValueError(f"eta must be in [0, 1], got {self.eta!r}")
        if self.skip not in ("uniform", "quadratic"):
            raise ValueError(f"skip must be 'uniform' or 'quadratic', got {self.skip!r}")
        if not self.tol >= 0.0:
            raise ValueError(f"tol must be >= 0, got {self.tol!r}")
        if self.adaptive is not None and not self.adaptive >= 0.0:
            raise ValueError(f"adaptive must be >= 0, got {self.adaptive!r}")
        if self.adaptive_tile < 3:
            raise ValueError(f"adaptive_tile must be >= 3 (the noise estimate's mask), got {self.adaptive_tile}")
        if self.adaptive and self.tol:
            raise ValueError("stop early either per pixel (tol) or per tile (adaptive), not both")

    def resolved(self, cfg: ModelConfig, consistent: bool = False) -> Sampling:
        """These options for a model of ``cfg`` with the restorator's defaults for what is None;
        ``consistent`` (a consistency observation, which no tile may stop early under) keeps
        adaptive off unless asked for."""
        steps = DEFAULT_STEPS[cfg.restorator] if self.steps is None else self.steps
        adaptive = self.adaptive
        if adaptive is None:
            adaptive = DEFAULT_ADAPTIVE[cfg.restorator] if self.steps is None and not consistent else 0.0
        return replace(self, steps=steps, adaptive=adaptive)

    @property
    def block(self) -> int:
        """Output chunks must hold whole squares of this side (1: any chunk)."""
        return self.adaptive_tile if self.adaptive else 1


VALIDATION = Sampling(steps=4)  # what validation during training runs: cheap and deterministic


@dataclass(frozen=True)
class Rendered:
    """An iterative restorator's output: the mean and per-pixel std of its samples, (3, H, W) each,
    and the decoder evaluations spent on each output pixel, summed over the samples (H, W)."""

    mean: torch.Tensor
    std: torch.Tensor
    evaluations: torch.Tensor

    @property
    def total(self) -> int:
        return int(self.evaluations.sum().item())


def interpolant(cfg: ModelConfig) -> Direction | Diffusion:
    match cfg.restorator:
        case "autoregressive":
            return Direction()
        case "diffusion":
            return Diffusion(build_schedule(cfg.schedule, cfg.schedule_steps), cfg.target)
    raise ValueError(f"a {cfg.restorator!r} model has no interpolant (it is not iterative)")


def training_noise(seed: int, step: int, index: int) -> torch.Generator:
    """Sample ``index``'s stream of times and sources, apart from its data stream."""
    return sample_generator(seed, step, index + (1 << 40))


def training_pair(cfg: ModelConfig, batch: Batch, generators: Sequence[torch.Generator]):
    """(x_t, t, target) for a batch: per point a time t ~ U(0, 1) and a source x1 ~ N(0, I),
    drawn from each sample's generator; x0 is the target's scaled residual over the bicubic base."""
    h, w = batch.lr.shape[-2:]
    pos = batch.points.double() * torch.tensor([w, h], dtype=torch.float64, device=batch.points.device)
    base = sample_bicubic(batch.lr.permute(0, 2, 3, 1).contiguous(), pos - 0.5)
    x0 = (batch.target - base) * cfg.residual_scale
    n = x0.shape[1]
    t = torch.stack([torch.rand(n, generator=g) for g in generators]).to(x0)
    x1 = torch.stack([torch.randn(n, 3, generator=g) for g in generators]).to(x0)
    x_t, target = interpolant(cfg).train_pair(x0, t[..., None], x1)
    return x_t, t, target


def transitions(cfg: ModelConfig, sampling: Sampling) -> int:
    """Decoder evaluations per pixel and sample with nothing stopping early."""
    sampling = sampling.resolved(cfg)
    if cfg.restorator == "diffusion":
        return len(timesteps(cfg.schedule_steps, sampling.steps, sampling.skip)) - 1
    return sampling.steps


def sample_pixels(model: FranNet, enc, pos: torch.Tensor, pixels: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """(N, 7): the mean colour and the per-channel std over ``sampling.samples`` samples at
    positions ``pos`` (1, N, 2) (input pixels of ``enc``) of output pixels ``pixels`` (N, 2),
    and the decoder evaluations spent per pixel (summed over the samples)."""
    cfg, count = model.cfg, sampling.samples
    interp = interpolant(cfg)
    base = model.base(enc, pos)[0]
    # All samples in one batch, sample-major; sample k's noise is keyed (seed, k, step, pixel).
    pos_all = pos.repeat(1, count, 1)

    def noise(step: int, like: torch.Tensor) -> torch.Tensor:
        return torch.cat([keyed_normal(sampling.seed, k * STEP_KEYS + step, pixels) for k in range(count)]).to(like)

    x1 = noise(0, base)
    if isinstance(interp, Diffusion):
        # x0 estimates are clipped to the residuals of valid colours [0, 1] at each pixel.
        low, high = (-base * cfg.residual_scale).repeat(count, 1), ((1 - base) * cfg.residual_scale).repeat(count, 1)
        x = ddim(lambda v, t: model.query_pixels(enc, pos_all, v[None], t)[0], x1, interp, noise,
                 steps=sampling.steps, eta=sampling.eta, skip=sampling.skip, clip=(low, high))
        evals = torch.full((x.shape[0],), transitions(cfg, sampling))
    else:
        x, evals = walk(lambda v, t, idx: model.query_pixels(enc, pos_all[:, idx], v[None], t)[0], x1,
                    sampling.steps, tol=sampling.tol)
    return summarize(base.repeat(count, 1) + x / cfg.residual_scale, evals, count)


def summarize(colours: torch.Tensor, evals: torch.Tensor, count: int) -> torch.Tensor:
    """(N, 7) mean, std and evaluations of ``count`` samples' (count * N, 3) colours and (count * N,) evaluations."""
    colours = colours.view(count, -1, 3)
    std = colours.std(dim=0) if count > 1 else torch.zeros_like(colours[0])
    return torch.cat([colours.mean(dim=0), std, evals.view(count, -1).sum(dim=0, keepdim=True).T.to(std)], dim=1)


@torch.no_grad()
def render_iterative(model: FranNet, lr: torch.Tensor, size: tuple[int, int], sampling: Sampling = Sampling(),
                     tile: int = DEFAULT_TILE, chunk: int = DEFAULT_CHUNK, progress=None, noise: float = 0.0,
                     gray: bool = False, observation=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``render_counted`` without the evaluations: (mean, std)."""
    out = render_counted(model, lr, size, sampling, tile, chunk, progress, noise, gray, observation)
    return out.mean, out.std


@torch.no_grad()
def render_counted(model: FranNet, lr: torch.Tensor, size: tuple[int, int], sampling: Sampling = Sampling(),
                   tile: int = DEFAULT_TILE, chunk: int = DEFAULT_CHUNK, progress=None, noise: float = 0.0,
                   gray: bool = False, observation=None) -> Rendered:
    """Restore (3, h, w) ``lr`` to ``size`` = (H, W) with an iterative model: the mean of the
    samples and their per-pixel std, each (3, H, W). ``tile`` (input pixels), ``noise`` and
    ``gray`` are as for ``render_tiled``; the result does not depend on ``tile`` or ``chunk``
    (output pixels sampled at once, over all samples; with ``sampling.adaptive`` at least whole
    rows of adaptive tiles). With a ``consistent.Observation``, every step's estimate is projected
    onto it (DDNM; see ``consistent``)."""
    if not model.cfg.iterative:
        raise ValueError("this is a single-step model; the autoregressive and diffusion restorators need a model "
                         "trained for them")
    sampling = sampling.resolved(model.cfg, consistent=observation is not None)
    if observation is not None:
        from .consistent import render_consistent  # which builds on this module

        mean, std = render_consistent(model, lr, size, sampling, observation, tile=tile, chunk=chunk,
                                      progress=progress, noise=noise, gray=gray)
        evaluations = torch.full(size, float(sampling.samples * transitions(model.cfg, sampling)))
        return Rendered(mean, std, evaluations)
    sample = sample_pixels
    if sampling.adaptive:
        from .adaptive import sample_adaptive  # which builds on this module

        sample = sample_adaptive
    out = render_tiled(model, lr, size, tile=tile, chunk=max(1, chunk // sampling.samples),
                       progress=progress, noise=noise, gray=gray, channels=7, block=sampling.block,
                       decode=lambda enc, pos, pixels: sample(model, enc, pos, pixels, sampling))
    return Rendered(out[:3], out[3:6], out[6])
