"""Restore one picture: upscale, denoise, colorize, or all at once, with the right model for each.

Planning and running are apart. ``plan(job, degradation, models)`` is a pure function from what
is asked (the ``Job``), what happened to the input (a ``Degradation``) and what the models are
(their ``ModelDescriptor``s) to the list of ``Stage``s that will run, and it refuses an
impossible combination with a one-line ValueError before any work. ``restore_picture`` (the
output held whole) and ``restore_bands`` (written band by band) both run that plan.

The measured policy lives in ``plan`` alone:
  * noisy colour or gray input: the denoising model at the input size, then, if a larger
    output is asked for, the super-resolution model on the clean result;
  * clean input: the super-resolution model (at x1 when nothing else is asked);
  * colorize (with or without noise and upscaling): the picture's luma is restored as above,
    then the colour model colours it at the output size and the luma is kept exactly. The
    colour model could do FranNet's combined task in one pass, but on the held-out photos
    (gray, x4 smaller, sigma 25) the chain's luma is 0.8 dB better and its colour 0.7 dB; clean
    and x4 smaller, the chain beats the gray bicubic upscale and one pass does not (README);
  * a JPEG input: the super-resolution model told its quality, at x1 too (where it removes the
    artefacts alone); it must read the JPEG condition. Noise given or found on a JPEG is
    removed first, and the upscaler is then told no JPEG: the denoised image is no longer one.
The noise level is the user's dial (sigma on the 0-255 scale) or, when not given, estimated
from the picture (``noise_estimate``). The estimate is not misled by JPEG artefacts, so it
stands on JPEGs too: on the 5 data/val photos downscaled x2 and saved by Pillow, it reads lower
than on the same photo uncompressed in all 20 files (q30: 0.02-0.47; q50: 0.04-0.52; q75:
0.15-0.60; q90: 0.29-0.70; uncompressed: 0.24-1.82): compression smooths noise away. On a JPEG
whose quality the upscaler is told, an estimate below JPEG_CLEAN (3) is taken as clean: the
denoiser would barely change a photo's own faint noise (+0.01 to +0.04 dB on the 6 of those 20
files that read 0.5 or more) and would take the artefact removal's place; above it, the photo
is noisy and the denoiser runs first.
The JPEG quality is the user's (``Job.jpeg``), or, for "auto", read from the file's
quantization tables, else estimated from the pixels when they fit a quality's table
(``jpeg_quality``); "auto" with an upscaler that reads no JPEG condition tells nothing.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoint import TASK_NOUNS, CheckpointError, ModelDescriptor, derive_descriptor, describe, load_model
from .config import ENGINES, RESTORATORS
from .consistency import BicubicDown, Gray
from .degradations import LUMA, Degradation, to_gray
from .ensemble import views
from .grayness import is_gray
from .io import Picture
from .jpeg_cells import cells, hold_to_jpeg
from .jpeg_quality import quality_from_pixels, table_quality
from .models import FranNet, native_bf16
from .models.ncnn_encoder import import_ncnn
from .noise_estimate import estimate_noise
from .parsing import MAX_NOISE
from .restorators import Observation, Sampling, render_counted
from .memory import DEFAULT_MAX_MEMORY, working_memory
from .tiling import auto_tile, render_bands, render_tiled
from .transparency import fill_hidden, resize_alpha

WEIGHTS = Path(__file__).parent / "weights"
BUNDLED = {"upscale": WEIGHTS / "frannet-sr.safetensors",
           "denoise": WEIGHTS / "frannet-denoise.safetensors",
           "colorize": WEIGHTS / "frannet-color.safetensors",
           "diffusion": WEIGHTS / "frannet-diffusion.safetensors",
           "autoregressive": WEIGHTS / "frannet-autoregressive.safetensors"}
SLOT_TASKS = {"upscale": "upscale", "denoise": "denoise", "colorize": "colorize", "diffusion": "upscale",
              "colorize_diffusion": "colorize", "autoregressive": "upscale"}
# The slots each iterative restorator takes a task's model from; left empty, each is filled by the
# model given for its task (which must then be of that restorator), else the bundled one, if any.
ITERATIVE_SLOTS = {"diffusion": {"upscale": "diffusion", "colorize": "colorize_diffusion"},
                   "autoregressive": {"upscale": "autoregressive"}}
SLOT_RESTORATORS = {slot: kind for kind, slots in ITERATIVE_SLOTS.items() for slot in slots.values()}
CLEAN = 0.5  # estimated sigmas below this (0-255 scale) are treated as a clean input
JPEG_CLEAN = 3.0  # the same on a JPEG whose quality the upscaler is told (see the module's docstring)
DENOISED_BAND = 256  # rows per band when a denoised image is streamed out as it is


@dataclass
class Models:
    """The model per slot, loaded on first use: a path, a loaded FranNet, or None (bundled).

    A slot holds a model of its task (the ``diffusion``, ``colorize_diffusion`` and
    ``autoregressive`` slots: the models the iterative restorators run, ``ITERATIVE_SLOTS``;
    empty, each is the model given for its task if there is one, else the bundled one:
    frannet-diffusion and frannet-autoregressive upscale, and no diffusion colour model is
    bundled yet). A file's task is what its descriptor says
    (``checkpoint.describe``); given to a slot of another task, it is a one-line CheckpointError.
    A loaded FranNet is taken to be of its slot's task. Safe to share between threads (the web
    page's workers): each model is described and loaded once."""

    upscale: FranNet | str | Path | None = None
    denoise: FranNet | str | Path | None = None
    colorize: FranNet | str | Path | None = None
    diffusion: FranNet | str | Path | None = None  # upscales when the diffusion restorator is asked for
    colorize_diffusion: FranNet | str | Path | None = None  # colours when the diffusion restorator is asked for
    autoregressive: FranNet | str | Path | None = None  # upscales when the autoregressive restorator is asked for
    bf16: bool | None = None  # bfloat16 where measured harmless (``FranNet.set_bf16``); None: ``precision_for``
    engine: str = "torch"  # what runs the encoders' CNN: "torch" or "ncnn" (``FranNet.set_engine``)
    _loaded: dict = field(default_factory=dict, repr=False)
    _described: dict = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.engine == "ncnn":
            import_ncnn()  # a missing package is an ImportError now, not at the first picture

    def _source(self, slot: str) -> tuple[str, FranNet | str | Path]:
        """(the slot that fills ``slot``, its model or file)."""
        if slot not in SLOT_TASKS:
            raise KeyError(slot)
        given = getattr(self, slot)
        if given is not None:
            return slot, given
        task = SLOT_TASKS[slot]
        if slot in SLOT_RESTORATORS and getattr(self, task) is not None:
            return task, getattr(self, task)  # the task's given model, which must then be of the slot's restorator
        if slot not in BUNDLED:
            raise CheckpointError(f"no {TASK_NOUNS[task]} model for the {SLOT_RESTORATORS[slot]} restorator is "
                                  f"bundled yet: pass one with --model")
        return slot, BUNDLED[slot]

    def describe(self, slot: str) -> ModelDescriptor:
        """What the model of ``slot`` is, from its file's header (the weights are not loaded)."""
        owner, source = self._source(slot)
        with self._lock:
            if owner not in self._described:
                task = SLOT_TASKS[owner]
                if isinstance(source, FranNet):
                    described = derive_descriptor(source.cfg, task=task)
                else:
                    described = describe(source)
                    if described.task != task:
                        raise CheckpointError(f"{source} is {article(TASK_NOUNS[described.task])} model (its file "
                                              f"says task {described.task}), not {article(TASK_NOUNS[task])} one")
                self._described[owner] = described
            return self._described[owner]

    @property
    def descriptors(self) -> Mapping[str, ModelDescriptor]:
        """Slot -> descriptor, each read when first looked up: what ``plan`` takes."""
        return _Descriptors(self)

    def get(self, slot: str) -> FranNet:
        owner, source = self._source(slot)
        with self._lock:
            if owner not in self._loaded:
                self.describe(owner)  # a file of another task is refused before its weights are read
                model = source if isinstance(source, FranNet) else load_model(source)
                bf16 = self.precision_for(owner, model, given=model is source) == "bfloat16"
                if bf16 or self.engine != "torch":
                    model = copy.deepcopy(model) if model is source else model  # the caller's stays as it was
                    if bf16:
                        model.set_bf16(True)
                    if self.engine != "torch":
                        model.set_engine(self.engine)
                self._loaded[owner] = model
            return self._loaded[owner]

    def precision_for(self, slot: str, model: FranNet, given: bool = False) -> str:
        """"bfloat16" or "float32" for ``slot``'s ``model``: as ``bf16`` asks, or when it is None,
        bfloat16 where it was measured, on a CPU with native bfloat16 (``native_bf16``): a
        single-step upscaler or denoiser loaded from a file, 1.7x faster for 0.001 dB (x4) and
        0.003 dB (denoising) of PSNR on the held-out photos (README). A FranNet the caller
        ``given`` runs as it is set unless asked. (The inverse problems, whose denoiser runs
        dozens of rounds, ask for float32: bfloat16 was not measured there.)"""
        if self.bf16 is not None:
            return "bfloat16" if self.bf16 else "float32"
        measured = slot in ("upscale", "denoise") and not model.cfg.iterative
        return "bfloat16" if measured and not given and native_bf16() else "float32"


