"""The page's form fields -> a pipeline Job, with one readable message per bad value."""

from __future__ import annotations

from typing import Mapping

from ..api import output_size
from ..checkpoint import CheckpointError
from ..parsing import parse_jpeg, parse_noise, parse_scale, parse_size
from ..pipeline import ITERATIVE_SLOTS, Job, Models
from ..restorators import DEFAULT_STEPS, Sampling

TASKS = {"upscale": "Upscale", "denoise": "Denoise", "colorize": "Colorize", "all": "All at once"}
# A page is shared: each job's decoder work is capped (steps x samples evaluations per pixel).
LIMITS = {"steps": 100, "samples": 64}
MAX_SEED = 2**32 - 1  # the keyed noise reads 32 bits of the seed
# The bundled diffusion model's cost per output megapixel, step and sample (its model card:
# 3.7 to 4.0 s on 2 threads of an idle machine), for the estimate shown while a job waits and runs.
STEP_SECONDS_PER_MEGAPIXEL = 4.0


def restorators(models: Models) -> dict[str, dict]:
    """The restorators the page offers (the CLI's --restorator names): "iterative", whether it
    takes steps, samples and a seed; "tasks", the ones it can do with ``models``: for an
    iterative restorator those whose slot (``ITERATIVE_SLOTS``) holds a model of its kind (the
    bundled frannet-diffusion and frannet-autoregressive upscale; diffusion colours once a
    diffusion colour model is given or bundled), and none: not offered."""
    def holds(kind: str, task: str) -> bool:
        try:
            return models.describe(ITERATIVE_SLOTS[kind][task]).restorator == kind
        except CheckpointError:  # none bundled, or a file that cannot be read
            return False

    offered = {"single": {"label": "single (one pass)", "iterative": False, "tasks": list(TASKS)}}
    for kind, slots in ITERATIVE_SLOTS.items():
        sampled = [task for task in slots if holds(kind, task)]
        if sampled:
            offered[kind] = {"label": kind, "iterative": True, "tasks": sampled}
    return offered


def _whole(form: Mapping[str, str], name: str, default: int, low: int, top: int) -> int:
    text = form.get(name, "").strip() or str(default)
    if not text.isdecimal() or not low <= int(text) <= top:
        raise ValueError(f"{name} must be a whole number from {low} to {top}, got {text!r}")
    return int(text)


def job_from_form(form: Mapping[str, str], width: int, height: int, max_pixels: int,
                  offered: Mapping[str, dict]) -> Job:
    """The Job for an input of width x height, with the ``offered`` restorators (``restorators``);
    raises ValueError with a message for the page."""
    task = form.get("task", "upscale")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    restorator = form.get("restorator", "single")
    if restorator not in offered:
        raise ValueError(f"unknown restorator {restorator!r}; choose one of {', '.join(offered)}")
    if task not in offered[restorator]["tasks"]:
        can = " and ".join(TASKS[t].lower() for t in offered[restorator]["tasks"])
        raise ValueError(f"the {restorator} restorator can {can} only, not {TASKS[task].lower()}: choose single")
    sampling = Sampling()
    if offered[restorator]["iterative"]:
        given = form.get("steps", "").strip()
        steps = _whole(form, "steps", 1, 1, LIMITS["steps"]) if given else None  # None: the measured best
        sampling = Sampling(steps=steps, samples=_whole(form, "samples", 1, 1, LIMITS["samples"]),
                            seed=_whole(form, "seed", 0, 0, MAX_SEED))
    if task == "denoise":
        size = output_size(width, height, scale=1, max_pixels=max_pixels)
    elif form.get("resize", "scale") == "size":
        size = output_size(width, height, size=parse_size(form.get("size", "")), max_pixels=max_pixels)
    else:
        size = output_size(width, height, scale=parse_scale(form.get("scale", "")), max_pixels=max_pixels)
    noise = parse_noise(form.get("noise", "auto")) if task in ("denoise", "all") else 0.0
    if task == "denoise" and noise == 0:
        raise ValueError("denoising with noise 0 does nothing: raise the noise dial or choose auto")
    return Job(*size, noise=noise, colorize=task in ("colorize", "all"), restorator=restorator, sampling=sampling,
               jpeg=parse_jpeg(form.get("jpeg", "auto")))


def estimate_seconds(job: Job) -> float | None:
    """About how long an iterative job runs, from its output megapixels, steps and samples (None
    for the single-step restorator, which takes seconds per megapixel whatever is asked)."""
    if job.restorator == "single":
        return None
    steps = job.sampling.steps or DEFAULT_STEPS[job.restorator]
    return job.width * job.height / 1e6 * steps * job.sampling.samples * STEP_SECONDS_PER_MEGAPIXEL
