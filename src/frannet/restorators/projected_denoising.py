"""Plug-and-play projected denoising: solve y = A x with a denoiser as the image prior.

DDNM's range-null-space loop without a diffusion model. Start from x = A+ y (or a given
start) and repeat, for noise levels sigma_1 > sigma_2 > ... > sigma_K:

    x <- x_d + A+ (y - A x_d),   x_d = denoise(x, sigma_k)

The denoiser removes what does not look like a photo at a level that shrinks step by step;
the projection puts back exactly what was observed and keeps the denoiser's guess only where
A sees nothing (its null space). So the result always agrees with y (A x = y), and each step
fills in the unobserved part a little more like a photo.

The photo denoiser only removes noise-like errors, and A+ y leaves the unobserved part at
zero, far from any photo. ``smooth_start`` first runs the same loop with a small Gaussian
blur as the denoiser (cheap, a few dozen rounds): a smooth image that agrees with y, whose
remaining error is moderate and which the photo denoiser then sharpens from a low sigma.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..consistency import Operator
from ..degradations import gaussian_blur

Denoiser = Callable[[torch.Tensor, float], torch.Tensor]  # (image, sigma on the 0-255 scale) -> image


def geometric_sigmas(first: float = 50.0, last: float = 3.0, steps: int = 16) -> tuple[float, ...]:
    """``steps`` noise levels (0-255 scale) from ``first`` down to ``last``, evenly spaced in log."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0 < last <= first:
        raise ValueError(f"sigmas must satisfy 0 < last <= first, got {first} -> {last}")
    if steps == 1:
        return (float(last),)
    ratio = math.log(last / first) / (steps - 1)
    return tuple(first * math.exp(ratio * k) for k in range(steps))


def projected_denoising(denoise: Denoiser, operator: Operator, y: torch.Tensor, sigmas,
                        start: torch.Tensor | None = None, progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """An x with A x = y (to float precision) that the denoiser finds clean; see the module doc.

    ``start`` (default A+ y) is projected before the first step; ``progress`` is called with 1
    after each step.
    """
    x = operator.pinv(y) if start is None else operator.project(start, y)
    for sigma in sigmas:
        x = operator.project(denoise(x, float(sigma)), y)
        if progress is not None:
            progress(1)
    return x


def smooth_start(operator: Operator, y: torch.Tensor, rounds: int = 50) -> torch.Tensor:
    """A smooth image that agrees with y: the loop with a 1-pixel Gaussian blur as the denoiser."""
    return projected_denoising(lambda x, _: gaussian_blur(x), operator, y, (0.0,) * rounds)
