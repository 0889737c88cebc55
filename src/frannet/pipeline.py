"""Restore one picture: upscale, denoise, colorize, or all at once, with the right model for each.

Which model runs:
  * colorize (with or without noise and upscaling): the colour model, FranNet's combined task
    in one pass; the gray input is the picture's luma;
  * noisy colour or gray input: the denoising model at the input size, then, if a larger
    output is asked for, the super-resolution model on the clean result;
  * clean input: the super-resolution model.
The noise level is the user's dial (sigma on the 0-255 scale) or, when not given, estimated
from the picture (``noise_estimate``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import load_model
from .config import RESTORATORS
from .consistency import BicubicDown, Compose, Gray
from .degradations import LUMA, to_gray
from .io import Picture
from .models import FranNet
from .noise_estimate import estimate_noise
from .parsing import MAX_NOISE
from .restorators.iterative import Sampling, render_iterative
from .tiling import DEFAULT_TILE, render_tiled

WEIGHTS = Path(__file__).parent / "weights"
BUNDLED = {"upscale": WEIGHTS / "frannet-sr.safetensors",
           "denoise": WEIGHTS / "frannet-denoise.safetensors",
           "colorize": WEIGHTS / "frannet-color.safetensors"}
CLEAN = 0.5  # estimated sigmas below this (0-255 scale) are treated as a clean input
ALPHA_EPS = 1e-3  # below this alpha a pixel's colour is moot (written as 0), and dividing by it is noise


@dataclass
class Models:
    """The model per stage, loaded on first use: a path, a loaded FranNet, or None (bundled).
    Safe to share between threads (the web page's workers): each model is loaded once."""

    upscale: FranNet | str | Path | None = None
    denoise: FranNet | str | Path | None = None
    colorize: FranNet | str | Path | None = None
    _loaded: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def get(self, stage: str) -> FranNet:
        with self._lock:
            if stage not in self._loaded:
                given = getattr(self, stage)
                self._loaded[stage] = given if isinstance(given, FranNet) else load_model(given or BUNDLED[stage])
            return self._loaded[stage]


@dataclass(frozen=True)
class Job:
    """What to do to one picture."""

    width: int
    height: int
    noise: float | None = 0.0     # input noise sigma (0-255); None: estimate it from the picture
    colorize: bool = False
    consistency: bool = False     # the output agrees exactly with the input under the degradation
    tile: int = DEFAULT_TILE
    restorator: str | None = None  # asked for: the last stage's model must be of this kind (None: any)
    sampling: Sampling = Sampling()  # for iterative models

    def __post_init__(self):
        if self.restorator not in (None, *RESTORATORS):
            raise ValueError(f"restorator must be one of {', '.join(RESTORATORS)}, got {self.restorator!r}")


def _render(model: FranNet, lr: torch.Tensor, size, job: Job, progress, last: bool = False, **condition):
    """One stage: its (3, H, W) output and, from an iterative model, the per-pixel std of its samples.

    The ``last`` stage's model must match the restorator asked for, and sampling options need an
    iterative model there.
    """
    kind = model.cfg.restorator
    if last and job.restorator not in (None, kind):
        name = {"single": "single-step"}
        raise ValueError(f"the {name.get(job.restorator, job.restorator)} restorator needs a model trained for it, "
                         f"but this model is {name.get(kind, kind)}: pass one with --model")
    if kind == "single":
        if last and job.sampling != Sampling():
            raise ValueError("steps, eta, seed and samples are for the autoregressive and diffusion restorators "
                             "(and their models)")
        return render_tiled(model, lr, size, tile=job.tile, progress=progress, **condition), None
    return render_iterative(model, lr, size, job.sampling, tile=job.tile, progress=progress, **condition)


def _is_gray(rgb: torch.Tensor) -> bool:
    return bool(torch.equal(rgb[0], rgb[1]) and torch.equal(rgb[1], rgb[2]))


def _denoise(model: FranNet, rgb: torch.Tensor, sigma: float, job: Job, progress, last: bool):
    """The denoised (3, H, W) image (a gray photo stays exactly gray) and its std, if sampled."""
    out, std = _render(model, rgb, tuple(rgb.shape[-2:]), job, progress, last, noise=sigma)
    if _is_gray(rgb):
        out = out.mean(dim=0, keepdim=True).expand(3, -1, -1).contiguous()
    return out.clamp(0.0, 1.0), std


def _resize_alpha(alpha: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic like the models' base (grid_sample's), so an opaque colour un-premultiplies exactly."""
    if tuple(alpha.shape) == size:
        return alpha
    return F.interpolate(alpha[None, None], size=size, mode="bicubic", align_corners=False)[0, 0].clamp(0.0, 1.0)


def restore_picture(picture: Picture, job: Job, models: Models | None = None, progress=None) -> Picture:
    """The restored picture at job.width x job.height.

    With alpha, colour is restored premultiplied (rgb * alpha) and alpha resized on its own,
    then divided out: the arbitrary (often black) colour of transparent pixels would otherwise
    bleed into the edges as a dark halo.
    ``progress`` (optional) is called with the number of output pixels finished by the last stage.
    """
    models = models or Models()
    straight = torch.from_numpy(np.ascontiguousarray(picture.rgb)).permute(2, 0, 1)
    alpha = None if picture.alpha is None else torch.from_numpy(np.ascontiguousarray(picture.alpha))
    lr = straight if alpha is None else straight * alpha
    size, in_size = (job.height, job.width), tuple(lr.shape[-2:])
    sigma = float(job.noise) if job.noise is not None else estimate_noise(straight)
    if job.noise is None:  # an estimate: below CLEAN is no noise, above the trained range is its top
        sigma = 0.0 if sigma < CLEAN else min(sigma, MAX_NOISE)
    if job.colorize:
        gray = to_gray(lr)
        rgb, std = _render(models.get("colorize"), gray, size, job, progress, True, noise=sigma, gray=True)
        if sigma == 0:  # the luma is observed exactly: keep it (range-null-space projection)
            luma = Gray(LUMA)
            op = luma if size == in_size else Compose(luma, BicubicDown(size, in_size))
            rgb = op.project_valid(rgb, luma(gray))
    else:
        same_size = size == in_size
        if sigma > 0:
            lr, std = _denoise(models.get("denoise"), lr, sigma, job, progress if same_size else None, same_size)
        if sigma > 0 and same_size:
            rgb = lr
        else:
            rgb, std = _render(models.get("upscale"), lr, size, job, progress, True)
            if job.consistency:
                rgb = BicubicDown(size, in_size).project_valid(rgb, lr)
    rgb = rgb.clamp(0.0, 1.0)
    if alpha is not None:
        alpha = _resize_alpha(alpha, size)
        rgb = torch.where(alpha > ALPHA_EPS, rgb / alpha.clamp(min=ALPHA_EPS), 0.0).clamp(0.0, 1.0)
        alpha = alpha.numpy()
    info = dict(picture.info)
    if picture.gray and job.colorize:  # a gray profile does not describe colour
        info.pop("icc_profile", None)
    return Picture(rgb=rgb.permute(1, 2, 0).numpy(), alpha=alpha, bits=picture.bits, info=info,
                   gray=picture.gray and not job.colorize, std=None if std is None else std.mean(dim=0).numpy())
