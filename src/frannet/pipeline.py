"""Restore one picture: upscale, denoise, colorize, or all at once, with the right model for each.

Which model runs:
  * noisy colour or gray input: the denoising model at the input size, then, if a larger
    output is asked for, the super-resolution model on the clean result;
  * clean input: the super-resolution model;
  * colorize (with or without noise and upscaling): the picture's luma is restored as above,
    then the colour model colours it at the output size and the luma is kept exactly. The
    colour model could do FranNet's combined task in one pass, but on the held-out photos
    (gray, x4 smaller, sigma 25) the chain's luma is 0.8 dB better and its colour 0.7 dB; clean
    and x4 smaller, the chain beats the gray bicubic upscale and one pass does not (README).
The noise level is the user's dial (sigma on the 0-255 scale) or, when not given, estimated
from the picture (``noise_estimate``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_model
from .config import RESTORATORS
from .consistency import BicubicDown, Gray
from .degradations import LUMA, to_gray
from .ensemble import views
from .io import Picture
from .models import FranNet
from .noise_estimate import estimate_noise
from .parsing import MAX_NOISE
from .restorators.consistent import Observation
from .restorators.iterative import Sampling, render_counted
from .memory import DEFAULT_MAX_MEMORY, working_memory
from .tiling import auto_tile, render_bands, render_tiled
from .transparency import fill_hidden, resize_alpha

WEIGHTS = Path(__file__).parent / "weights"
BUNDLED = {"upscale": WEIGHTS / "frannet-sr.safetensors",
           "denoise": WEIGHTS / "frannet-denoise.safetensors",
           "colorize": WEIGHTS / "frannet-color.safetensors",
           "diffusion": WEIGHTS / "frannet-diffusion.safetensors"}
CLEAN = 0.5  # estimated sigmas below this (0-255 scale) are treated as a clean input
DENOISED_BAND = 256  # rows per band when a denoised image is streamed out as it is


@dataclass
class Models:
    """The model per stage, loaded on first use: a path, a loaded FranNet, or None (bundled).
    Safe to share between threads (the web page's workers): each model is loaded once."""

    upscale: FranNet | str | Path | None = None
    denoise: FranNet | str | Path | None = None
    colorize: FranNet | str | Path | None = None
    diffusion: FranNet | str | Path | None = None  # upscales when the diffusion restorator is asked for
    bf16: bool = False  # run the models in bfloat16 where measured harmless (``FranNet.set_bf16``)
    _loaded: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def get(self, stage: str) -> FranNet:
        with self._lock:
            if stage not in self._loaded:
                given = getattr(self, stage)
                self._loaded[stage] = given if isinstance(given, FranNet) else load_model(given or BUNDLED[stage])
                if self.bf16:
                    self._loaded[stage].set_bf16(True)
            return self._loaded[stage]


@dataclass(frozen=True)
class Job:
    """What to do to one picture."""

    width: int
    height: int
    noise: float | None = 0.0     # input noise sigma (0-255); None: estimate it from the picture
    colorize: bool = False
    consistency: bool = False     # the output agrees exactly with the input under the degradation
    tile: int | None = None       # encoder tile side in input pixels; None: the largest that fits max_memory
    max_memory: int = DEFAULT_MAX_MEMORY  # bytes the process's peak aims for (the automatic tile size fits it)
    restorator: str | None = None  # asked for: the last stage's model must be of this kind (None: any)
    sampling: Sampling = Sampling()  # for iterative models
    region: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1): only this window of the output
    progressive: bool = False     # upscale in steps of at most x2 (measured: one shot is better, see README)
    ensemble: int = 1             # mirror views restored and averaged (1, 2, 4 or 8): slower, a little better

    def __post_init__(self):
        views(self.ensemble)  # refuses a count that is not a whole set of views
        if self.restorator not in (None, *RESTORATORS):
            raise ValueError(f"restorator must be one of {', '.join(RESTORATORS)}, got {self.restorator!r}")
        if self.region is not None:
            x0, y0, x1, y1 = self.region
            if not (0 <= x0 < x1 <= self.width and 0 <= y0 < y1 <= self.height):
                raise ValueError(f"region {x0},{y0},{x1},{y1} is not a window inside the {self.width}x{self.height} "
                                 f"output (x0 < x1 <= width, y0 < y1 <= height)")
            if self.colorize or self.consistency:
                raise ValueError("--region renders a window on its own, which --colorize and --consistency (they "
                                 "need the whole output) do not allow")

    @property
    def window(self) -> tuple[int, int, int, int]:
        """The part of the output rendered: the region, or all of it."""
        return self.region or (0, 0, self.width, self.height)