class _Descriptors(Mapping):
    def __init__(self, models: Models):
        self._models = models

    def __getitem__(self, slot: str) -> ModelDescriptor:
        return self._models.describe(slot)

    def __iter__(self):
        return iter(SLOT_TASKS)

    def __len__(self) -> int:
        return len(SLOT_TASKS)


def article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _kind(restorator: str) -> str:
    return "single-step" if restorator == "single" else restorator


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
    force: bool = False           # colorize a colour picture too (its luma; its colour is dropped), else refused
    sampling: Sampling = Sampling()  # for iterative models
    region: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1): only this window of the output
    progressive: bool = False     # upscale in steps of at most x2 (measured: one shot is better, see README)
    ensemble: int = 1             # mirror views restored and averaged (1, 2, 4 or 8): slower, a little better
    jpeg: str | int = "auto"      # the input's JPEG quality: "auto" (read it), "off" (ignore it) or 1-100

    def __post_init__(self):
        views(self.ensemble)  # refuses a count that is not a whole set of views
        if self.jpeg not in ("auto", "off") and not (isinstance(self.jpeg, int) and not isinstance(self.jpeg, bool)
                                                     and 1 <= self.jpeg <= 100):
            raise ValueError(f"jpeg must be 'auto', 'off' or a quality from 1 to 100, got {self.jpeg!r}")
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


