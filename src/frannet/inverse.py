"""Inpainting and compressed-sensing reconstruction, with the denoising model as the prior.

Both are linear inverse problems y = A x (A: a pixel mask, or block compressed sensing)
solved by plug-and-play projected denoising (``restorators.projected_denoising``): the
result agrees with every observed pixel or measurement exactly, and the bundled tunable
denoiser fills in the rest.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .consistency import Mask
from .degradations import Degradation
from .measurements import Measurements
from .models import FranNet
from .restorators.projected_denoising import Denoiser, geometric_sigmas, projected_denoising, smooth_start
from .tiling import DEFAULT_TILE, render_tiled

DEFAULT_STEPS = 8
SIGMAS = (15.0, 2.0)  # first and last noise level (0-255 scale); the smooth start is already within ~15


def model_denoiser(model: FranNet, tile: int = DEFAULT_TILE) -> Denoiser:
    """A tunable model as a denoiser of (3, H, W) images at a given sigma (0-255 scale)."""
    def denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
        return render_tiled(model, x, tuple(x.shape[-2:]), tile=tile, degradation=Degradation(sigma=sigma)).clamp(0.0, 1.0)
    return denoise


def inpaint_image(rgb: torch.Tensor, missing: torch.Tensor, denoise: Denoiser, steps: int = DEFAULT_STEPS,
                  progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """Fill the pixels of the (3, H, W) ``rgb`` where the (H, W) bool ``missing`` is True; the
    other pixels come back unchanged."""
    if tuple(missing.shape) != tuple(rgb.shape[-2:]):
        raise ValueError(f"the mask is {missing.shape[-1]}x{missing.shape[-2]} but the image is "
                         f"{rgb.shape[-1]}x{rgb.shape[-2]}; they must be the same size")
    op = Mask((~missing).to(rgb.dtype))
    y = op(rgb)
    out = projected_denoising(denoise, op, y, geometric_sigmas(*SIGMAS, steps), smooth_start(op, y), progress)
    return out.clamp(0.0, 1.0)


def reconstruct_image(measurements: Measurements, denoise: Denoiser, steps: int = DEFAULT_STEPS,
                      progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """The (3, H, W) photo whose block compressed-sensing measurements these are. Before the
    final clipping to [0, 1] (and the crop of the block padding) it reproduces them exactly."""
    op, y = measurements.operator, measurements.values.double()
    out = projected_denoising(lambda x, s: denoise(x.float(), s).double(), op, y,
                              geometric_sigmas(*SIGMAS, steps), smooth_start(op, y), progress)
    return out[:, :measurements.height, :measurements.width].float().clamp(0.0, 1.0)