def _render(model: FranNet, lr: torch.Tensor, size, job: Job, progress, last: bool = False,
            observation: Observation | None = None, **condition):
    """One stage: its (3, H, W) output and, from an iterative model, the per-pixel std of its samples
    and the decoder evaluations spent per output pixel (else None and None).

    The ``last`` stage's model must match the restorator asked for, and sampling options need an
    iterative model there. An iterative model projects every step onto the ``observation`` (DDNM);
    a single-step one's output is projected by the caller.
    """
    kind = model.cfg.restorator
    if last and job.restorator not in (None, kind):
        name = {"single": "single-step"}
        raise ValueError(f"the {name.get(job.restorator, job.restorator)} restorator needs a model trained for it, "
                         f"but this model is {name.get(kind, kind)}: pass one with --model")
    region = job.region if last else None
    if kind == "single":
        if last and job.sampling != Sampling():
            raise ValueError("steps, eta, seed, samples and adaptive are for the autoregressive and diffusion restorators "
                             "(and their models)")
        return _render_views(model, lr, size, job, progress, region, condition), None, None
    if job.ensemble > 1:
        raise ValueError("--ensemble is for the single-step restorator; an iterative one averages --samples instead")
    if region is not None:
        raise ValueError("--region works with the single-step restorator only, for now")
    out = render_counted(model, lr, size, job.sampling, tile=_tile(model, lr, size, job), progress=progress,
                         observation=observation, **condition)
    return out.mean, out.std, out.evaluations


def _render_views(model: FranNet, lr: torch.Tensor, size, job: Job, progress, region, condition: dict) -> torch.Tensor:
    """A single-step model's output: the mean over the job's ensemble of views (``ensemble``)."""
    chosen = views(job.ensemble)
    share = progress if progress is None or len(chosen) == 1 else lambda n: progress(n / len(chosen))
    total = None
    for view in chosen:
        seen, seen_size = view.apply(lr), view.size(size)
        out = view.undo(render_tiled(model, seen, seen_size, tile=_tile(model, seen, seen_size, job), progress=share,
                                     region=view.region(region, size), **condition))
        total = out if total is None else total.add_(out)
    return total.div_(len(chosen))


def progressive_sizes(in_size: tuple[int, int], out_size: tuple[int, int]) -> list[tuple[int, int]]:
    """(height, width) after each step of at most x2 per axis, the factor spread evenly in log
    over the steps (x8 is x2 x2 x2; x3 is x1.73 x1.73); the last is ``out_size``."""
    steps = max(1, max(math.ceil(math.log2(o / i) - 1e-9) for i, o in zip(in_size, out_size)))
    return [tuple(max(1, round(i * (o / i) ** (k / steps))) for i, o in zip(in_size, out_size))
            for k in range(1, steps + 1)]


def _upscaler(models: Models, job: Job) -> FranNet:
    """The upscaling model: the diffusion one when that restorator is asked for and a diffusion
    model or no upscaling model was given, else the single-step (or given) one."""
    if job.restorator == "diffusion" and (models.diffusion is not None or models.upscale is None):
        return models.get("diffusion")
    return models.get("upscale")