@dataclass(frozen=True)
class Stage:
    """One model's step of a plan: which model (its ``task`` and the ``Models`` slot it comes
    from), the degradation it is told (its condition: the scale from ``in_size`` to ``out_size``,
    both (height, width), the noise sigma, the gray flag, the JPEG quality), its restorator (its
    model's) and how it runs.

    ``sampling``: an iterative stage's (None for single-step). ``via``: the sizes of the steps
    of at most x2 a progressive upscale passes through before ``out_size``. ``ensemble``: mirror
    views averaged (single-step). ``region``: the window of the output the final stage renders
    (None: all). ``consistency``: the output is projected onto the stage's input (upscale:
    under bicubic downscaling; colorize: under luma, for an iterative model at every step).
    ``luma``: the stage reads the luma of what comes before it (a colorize job's first stage,
    and the colour stage). ``final``: its output is the result (progress, std and evaluations)."""

    task: str
    model: str
    degradation: Degradation
    in_size: tuple[int, int]
    out_size: tuple[int, int]
    restorator: str
    sampling: Sampling | None = None
    via: tuple[tuple[int, int], ...] = ()
    ensemble: int = 1
    region: tuple[int, int, int, int] | None = None
    consistency: bool = False
    luma: bool = False
    final: bool = False

    def label(self) -> str:
        """One line: 'denoise (denoise model, single-step): 24x24 -> 24x24, told x1 s25'; an
        upscaler told a JPEG's quality: '... told x2 q75'."""
        (h, w), (out_h, out_w) = self.in_size, self.out_size
        extras = [f"via {' '.join(f'{x}x{y}' for y, x in self.via)}"] if self.via else []
        extras += [f"{self.ensemble} views"] if self.ensemble > 1 else []
        extras += [f"region {','.join(map(str, self.region))}"] if self.region else []
        extras += ["consistency"] if self.consistency else []
        return (f"{self.task} ({self.model} model, {_kind(self.restorator)}): {w}x{h} -> {out_w}x{out_h}, told "
                f"{self.degradation.label()}" + "".join(f", {e}" for e in extras))


