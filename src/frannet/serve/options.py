"""The page's form fields -> a pipeline Job, with one readable message per bad value."""

from __future__ import annotations

from typing import Mapping

from ..api import output_size
from ..parsing import parse_jpeg, parse_noise, parse_scale, parse_size
from ..pipeline import Job
from ..restorators import DEFAULT_STEPS, Sampling

TASKS = {"upscale": "Upscale", "denoise": "Denoise", "colorize": "Colorize", "all": "All at once"}
# The CLI's --restorator names. "iterative": takes steps and samples; "tasks": the ones it can do
# (the bundled diffusion model upscales; the denoising and colour models are single-step).
RESTORATORS = {"single": {"label": "single (one pass)", "iterative": False, "tasks": list(TASKS)},
               "diffusion": {"label": "diffusion", "iterative": True, "tasks": ["upscale"]}}
# A page is shared: each job's decoder work is capped (steps x samples evaluations per pixel).
LIMITS = {"steps": 100, "samples": 64}
# The bundled diffusion model's cost per output megapixel, step and sample (its model card:
# 3.7 to 4.0 s on 2 threads of an idle machine), for the estimate shown while a job waits and runs.
STEP_SECONDS_PER_MEGAPIXEL = 4.0


def _count(form: Mapping[str, str], name: str, default: int) -> int:
    text, top = form.get(name, str(default)), LIMITS[name]
    if not text.strip().isdecimal() or not 1 <= int(text) <= top:
        raise ValueError(f"{name} must be a whole number from 1 to {top}, got {text!r}")
    return int(text)


def job_from_form(form: Mapping[str, str], width: int, height: int, max_pixels: int) -> Job:
    """The Job for an input of width x height; raises ValueError with a message for the page."""
    task = form.get("task", "upscale")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    restorator = form.get("restorator", "single")
    if restorator not in RESTORATORS:
        raise ValueError(f"unknown restorator {restorator!r}; choose one of {', '.join(RESTORATORS)}")
    if task not in RESTORATORS[restorator]["tasks"]:
        can = " and ".join(TASKS[t].lower() for t in RESTORATORS[restorator]["tasks"])
        raise ValueError(f"the {restorator} restorator can {can} only, not {TASKS[task].lower()}: choose single")
    sampling = Sampling()
    if RESTORATORS[restorator]["iterative"]:
        steps = _count(form, "steps", 1) if form.get("steps", "").strip() else None  # None: the measured best
        sampling = Sampling(steps=steps, samples=_count(form, "samples", 1))
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