def _tile(model: FranNet, lr: torch.Tensor, size, job: Job) -> int:
    return job.tile or auto_tile(model.cfg, tuple(lr.shape[-2:]), size, working_memory(job.max_memory))


def _is_gray(rgb: torch.Tensor) -> bool:
    return bool(torch.equal(rgb[0], rgb[1]) and torch.equal(rgb[1], rgb[2]))


def _denoise(model: FranNet, rgb: torch.Tensor, sigma: float, job: Job, progress, last: bool):
    """The denoised (3, H, W) image (a gray photo stays exactly gray), its std and evaluations, if sampled."""
    out, std, evaluations = _render(model, rgb, tuple(rgb.shape[-2:]), job, progress, last, noise=sigma)
    if _is_gray(rgb):
        out = out.mean(dim=0, keepdim=True).expand(3, -1, -1).contiguous()
    return out.clamp(0.0, 1.0), std, evaluations


def _denoise_first(models: Models, given: _Input, job: Job, size, progress, last: bool = True):
    """The input with its noise removed (the first stage): (image, its std and evaluations if
    sampled, whether it is already at the output size, i.e. denoising needs no upscaling)."""
    lr = given.colour
    if given.sigma == 0:
        return lr, None, None, False
    at_size = size == tuple(lr.shape[-2:])
    final = at_size and last
    out, std, evaluations = _denoise(models.get("denoise"), lr, given.sigma, job, progress if final else None, final)
    return out, std, evaluations, at_size


def _denoise_and_upscale(models: Models, given: _Input, job: Job, size, progress, last: bool = True):
    """The picture denoised and upscaled to ``size``: (image, its std and evaluations if sampled)."""
    in_size = tuple(given.colour.shape[-2:])
    rgb, std, evaluations, at_size = _denoise_first(models, given, job, size, progress, last)
    if at_size:
        return rgb, std, evaluations
    lr, upscaler = rgb, _upscaler(models, job)
    down = BicubicDown(size, in_size) if job.consistency else None  # what the models learn to invert
    observed = Observation(down, lr) if down is not None else None
    for stage_size in progressive_sizes(in_size, size)[:-1] if job.progressive else ():
        lr = _render(upscaler, lr, stage_size, job, None)[0].clamp(0.0, 1.0)
    rgb, std, evaluations = _render(upscaler, lr, size, job, progress if last else None, last, observed)
    if down is not None:  # exact already from an iterative model; this also keeps it in [0, 1]
        rgb = down.project_valid(rgb, observed.y)
    return rgb, std, evaluations


@dataclass
class _Input:
    colour: torch.Tensor           # (3, h, w) as read, the colour of transparent pixels filled in (``transparency``)
    alpha: torch.Tensor | None     # (h, w)
    sigma: float                   # the noise level to remove (0-255 scale)


def _prepare(picture: Picture, job: Job) -> _Input:
    straight = torch.from_numpy(np.ascontiguousarray(picture.rgb)).permute(2, 0, 1)
    alpha = None if picture.alpha is None else torch.from_numpy(np.ascontiguousarray(picture.alpha))
    sigma = float(job.noise) if job.noise is not None else estimate_noise(straight)
    if job.noise is None:  # an estimate: below CLEAN is no noise, above the trained range is its top
        sigma = 0.0 if sigma < CLEAN else min(sigma, MAX_NOISE)
    return _Input(straight if alpha is None else fill_hidden(straight, alpha), alpha, sigma)


def _output_info(picture: Picture, job: Job) -> dict:
    info = dict(picture.info)
    if picture.gray and job.colorize:  # a gray profile does not describe colour
        info.pop("icc_profile", None)
    return info