def plan(job: Job, degradation: Degradation, models: Mapping[str, ModelDescriptor] | None = None, *,
         bands: bool = False) -> list[Stage]:
    """The stages that restore an input that suffered ``degradation`` (shrunk by its (sx, sy)
    from the job's output size, given noise of its sigma, made gray: colorize, saved as a JPEG
    of its quality) into ``job``'s output, with the models ``models`` describes (slot ->
    descriptor; None: the bundled ones). ``bands``: the output is written band by band
    (``restore_bands``). The job's noise, colorize and JPEG quality reach the plan through
    ``degradation`` (``restore_picture`` resolves the noise and the quality, estimating or
    reading them if asked, before planning); the rest of the job is read as it is.

    Pure: it reads nothing but its arguments and runs nothing. It decides the chain (denoise,
    then upscale, then colorize; a JPEG without noise goes through the upscaler, at x1 too) and
    refuses, with a one-line ValueError, what cannot run: a model without the condition its
    stage needs (a JPEG quality told to an upscaler that reads none), a restorator its final
    model is not, sampling options for a single-step final stage, --ensemble or band-by-band
    output with an iterative model, --region with an iterative final stage."""
    models = Models().descriptors if models is None else models
    out_size = (job.height, job.width)
    in_size = (round(job.height / degradation.sy), round(job.width / degradation.sx))
    if min(in_size) < 1:
        raise ValueError(f"a degradation of x{degradation.sx:g} x{degradation.sy:g} leaves nothing of a "
                         f"{job.width}x{job.height} output")
    sigma, colorize = degradation.sigma, degradation.gray
    jpeg = None if sigma > 0 else degradation.jpeg  # the denoised image is no longer a JPEG
    tasks = ["denoise"] if sigma > 0 else []
    if out_size != in_size or jpeg is not None or not tasks and not colorize:  # else: the upscaler at x1
        tasks.append("upscale")
    if colorize:
        tasks.append("colorize")
    if bands:
        if colorize or job.consistency:
            raise ValueError("outputs this large are written band by band, which --colorize and --consistency "
                             "(they need the whole output at once) do not support yet")
        if job.ensemble > 1 and out_size != in_size:
            raise ValueError("outputs this large are upscaled band by band, which --ensemble does not support yet "
                             "(denoising at the input size does)")
        if job.progressive and len(progressive_sizes(in_size, out_size)) > 1:
            raise ValueError("outputs this large are upscaled band by band, which --progressive does not "
                             "support yet")
    told = {"denoise": Degradation(sigma=sigma), "upscale": Degradation(jpeg=jpeg), "colorize": Degradation(gray=True)}
    needs = {"denoise": "noise", "colorize": "gray"}
    stages, size = [], in_size
    for at, task in enumerate(tasks):
        slot = _slot(task, job)
        described = models[slot]
        if described.task != task:
            raise ValueError(f"the {task} stage needs {article(TASK_NOUNS[task])} model, but the {slot} model "
                             f"is {article(TASK_NOUNS[described.task])} one")
        if task in needs and needs[task] not in described.conditions:
            raise ValueError(f"the {task} stage's model only upscales: it reads no {needs[task]} condition (a "
                             f"tunable model does)")
        if task == "upscale" and jpeg is not None and "jpeg" not in described.conditions:
            raise ValueError(f"the {slot} model reads no JPEG condition, so it cannot be told quality {jpeg}: pass "
                             f"a JPEG-aware model with --model, or use --jpeg auto or off")
        out = out_size if task == "upscale" else size
        final = at == len(tasks) - 1
        stages.append(Stage(
            task=task, model=slot, degradation=told[task].for_sizes(size, out), in_size=size, out_size=out,
            restorator=described.restorator, sampling=job.sampling if described.restorator != "single" else None,
            via=tuple(progressive_sizes(size, out)[:-1]) if task == "upscale" and job.progressive else (),
            ensemble=job.ensemble, region=job.region if final else None,
            consistency=job.consistency and task != "denoise", luma=colorize and (at == 0 or task == "colorize"),
            final=final))
        size = out
    last = stages[-1]
    if job.restorator not in (None, last.restorator):
        raise ValueError(f"the {_kind(job.restorator)} restorator needs a model trained for it, but the {last.task} "
                         f"model is {_kind(last.restorator)}: pass one with --model")
    if last.restorator == "single" and job.sampling != Sampling():
        raise ValueError("steps, eta, seed, samples and adaptive are for the autoregressive and diffusion restorators "
                         "(and their models)")
    iterative = [stage for stage in stages if stage.restorator != "single"]
    if job.ensemble > 1 and iterative:
        raise ValueError("--ensemble is for the single-step restorator; an iterative one averages --samples instead")
    if job.region is not None and last.restorator != "single":
        raise ValueError("--region works with the single-step restorator only, for now")
    if bands and iterative:
        raise ValueError("outputs this large are written band by band, which only the single-step restorator does yet")
    return stages


