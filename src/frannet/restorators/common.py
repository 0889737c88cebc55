"""What the restorators share: the sampling settings, each model's interpolant, the noise keyed
to output pixels, and the summary of several samples.

An iterative restorator works in a residual space: the answer is x0 = (colour - bicubic base) *
residual_scale and the source is x1 ~ N(0, I), times the sampling's temperature. Sample k's
noise at step s (0: the source, then sampler steps 1..T) is keyed to (seed, k * STEP_KEYS + s,
output pixel), so a seed gives the same image whatever the tiling or chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..config import MAX_SCHEDULE_STEPS, ModelConfig
from ..sampling import Constant, Diffusion, Direction, keyed_normal, timesteps
from ..sampling.schedules import build as build_schedule

STEP_KEYS = MAX_SCHEDULE_STEPS + 1  # noise keys per sample: 0 for the source, then sampler steps 1..T
MAX_SAMPLES = 1000
# What Sampling's None means, per restorator. With the bundled diffusion model, 2 steps with tiles
# stopping at adaptive 4 measured best (README, "Iterative restorators": the PSNR-Y of uniform 2
# steps, which more steps do not raise, with 31% fewer decoder evaluations). With the bundled walk,
# 4 steps from a source of std 0.3: one sample +1.17 dB PSNR-Y over bicubic at x4 on the
# held-out crops and sharper than the single-step output (its model card); at temperature 1 a
# sample is sharper still but 0.1 dB above bicubic.
DEFAULT_STEPS = {"diffusion": 2, "autoregressive": 4}
DEFAULT_ADAPTIVE = {"diffusion": 4.0, "autoregressive": 0.0}  # at the default steps only
DEFAULT_TEMPERATURE = {"diffusion": 1.0, "autoregressive": 0.3}


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
    temperature: float | None = None  # the source's std: below 1, samples nearer the mean, sharper than it
    #                                   (None: DEFAULT_TEMPERATURE)

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
        if self.temperature is not None and not 0.0 <= self.temperature <= 1.0:
            raise ValueError(f"temperature must be in [0, 1], got {self.temperature!r}")
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
        temperature = DEFAULT_TEMPERATURE[cfg.restorator] if self.temperature is None else self.temperature
        return replace(self, steps=steps, adaptive=adaptive, temperature=temperature)

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


def interpolant(cfg: ModelConfig) -> Constant | Direction | Diffusion:
    """The path a model's decoder learns to walk back: none for a single-step model (Constant)."""
    match cfg.restorator:
        case "single":
            return Constant()
        case "autoregressive":
            return Direction()
        case "diffusion":
            return Diffusion(build_schedule(cfg.schedule, cfg.schedule_steps), cfg.target)
    raise ValueError(f"unknown restorator {cfg.restorator!r}")


def transitions(cfg: ModelConfig, sampling: Sampling) -> int:
    """Decoder evaluations per pixel and sample with nothing stopping early."""
    sampling = sampling.resolved(cfg)
    if cfg.restorator == "diffusion":
        return len(timesteps(cfg.schedule_steps, sampling.steps, sampling.skip)) - 1
    return sampling.steps


def keyed_noise(sampling: Sampling, pixels: torch.Tensor, step: int) -> torch.Tensor:
    """(samples * N, 3) standard normal values of every sample at output ``pixels`` (N, 2) for
    sampler step ``step``, sample-major: sample k's are keyed (seed, k, step, pixel). Step 0's,
    the source, are scaled by the (resolved) sampling's temperature."""
    noise = torch.cat([keyed_normal(sampling.seed, k * STEP_KEYS + step, pixels) for k in range(sampling.samples)])
    return noise * sampling.temperature if step == 0 and sampling.temperature != 1.0 else noise


def x0_range(cfg: ModelConfig, base: torch.Tensor, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The residuals (low, high) of valid colours [0, 1] over ``base`` (N, 3), repeated for the
    samples: where diffusion clips its clean estimates."""
    return (-base * cfg.residual_scale).repeat(samples, 1), ((1 - base) * cfg.residual_scale).repeat(samples, 1)


def summarize(colours: torch.Tensor, evals: torch.Tensor, count: int) -> torch.Tensor:
    """(N, 7) mean, std and evaluations of ``count`` samples' (count * N, 3) colours and (count * N,) evaluations."""
    colours = colours.view(count, -1, 3)
    std = colours.std(dim=0) if count > 1 else torch.zeros_like(colours[0])
    return torch.cat([colours.mean(dim=0), std, evals.view(count, -1).sum(dim=0, keepdim=True).T.to(std)], dim=1)