def restore_picture(picture: Picture, job: Job, models: Models | None = None, progress=None) -> Picture:
    """The restored picture at job.width x job.height.

    With alpha, the colour of transparent pixels is first taken from their visible neighbours,
    so their arbitrary (often black) colour does not bleed into the edges, and alpha is resized
    on its own (``transparency``).
    ``progress`` (optional) is called with the number of output pixels finished by the last stage.
    """
    models = models or Models()
    given = _prepare(picture, job)
    size = (job.height, job.width)
    if job.colorize:  # the luma first (denoised, upscaled), then its colours at the output size
        given = replace(given, colour=to_gray(given.colour))
        gray = given.colour
        if given.sigma > 0 or size != tuple(gray.shape[-2:]):
            gray = to_gray(_denoise_and_upscale(models, given, job, size, None, last=False)[0].clamp(0.0, 1.0))
        luma = Gray(LUMA)
        observed = Observation(luma, luma(gray)) if job.consistency else None
        rgb, std, evaluations = _render(models.get("colorize"), gray, size, job, progress, True, observed, gray=True)
        rgb = luma.project_valid(rgb, luma(gray))  # the luma is known exactly: keep it (range-null-space)
    else:
        rgb, std, evaluations = _denoise_and_upscale(models, given, job, size, progress)
    rgb, alpha = rgb.clamp(0.0, 1.0), None
    if given.alpha is not None:
        x0, y0, x1, y1 = job.window
        alpha = resize_alpha(given.alpha, size, slice(y0, y1), slice(x0, x1)).numpy()
    return Picture(rgb=rgb.permute(1, 2, 0).numpy(), alpha=alpha, bits=picture.bits, info=_output_info(picture, job),
                   gray=picture.gray and not job.colorize, std=None if std is None else std.mean(dim=0).numpy(),
                   evaluations=None if evaluations is None else evaluations.numpy())


def restore_bands(picture: Picture, job: Job, models: Models | None = None,
                  progress=None) -> tuple[Picture, Iterator[tuple[np.ndarray, np.ndarray | None]]]:
    """``restore_picture`` for outputs too large to hold: the output's header (a Picture whose
    rgb is empty; its bits, info and gray flag) and an iterator over bands of output rows, top
    to bottom, each (rgb (rows, W, 3), alpha (rows, W) or None). The bands equal the rows of
    ``restore_picture``'s result. Single-step upscaling and denoising only: the consistency
    projection and colorization need the whole output at once."""
    if job.colorize or job.consistency:
        raise ValueError("outputs this large are written band by band, which --colorize and --consistency "
                         "(they need the whole output at once) do not support yet")
    size = (job.height, job.width)
    if job.ensemble > 1 and size != picture.rgb.shape[:2]:
        raise ValueError("outputs this large are upscaled band by band, which --ensemble does not support yet "
                         "(denoising at the input size does)")
    models = models or Models()
    given = _prepare(picture, job)
    model = _upscaler(models, job)
    lr, _, _, finished = _denoise_first(models, given, job, size, None)
    if model.cfg.restorator != "single" or job.restorator not in (None, "single"):
        raise ValueError("outputs this large are written band by band, which only the single-step restorator does yet")
    x0, y0, x1, y1 = job.window

    def rows():  # (first row, (3, rows, x1 - x0) band) of the output before alpha
        if finished:  # denoising only: the denoised image (already cut to the window) is the output
            yield from ((y0 + r, lr[:, r:r + DENOISED_BAND]) for r in range(0, y1 - y0, DENOISED_BAND))
        else:
            yield from render_bands(model, lr, size, tile=_tile(model, lr, size, job), region=job.region,
                                    progress=progress)

    def bands():  # a band is large: it is clamped in place, and let go of once handed on
        for r0, rgb in rows():
            rgb, alpha = rgb.clamp_(0.0, 1.0), None
            if given.alpha is not None:
                alpha = resize_alpha(given.alpha, size, slice(r0, r0 + rgb.shape[1]), slice(x0, x1)).numpy()
            yield rgb.permute(1, 2, 0).numpy(), alpha
            del rgb, alpha

    header = Picture(rgb=np.zeros((0, x1 - x0, 3), np.float32), bits=picture.bits, info=_output_info(picture, job),
                     gray=picture.gray)
    return header, bands()