def _slot(task: str, job: Job) -> str:
    """The ``Models`` slot whose model does ``task`` for ``job``: the iterative restorators have their own."""
    return ITERATIVE_SLOTS.get(job.restorator, {}).get(task, task)


def progressive_sizes(in_size: tuple[int, int], out_size: tuple[int, int]) -> list[tuple[int, int]]:
    """(height, width) after each step of at most x2 per axis, the factor spread evenly in log
    over the steps (x8 is x2 x2 x2; x3 is x1.73 x1.73); the last is ``out_size``."""
    steps = max(1, max(math.ceil(math.log2(o / i) - 1e-9) for i, o in zip(in_size, out_size)))
    return [tuple(max(1, round(i * (o / i) ** (k / steps))) for i, o in zip(in_size, out_size))
            for k in range(1, steps + 1)]


# Running a plan ---------------------------------------------------------------------------------

def _tile(model: FranNet, lr: torch.Tensor, size, job: Job) -> int:
    engine = "torch" if model.ncnn_encoder is None else "ncnn"
    return job.tile or auto_tile(model.cfg, tuple(lr.shape[-2:]), size, working_memory(job.max_memory), engine)


def _is_gray(rgb: torch.Tensor) -> bool:
    return bool(torch.equal(rgb[0], rgb[1]) and torch.equal(rgb[1], rgb[2]))


def _render(model: FranNet, lr: torch.Tensor, size, stage: Stage, job: Job, progress, region=None,
            observation: Observation | None = None):
    """``stage``'s model from ``lr`` to ``size``: the (3, H, W) output and, from an iterative
    model, the per-pixel std of its samples and the decoder evaluations spent per output pixel
    (else None and None). An iterative model projects every step onto the ``observation``
    (DDNM); a single-step one's output is projected by the caller."""
    if stage.restorator == "single":
        return _render_views(model, lr, size, stage, job, progress, region), None, None
    out = render_counted(model, lr, size, stage.sampling, degradation=stage.degradation,
                         tile=_tile(model, lr, size, job), progress=progress, observation=observation)
    return out.mean, out.std, out.evaluations


