"""The three restorators side by side (issue 23): single-step, autoregressive (the walk along the
Direction interpolant) and diffusion (DDIM), with bicubic as the floor, on centre crops of
held-out photos, bicubic-degraded as ``frannet eval`` does (``degradations.Degradation``):

    PYTHONPATH=src python benchmarks/restorators.py data/val --crop 96 --scale 4 --samples 4 --steps 1,2,4,8

The models default to the bundled ones (``frannet.pipeline.BUNDLED``: ``upscale``,
``autoregressive`` and ``diffusion``); ``none`` leaves a restorator out. Each iterative model
samples at its restorator's default temperature (``--temperature`` sets one for all). Each
renders as the pipeline does, in float32: the single-step model through ``tiling.render_tiled``
(its grid decoder), the iterative ones through ``restorators.render_counted``. One table, a row per restorator and number of steps:

  * PSNR-Y and SSIM-Y (``frannet.metrics``, BasicSR's conventions, ``--scale`` pixels of border
    left out) of one sample and of the mean of ``--samples`` samples;
  * sharpness: mean gradient magnitude of one sample's luma over the ground truth's (1 = as sharp);
  * uncertainty: Spearman rho between the per-pixel std over the samples and the absolute error
    of their mean (luma-averaged, pooled over the photos);
  * decoder evaluations per output pixel and sample (as counted), and seconds per output
    megapixel of one sample, encoder included (time it on an idle machine; the setup records the
    threads).

Stopping early, against uniform refinement at the same steps (equal: PSNR-Y within 0.05 dB) and
the fewest uniform steps whose mean reaches the early run's PSNR-Y less 0.05 dB:
  * the walk, per point: ``--tol`` (residual units: a point stops once its step is below tol in
    every channel, tol * 255 / residual_scale levels of 0-255) at ``--tol-steps``;
  * diffusion, per 32-pixel output tile: ``--adaptive`` (update sigmas, 0-255) at
    ``--adaptive-steps``.
The mean is the PSNR a saving is judged on: a single sample's PSNR falls as steps add detail, so
stopping early tends to raise it.
With ``--consistency``, also one sample of every iterative row with every step projected onto
the input (DDNM): its PSNR-Y, and the largest error of the bicubic re-downscale against the
input (before clipping) with and without.
Writes ``--json`` and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.stats import spearmanr

from frannet.checkpoint import CheckpointError, load_model
from frannet.consistency import BicubicDown
from frannet.data import list_images
from frannet.degradations import LUMA, Degradation
from frannet.evaluate import center_crop, modcrop, pillow_upscale
from frannet.io import read_image
from frannet.metrics import psnr_y, ssim_y
from frannet.pipeline import BUNDLED
from frannet.restorators import Observation, Sampling, render_counted
from frannet.tiling import render_tiled

EQUAL_PSNR = 0.05  # dB: PSNRs this close are equal
RESTORATORS = {"single": "upscale", "autoregressive": "autoregressive", "diffusion": "diffusion"}  # -> BUNDLED key
ITERATIVE = ("autoregressive", "diffusion")


def _luma(x: torch.Tensor) -> torch.Tensor:
    return (x * x.new_tensor(LUMA).view(3, 1, 1)).sum(dim=0)


def sharpness(x: torch.Tensor, reference: torch.Tensor, border: int) -> float:
    """Mean gradient magnitude of x's luma over the reference's (forward differences, inside ``border``)."""
    def grad(img):
        y = _luma(img.double())[border:-border or None, border:-border or None]
        return torch.hypot(y[:-1, 1:] - y[:-1, :-1], y[1:, :-1] - y[:-1, :-1]).mean().item()
    return grad(x) / grad(reference)


def quality(out: torch.Tensor, hr: torch.Tensor, border: int, of: str) -> dict:
    """PSNR-Y and SSIM-Y of ``out`` (clipped) against ``hr``, keyed psnr_<of> and ssim_<of>."""
    out = out.clamp(0, 1)
    return {f"psnr_{of}": psnr_y(out, hr, border), f"ssim_{of}": ssim_y(out, hr, border)}


class Tally:
    """One row's per-photo figures: averaged, except seconds over megapixels (summed), the
    re-downscale errors (largest), and the std and error maps (pooled for Spearman's rho)."""

    LARGEST = ("redown_off", "redown_on")

    def __init__(self):
        self.figures, self.std, self.error = defaultdict(list), [], []

    def add(self, figures: dict, std: torch.Tensor | None = None, error: torch.Tensor | None = None) -> None:
        for key, value in figures.items():
            self.figures[key].append(value)
        if std is not None:
            self.std.append(std.flatten().numpy())
            self.error.append(error.flatten().numpy())

    def summary(self) -> dict:
        out = {key: (max if key in self.LARGEST else np.mean)(values) for key, values in self.figures.items()
               if key not in ("seconds", "megapixels")}
        if "seconds" in self.figures:
            out["seconds_per_mp"] = sum(self.figures["seconds"]) / sum(self.figures["megapixels"])
        if self.std:
            out["spearman"] = _spearman(np.concatenate(self.std), np.concatenate(self.error))
        return {key: float(value) if value is not None else None for key, value in out.items()}


def _spearman(std: np.ndarray, error: np.ndarray) -> float | None:
    return float(spearmanr(std, error).statistic) if std.std() > 0 else None  # one sample: no spread


def _timed(render):
    start = time.perf_counter()
    out = render()
    return out, time.perf_counter() - start


def iterative(model, lr, size, degradation: Degradation, sampling: Sampling, samples: int, hr, border: int,
              consistency: bool = False) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """One sample (timed) and the mean of ``samples`` under ``sampling``: their figures, the
    samples' luma-averaged std and the mean's absolute error inside the border."""
    many = render_counted(model, lr, size, replace(sampling, samples=samples), degradation=degradation)
    one, seconds = _timed(lambda: render_counted(model, lr, size, sampling, degradation=degradation).mean)
    pixels = size[0] * size[1]
    figures = {**quality(one, hr, border, "single"), **quality(many.mean, hr, border, "mean"),
               "sharpness": sharpness(one.clamp(0, 1), hr, border), "evaluations": many.total / pixels / samples,
               "seconds": seconds, "megapixels": pixels / 1e6}
    if consistency:
        down = BicubicDown(size, tuple(lr.shape[-2:]))
        consistent = render_counted(model, lr, size, sampling, degradation=degradation,
                                    observation=Observation(down, lr)).mean
        figures |= {"psnr_consistent": psnr_y(consistent.clamp(0, 1), hr, border),
                    "redown_off": (down(one) - lr).abs().max().item(),
                    "redown_on": (down(consistent) - lr).abs().max().item()}
    inside = (slice(border, -border), slice(border, -border))
    return figures, many.std.mean(dim=0)[inside], (many.mean.clamp(0, 1) - hr).abs().mean(dim=0)[inside]


def _values(text: str, name: str, parser) -> list[float]:
    values = [float(v) for v in text.split(",") if v]
    if any(not v > 0 for v in values):
        parser.error(f"{name} values must be > 0 (0 is uniform refinement, measured in the main table)")
    return values


def load_models(args, parser) -> dict:
    """The model of each restorator asked for (``none`` leaves one out), checked to be of its kind."""
    models = {}
    for kind in RESTORATORS:
        source = getattr(args, kind)
        if source == "none":
            continue
        try:
            model = load_model(source)
        except CheckpointError as exc:
            parser.error(f"--{kind}: {exc}")
        if model.cfg.restorator != kind:
            parser.error(f"--{kind} {source} is a {model.cfg.restorator} model")
        models[kind] = model
    return models


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", help="folder of held-out photos")
    for kind, key in RESTORATORS.items():
        p.add_argument(f"--{kind}", default=str(BUNDLED[key]),
                       help=f"the {kind} model, or none to leave it out (default: the bundled one)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--crop", type=int, default=96, help="input side of the centre crop (output: crop * scale)")
    p.add_argument("--samples", type=int, default=4, help="samples averaged for the mean and the std")
    p.add_argument("--steps", default="1,2,4,8", help="comma-separated numbers of steps of the iterative restorators")
    p.add_argument("--eta", type=float, default=0.0, help="diffusion: DDIM's eta")
    p.add_argument("--temperature", type=float, help="the iterative models' source std (default: each restorator's)")
    p.add_argument("--limit", type=int, default=0, help="at most this many photos (0: all)")
    p.add_argument("--tol", default="0.01,0.02,0.05",
                   help="comma-separated per-point stopping tolerances of the walk (residual units; '' for none)")
    p.add_argument("--tol-steps", type=int, default=8, help="steps of the walk's early-stopping runs (one of --steps)")
    p.add_argument("--adaptive", default="",
                   help="comma-separated thresholds for diffusion's adaptive refinement (0-255)")
    p.add_argument("--adaptive-steps", type=int, default=8, help="steps of the adaptive runs (one of --steps)")
    p.add_argument("--consistency", action="store_true", help="also one sample per iterative row with DDNM")
    p.add_argument("--json", default="benchmarks/results/restorators.json")
    args = p.parse_args(argv)
    models = load_models(args, p)
    steps = [int(k) for k in args.steps.split(",")]
    stopping = {"autoregressive": ("tol", _values(args.tol, "--tol", p), args.tol_steps),  # (how, values, steps)
                "diffusion": ("adaptive", _values(args.adaptive, "--adaptive", p), args.adaptive_steps)}
    for kind, (how, values, at) in stopping.items():
        if kind in models and values and at not in steps:
            p.error(f"--{how}-steps must be one of --steps (early stopping is compared with uniform refinement)")
    paths = sorted(list_images([args.images]))[: args.limit or None]
    s, border = args.scale, args.scale
    torch.manual_seed(0)
    for kind, model in models.items():  # warm up, so the first photo's time is not the start-up's
        tiny = torch.rand(3, 8, 8)
        if model.cfg.iterative:
            render_counted(model, tiny, (8 * s, 8 * s), Sampling(steps=1))
        else:
            render_tiled(model, tiny, (8 * s, 8 * s))

    tallies = defaultdict(Tally)  # (restorator, steps, stopping, value) -> Tally
    for path in paths:
        img = torch.from_numpy(read_image(path).rgb).permute(2, 0, 1).contiguous()
        hr = modcrop(center_crop(img, args.crop * s), s)
        degradation = Degradation(sx=s, sy=s)
        lr = degradation.apply(hr)
        size = tuple(hr.shape[-2:])
        bicubic = pillow_upscale(lr, size, Image.BICUBIC)
        tallies["bicubic", None, None, None].add({**quality(bicubic, hr, border, "single"), "evaluations": 0.0,
                                                  "sharpness": sharpness(bicubic, hr, border)})
        if "single" in models:
            out, seconds = _timed(lambda: render_tiled(models["single"], lr, size, degradation=degradation))
            tallies["single", None, None, None].add({**quality(out, hr, border, "single"), "evaluations": 1.0,
                                                     "sharpness": sharpness(out.clamp(0, 1), hr, border),
                                                     "seconds": seconds, "megapixels": size[0] * size[1] / 1e6})
        for kind in (k for k in ITERATIVE if k in models):
            how, values, at = stopping[kind]
            hot = {"eta": args.eta, "temperature": args.temperature}
            runs = [(k, None, None, Sampling(steps=k, **hot)) for k in steps]
            runs += [(at, how, value, Sampling(steps=at, **hot, **{how: value})) for value in values]
            for k, how, value, sampling in runs:
                tallies[kind, k, how, value].add(*iterative(models[kind], lr, size, degradation, sampling, args.samples,
                                                            hr, border, consistency=args.consistency and how is None))
        print(f"{Path(path).name} done", flush=True)

    result = {
        "setup": {"models": {kind: str(getattr(args, kind)) for kind in models},
                  "photos": [Path(path).name for path in paths],
                  "input_crop": args.crop, "scale": s, "output": f"{args.crop * s}x{args.crop * s}",
                  "samples": args.samples, "eta": args.eta, "threads": torch.get_num_threads(),
                  "temperature": {kind: Sampling(temperature=args.temperature).resolved(models[kind].cfg).temperature
                                  for kind in ITERATIVE if kind in models},
                  "degradation": "Degradation.apply: Pillow bicubic, 8-bit", "border": border, "dtype": "float32"},
        "rows": [{"restorator": kind, "steps": k, **tally.summary()}
                 for (kind, k, how, _), tally in tallies.items() if how is None],
    }
    uniform = {(r["restorator"], r["steps"]): r for r in result["rows"]}
    result["early_stopping"] = []
    for (kind, k, how, value), tally in tallies.items():
        if how is not None:
            row = {"restorator": kind, "steps": k, how: value, **tally.summary()}
            if how == "tol":
                row["tol_levels"] = value * 255 / models[kind].cfg.residual_scale
            others = {n: r for (r_kind, n), r in uniform.items() if r_kind == kind}
            result["early_stopping"].append(row | against_uniform(row, others, k))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(format_tables(result))
    return result


def against_uniform(row: dict, uniform: dict[int, dict], steps: int) -> dict:
    """An early-stopping ``row`` against ``uniform`` refinement (its rows by steps): PSNR-Y at the
    same ``steps``, whether it is equal (within EQUAL_PSNR) for one sample and for the mean, the
    share of evaluations saved, and the fewest uniform steps whose mean reaches row's - EQUAL_PSNR."""
    same = uniform[steps]
    cheapest = min((n for n, r in uniform.items() if r["psnr_mean"] >= row["psnr_mean"] - EQUAL_PSNR), default=None)
    return {"uniform_psnr_single": same["psnr_single"], "uniform_psnr_mean": same["psnr_mean"],
            "equal_single": abs(row["psnr_single"] - same["psnr_single"]) <= EQUAL_PSNR,
            "equal_mean": abs(row["psnr_mean"] - same["psnr_mean"]) <= EQUAL_PSNR,
            "saving": 1 - row["evaluations"] / same["evaluations"], "fewest_uniform_steps_as_good": cheapest}


def _cell(value, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def format_tables(result: dict) -> str:
    setup = result["setup"]
    lines = [f"x{setup['scale']} on centre crops ({setup['input_crop']} px input -> {setup['output']}) of "
             f"{len(setup['photos'])} held-out photos; mean of {setup['samples']} samples; DDIM eta {setup['eta']:g}; "
             f"{setup['threads']} thread(s), {setup['dtype']}",
             "", "Models: " + ", ".join(f"{kind} `{path}`" for kind, path in setup["models"].items()), "",
             f"| restorator | steps | evaluations/pixel | PSNR-Y one | PSNR-Y mean of {setup['samples']} | "
             f"SSIM-Y one | SSIM-Y mean | sharpness one | Spearman ρ (std, error) | s/MP one |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['restorator']} | {_cell(r['steps'], 'd')} | {_cell(r['evaluations'])} | "
                     f"{_cell(r['psnr_single'])} | {_cell(r.get('psnr_mean'))} | {_cell(r['ssim_single'], '.4f')} | "
                     f"{_cell(r.get('ssim_mean'), '.4f')} | {_cell(r['sharpness'], '.3f')} | "
                     f"{_cell(r.get('spearman'), '.3f')} | {_cell(r.get('seconds_per_mp'))} |")
    consistent = [r for r in result["rows"] if "psnr_consistent" in r]
    if consistent:
        lines += ["", "One sample with every step projected onto the input (DDNM) against without:", "",
                  "| restorator | steps | PSNR-Y off | PSNR-Y consistency | re-downscale max error off | on |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in consistent:
            lines.append(f"| {r['restorator']} | {r['steps']} | {r['psnr_single']:.2f} | {r['psnr_consistent']:.2f} | "
                         f"{r['redown_off']:.2e} | {r['redown_on']:.2e} |")
    if result["early_stopping"]:
        lines += ["", f"Stopping early against uniform refinement at the same steps (equal: within {EQUAL_PSNR} dB; "
                      f"tol in residual units and 0-255 levels, adaptive in 0-255 update sigmas):", "",
                  "| restorator | steps | stopping | evaluations/pixel | saving | PSNR-Y one | uniform | PSNR-Y mean | "
                  "uniform | equal one / mean | fewest uniform steps as good (mean) | sharpness one | s/MP one |",
                  "|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in result["early_stopping"]:
        stopping = (f"tol {r['tol']:g} ({r['tol_levels']:.2f}/255)" if "tol" in r else f"adaptive {r['adaptive']:g}")
        equal = " / ".join("yes" if r[key] else "no" for key in ("equal_single", "equal_mean"))
        lines.append(f"| {r['restorator']} | {r['steps']} | {stopping} | {r['evaluations']:.2f} | "
                     f"{100 * r['saving']:.0f}% | {r['psnr_single']:.3f} | {r['uniform_psnr_single']:.3f} | "
                     f"{r['psnr_mean']:.3f} | {r['uniform_psnr_mean']:.3f} | {equal} | "
                     f"{r['fewest_uniform_steps_as_good']} | {r['sharpness']:.3f} | {r['seconds_per_mp']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
