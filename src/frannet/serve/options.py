"""The page's form fields -> a pipeline Job, with one readable message per bad value."""

from __future__ import annotations

from typing import Mapping

from ..api import output_size
from ..parsing import parse_noise, parse_scale, parse_size
from ..pipeline import Job

TASKS = {"upscale": "Upscale", "denoise": "Denoise", "colorize": "Colorize", "all": "All at once"}
# Ways to turn an encoder + decoder into an image; "steps" tells whether the number of steps applies.
RESTORATORS = {"single-step": {"label": "single step", "steps": False}}


def job_from_form(form: Mapping[str, str], width: int, height: int, max_pixels: int) -> Job:
    """The Job for an input of width x height; raises ValueError with a message for the page."""
    task = form.get("task", "upscale")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    restorator = form.get("restorator", "single-step")
    if restorator not in RESTORATORS:
        raise ValueError(f"unknown restorator {restorator!r}; choose one of {', '.join(RESTORATORS)}")
    if task == "denoise":
        size = output_size(width, height, scale=1, max_pixels=max_pixels)
    elif form.get("resize", "scale") == "size":
        size = output_size(width, height, size=parse_size(form.get("size", "")), max_pixels=max_pixels)
    else:
        size = output_size(width, height, scale=parse_scale(form.get("scale", "")), max_pixels=max_pixels)
    noise = parse_noise(form.get("noise", "auto")) if task in ("denoise", "all") else 0.0
    if task == "denoise" and noise == 0:
        raise ValueError("denoising with noise 0 does nothing: raise the noise dial or choose auto")
    return Job(*size, noise=noise, colorize=task in ("colorize", "all"))