def _render_views(model: FranNet, lr: torch.Tensor, size, stage: Stage, job: Job, progress, region) -> torch.Tensor:
    """A single-step model's output: the mean over the stage's ensemble of views (``ensemble``)."""
    chosen = views(stage.ensemble)
    share = progress if progress is None or len(chosen) == 1 else lambda n: progress(n / len(chosen))
    total = None
    for view in chosen:
        seen, seen_size = view.apply(lr), view.size(size)
        out = view.undo(render_tiled(model, seen, seen_size, degradation=stage.degradation,
                                     tile=_tile(model, seen, seen_size, job), progress=share,
                                     region=view.region(region, size)))
        total = out if total is None else total.add_(out)
    return total.div_(len(chosen))


def _run(stage: Stage, image: torch.Tensor, models: Models, job: Job, progress):
    """One stage on ``image`` (3, h, w): its output (3, H, W) in [0, 1], and its std and
    evaluations if its model samples."""
    model = models.get(stage.model)
    if stage.luma:
        image = to_gray(image)
    size = stage.out_size
    if stage.task == "denoise":
        out, std, evaluations = _render(model, image, size, stage, job, progress, stage.region)
        if _is_gray(image):  # a gray photo stays exactly gray
            out = out.mean(dim=0, keepdim=True).expand(3, -1, -1).contiguous()
    elif stage.task == "upscale":
        down = BicubicDown(size, stage.in_size) if stage.consistency else None  # what the models learn to invert
        jpeg = stage.degradation.jpeg
        held = cells(image, jpeg) if down is not None and jpeg is not None else None
        observed = Observation(down, image) if down is not None and held is None else None
        lr = image
        for step in stage.via:
            lr = _render(model, lr, step, stage, job, None)[0].clamp_(0.0, 1.0)
        out, std, evaluations = _render(model, lr, size, stage, job, progress, stage.region, observed)
        if held is not None:  # a JPEG: held to what the file stores, not to its artefacts (jpeg_cells)
            out = hold_to_jpeg(out, down, held)
        elif down is not None:  # exact already from an iterative model; this also keeps it in [0, 1]
            out = down.project_valid(out, observed.y)
    else:  # colorize: the luma is known exactly, and kept (range-null-space)
        luma = Gray(LUMA)
        observed = Observation(luma, luma(image)) if stage.consistency else None
        out, std, evaluations = _render(model, image, size, stage, job, progress, stage.region, observed)
        out = luma.project_valid(out, luma(image))
    return out.clamp_(0.0, 1.0), std, evaluations


def _run_all(stages: list[Stage], image: torch.Tensor, models: Models, job: Job, progress):
    std = evaluations = None
    for stage in stages:
        image, std, evaluations = _run(stage, image, models, job, progress if stage.final else None)
    return image, std, evaluations


@dataclass
class _Input:
    colour: torch.Tensor           # (3, h, w) as read, the colour of transparent pixels filled in (``transparency``)
    alpha: torch.Tensor | None     # (h, w)
    sigma: float                   # the noise level to remove (0-255 scale)
    jpeg: int | None               # the JPEG quality the upscaler is told (None: not a JPEG, or not told)

    def degradation(self, job: Job) -> Degradation:
        """What the input suffered, as the plan is told: shrunk from the job's output size, noise of
        ``sigma``, for a colorize job its colour lost, and saved as a JPEG of quality ``jpeg``."""
        return Degradation(sigma=self.sigma, gray=job.colorize, jpeg=self.jpeg).for_sizes(
            tuple(self.colour.shape[-2:]), (job.height, job.width))


def _jpeg(picture: Picture, job: Job, models: Mapping[str, ModelDescriptor]) -> int | None:
    """The JPEG quality to tell: the job's, or for "auto", when the upscaler reads the JPEG
    condition and the job is not a colorization at the input size, the picture's: its file's
    tables, else its pixels if they fit a quality's table."""
    if job.jpeg != "auto":
        return None if job.jpeg == "off" else job.jpeg
    if "jpeg" not in models[_slot("upscale", job)].conditions:
        return None  # a model that reads none is told nothing, as before there was a JPEG condition
    if job.colorize and (job.width, job.height) == picture.size:
        return None  # colouring at the input size keeps its luma exactly, artefacts and all, unless told Q
    quality = table_quality(picture.quantization)
    return quality if quality is not None else quality_from_pixels(picture.rgb, scale=255.0)


class ColourInput(ValueError):
    """A colorize job was given a picture in colour (``grayness.is_gray``), without ``Job.force``."""


def _prepare(picture: Picture, job: Job, models: Mapping[str, ModelDescriptor]) -> _Input:
    straight = torch.from_numpy(np.ascontiguousarray(picture.rgb)).permute(2, 0, 1)
    alpha = None if picture.alpha is None else torch.from_numpy(np.ascontiguousarray(picture.alpha))
    colour = straight if alpha is None else fill_hidden(straight, alpha)  # what transparent pixels hid is no colour
    if job.colorize and not job.force and not picture.gray and not is_gray(colour):
        raise ColourInput("the picture is in colour, and colorize colours gray pictures: force colours its luma, "
                          "dropping its colour")
    jpeg = _jpeg(picture, job, models)
    sigma = float(job.noise) if job.noise is not None else estimate_noise(straight)
    if job.noise is None:  # an estimate: below the floor is no noise, above the trained range is its top
        sigma = 0.0 if sigma < (CLEAN if jpeg is None else JPEG_CLEAN) else min(sigma, MAX_NOISE)
    return _Input(colour, alpha, sigma, jpeg)


def _output_info(picture: Picture, job: Job) -> dict:
    info = dict(picture.info)
    if picture.gray and job.colorize:  # a gray profile does not describe colour
        info.pop("icc_profile", None)
    return info


def plan_picture(picture: Picture, job: Job, models: Models | None = None, bands: bool = False) -> list[Stage]:
    """The plan ``restore_picture`` (``bands``: ``restore_bands``) runs for this picture: its
    noise estimated and its JPEG quality read if the job says to, nothing restored."""
    descriptors = (models or Models()).descriptors
    return plan(job, _prepare(picture, job, descriptors).degradation(job), descriptors, bands=bands)


def restore_picture(picture: Picture, job: Job, models: Models | None = None, progress=None) -> Picture:
    """The restored picture at job.width x job.height: the job's plan (``plan``), checked whole
    before it runs.

    With alpha, the colour of transparent pixels is first taken from their visible neighbours,
    so their arbitrary (often black) colour does not bleed into the edges, and alpha is resized
    on its own (``transparency``).
    ``progress`` (optional) is called with the number of output pixels finished by the last stage.
    """
    models = models or Models()
    given = _prepare(picture, job, models.descriptors)
    stages = plan(job, given.degradation(job), models.descriptors)
    rgb, std, evaluations = _run_all(stages, given.colour, models, job, progress)
    alpha, size = None, (job.height, job.width)
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
    ``restore_picture``'s result. The same plan, made with ``bands`` (``plan`` refuses what needs
    the whole output at once: colorization, the consistency projection, iterative models); its
    stages before the last run whole, at most at the input size, and the last is written band by
    band (denoising at the input size: rows of its whole output)."""
    models = models or Models()
    given = _prepare(picture, job, models.descriptors)
    *before, last = plan(job, given.degradation(job), models.descriptors, bands=True)
    lr = _run_all(before, given.colour, models, job, None)[0]
    model = models.get(last.model)
    size = (job.height, job.width)
    x0, y0, x1, y1 = job.window

    def rows():  # (first row, (3, rows, x1 - x0) band) of the output before alpha
        if last.task == "upscale":
            yield from render_bands(model, lr, size, degradation=last.degradation, tile=_tile(model, lr, size, job),
                                    region=last.region, progress=progress)
        else:  # denoising only: the denoised image (already cut to the window) is the output
            out = _run(last, lr, models, job, progress)[0]
            yield from ((y0 + r, out[:, r:r + DENOISED_BAND]) for r in range(0, y1 - y0, DENOISED_BAND))

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
