"""Autoregressive and diffusion restorators against the single-step model (issue "Autoregressive
and diffusion restorators"), on centre crops of held-out photos, bicubic-degraded as ``frannet
eval`` does (``degradations.Degradation``):

    PYTHONPATH=src python benchmarks/iterative.py data/val --model MODEL.safetensors \\
        --crop 96 --scale 4 --samples 4 --steps 1,2,4,8,16,32

Per number of steps:
  * PSNR-Y of the mean of ``--samples`` samples and of a single sample (the single-step model's
    and bicubic's as reference);
  * sharpness: mean gradient magnitude of the luma over the ground truth's (1 = as sharp), of a
    single sample (and of the single-step output);
  * uncertainty: Spearman rho between the per-pixel std over the samples and the absolute error
    of their mean (luma-averaged, pooled over the photos);
  * seconds per step per megapixel of output (one sample; time it on an idle machine);
  * consistency (DDNM at every step) on vs off for a single sample: PSNR-Y and the largest
    error of the bicubic re-downscale against the input (before clipping).
With ``--adaptive 2,3,4`` (update sigmas, 0-255), also adaptive refinement at
``--adaptive-steps`` steps: per threshold, PSNR-Y of the mean of the samples and decoder
evaluations per pixel, against uniform refinement at the same steps (the issue's bar: equal
PSNR-Y within 0.05 dB with 30% fewer evaluations), and the fewest uniform steps that reach
the adaptive run's PSNR-Y less 0.05 dB. The mean is the output PSNR rates: a single sample's
PSNR falls as steps add detail, so stopping a tile early always raises it.
Writes ``--json`` and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.stats import spearmanr

from frannet.checkpoint import load_model
from frannet.consistency import BicubicDown
from frannet.data import list_images
from frannet.degradations import LUMA, Degradation
from frannet.evaluate import center_crop, modcrop, pillow_upscale
from frannet.io import read_image
from frannet.metrics import psnr_y
from frannet.pipeline import BUNDLED
from frannet.restorators import Observation, Sampling, render, render_counted, render_iterative, transitions

EQUAL_PSNR = 0.05  # dB: PSNRs this close are equal


def _luma(x: torch.Tensor) -> torch.Tensor:
    return (x * x.new_tensor(LUMA).view(3, 1, 1)).sum(dim=0)


def sharpness(x: torch.Tensor, reference: torch.Tensor, border: int) -> float:
    """Mean gradient magnitude of x's luma over the reference's (forward differences, inside ``border``)."""
    def grad(img):
        y = _luma(img.double())[border:-border or None, border:-border or None]
        return torch.hypot(y[:-1, 1:] - y[:-1, :-1], y[1:, :-1] - y[:-1, :-1]).mean().item()
    return grad(x) / grad(reference)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", help="folder of held-out photos")
    p.add_argument("--model", required=True, help="an autoregressive or diffusion model")
    p.add_argument("--single", default=str(BUNDLED["upscale"]), help="the single-step reference (default bundled)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--crop", type=int, default=96, help="input side of the centre crop (output: crop * scale)")
    p.add_argument("--samples", type=int, default=4, help="samples averaged for the mean and the std")
    p.add_argument("--steps", default="1,2,4,8,16,32", help="comma-separated numbers of steps")
    p.add_argument("--eta", type=float, default=0.0, help="diffusion: DDIM's eta")
    p.add_argument("--limit", type=int, default=0, help="at most this many photos (0: all)")
    p.add_argument("--adaptive", default="", help="comma-separated thresholds for adaptive refinement (0-255)")
    p.add_argument("--adaptive-steps", type=int, default=8, help="steps of the adaptive runs (must be in --steps)")
    p.add_argument("--json", default="benchmarks/results/iterative.json")
    args = p.parse_args(argv)
    model, single = load_model(args.model), load_model(args.single)
    steps = [int(s) for s in args.steps.split(",")]
    if args.adaptive and args.adaptive_steps not in steps:
        p.error("--adaptive-steps must be one of --steps (adaptive runs are compared with uniform ones)")
    paths = sorted(list_images([args.images]))[: args.limit or None]
    s, border = args.scale, args.scale
    rows = {k: {"psnr_mean": [], "psnr_single": [], "psnr_consistent": [], "sharpness": [], "seconds": [],
                "redown_off": [], "redown_on": [], "std": [], "error": []} for k in steps}
    reference = {"psnr_single_step": [], "psnr_bicubic": [], "sharpness_single_step": []}
    thresholds = [float(a) for a in args.adaptive.split(",") if a]
    adaptive = {a: {"psnr": [], "evaluations": [], "sharpness": []} for a in thresholds}
    for path in paths:
        img = torch.from_numpy(read_image(path).rgb).permute(2, 0, 1).contiguous()
        hr = modcrop(center_crop(img, args.crop * s), s)
        lr = Degradation(sx=s, sy=s).apply(hr)
        size, down = tuple(hr.shape[-2:]), BicubicDown(tuple(hr.shape[-2:]), tuple(lr.shape[-2:]))
        megapixels = size[0] * size[1] / 1e6
        out = render(single, lr, size).clamp(0, 1)
        reference["psnr_single_step"].append(psnr_y(out, hr, border))
        reference["sharpness_single_step"].append(sharpness(out, hr, border))
        reference["psnr_bicubic"].append(psnr_y(pillow_upscale(lr, size, Image.BICUBIC), hr, border))
        for k in steps:
            row, sampling = rows[k], Sampling(steps=k, eta=args.eta, samples=args.samples)
            mean, std = render_iterative(model, lr, size, sampling)
            start = time.perf_counter()
            one, _ = render_iterative(model, lr, size, Sampling(steps=k, eta=args.eta))
            row["seconds"].append((time.perf_counter() - start) / transitions(model.cfg, Sampling(steps=k))
                                  / megapixels)
            consistent, _ = render_iterative(model, lr, size, Sampling(steps=k, eta=args.eta),
                                             observation=Observation(down, lr))
            row["psnr_mean"].append(psnr_y(mean.clamp(0, 1), hr, border))
            row["psnr_single"].append(psnr_y(one.clamp(0, 1), hr, border))
            row["psnr_consistent"].append(psnr_y(consistent.clamp(0, 1), hr, border))
            row["sharpness"].append(sharpness(one.clamp(0, 1), hr, border))
            row["redown_off"].append((down(one) - lr).abs().max().item())
            row["redown_on"].append((down(consistent) - lr).abs().max().item())
            inside = (slice(border, -border), slice(border, -border))
            row["std"].append(std.mean(dim=0)[inside].flatten().numpy())
            row["error"].append((mean.clamp(0, 1) - hr).abs().mean(dim=0)[inside].flatten().numpy())
        for a, row in adaptive.items():
            out = render_counted(model, lr, size, Sampling(steps=args.adaptive_steps, eta=args.eta,
                                                           samples=args.samples, adaptive=a))
            row["psnr"].append(psnr_y(out.mean.clamp(0, 1), hr, border))
            row["evaluations"].append(out.total / (size[0] * size[1]))
            one = render_counted(model, lr, size, Sampling(steps=args.adaptive_steps, eta=args.eta, adaptive=a))
            row["sharpness"].append(sharpness(one.mean.clamp(0, 1), hr, border))
        print(f"{Path(path).name} done", flush=True)

    def avg(values):
        return float(np.mean(values))

    result = {
        "setup": {"model": str(args.model), "single": str(args.single), "restorator": model.cfg.restorator,
                  "photos": [Path(p).name for p in paths], "input_crop": args.crop, "scale": s,
                  "output": f"{args.crop * s}x{args.crop * s}", "samples": args.samples, "eta": args.eta,
                  "degradation": "Degradation.apply: Pillow bicubic, 8-bit", "border": border,
                  "adaptive_steps": args.adaptive_steps if thresholds else None},
        "reference": {key: avg(v) for key, v in reference.items()},
        "steps": {str(k): {"psnr_mean": avg(r["psnr_mean"]), "psnr_single": avg(r["psnr_single"]),
                           "psnr_consistent": avg(r["psnr_consistent"]), "sharpness": avg(r["sharpness"]),
                           "seconds_per_step_per_mp": avg(r["seconds"]), "redown_max_off": max(r["redown_off"]),
                           "redown_max_on": max(r["redown_on"]),
                           "spearman": _spearman(np.concatenate(r["std"]), np.concatenate(r["error"]))}
                  for k, r in rows.items()},
    }
    result["adaptive"] = {str(a): {**_against_uniform(avg(r["psnr"]), avg(r["evaluations"]) / args.samples, model,
                                                      result["steps"], args.adaptive_steps),
                                   "sharpness_single": avg(r["sharpness"])}
                          for a, r in adaptive.items()}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(format_tables(result))
    return result


def _against_uniform(psnr: float, evaluations: float, model, uniform: dict, steps: int) -> dict:
    """An adaptive run's PSNR-Y (mean of the samples) and evaluations per pixel and sample, against
    uniform refinement at the same ``steps`` (its PSNR-Y and the share of evaluations saved) and
    the fewest uniform steps reaching PSNR-Y - EQUAL_PSNR."""
    same = uniform[str(steps)]["psnr_mean"]
    cheapest = min((int(k) for k, r in uniform.items() if r["psnr_mean"] >= psnr - EQUAL_PSNR), default=None)
    return {"psnr": psnr, "evaluations_per_pixel": evaluations, "uniform_psnr": same,
            "equal_psnr": abs(psnr - same) <= EQUAL_PSNR,
            "saving": 1 - evaluations / transitions(model.cfg, Sampling(steps=steps)),
            "fewest_uniform_steps_as_good": cheapest}


def _spearman(std: np.ndarray, error: np.ndarray) -> float:
    rho = spearmanr(std, error).statistic if std.std() > 0 else math.nan  # one sample: no spread
    return float(rho)


def format_tables(result: dict) -> str:
    setup, ref = result["setup"], result["reference"]
    lines = [f"{setup['restorator']} model, x{setup['scale']} on centre crops ({setup['input_crop']} px input -> "
             f"{setup['output']}) of {len(setup['photos'])} held-out photos, mean of {setup['samples']} samples, "
             f"eta {setup['eta']:g}",
             "",
             f"Reference: single-step PSNR-Y {ref['psnr_single_step']:.2f} dB (sharpness "
             f"{ref['sharpness_single_step']:.3f}), bicubic {ref['psnr_bicubic']:.2f} dB",
             "",
             "| steps | PSNR-Y mean | PSNR-Y single | sharpness single | Spearman rho (std, error) | s/step/MP |",
             "|---:|---:|---:|---:|---:|---:|"]
    for k, r in result["steps"].items():
        lines.append(f"| {k} | {r['psnr_mean']:.2f} | {r['psnr_single']:.2f} | {r['sharpness']:.3f} | "
                     f"{r['spearman']:.3f} | {r['seconds_per_step_per_mp']:.2f} |")
    lines += ["", "| steps | PSNR-Y off | PSNR-Y consistency | re-downscale max error off | on |",
              "|---:|---:|---:|---:|---:|"]
    for k, r in result["steps"].items():
        lines.append(f"| {k} | {r['psnr_single']:.2f} | {r['psnr_consistent']:.2f} | {r['redown_max_off']:.2e} | "
                     f"{r['redown_max_on']:.2e} |")
    if result["adaptive"]:
        k = result["setup"]["adaptive_steps"]
        lines += ["", f"Adaptive refinement at {k} steps (PSNR-Y of the mean of {setup['samples']} samples; "
                      f"equal: within {EQUAL_PSNR} dB of uniform {k} steps)", "",
                  f"| threshold | PSNR-Y | uniform {k} steps | evaluations/pixel | saving | fewest uniform steps as good "
                  f"| sharpness of one sample (uniform {result['steps'][str(k)]['sharpness']:.3f}) |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
    for a, r in result["adaptive"].items():
        lines.append(f"| {a} | {r['psnr']:.3f} | {r['uniform_psnr']:.3f} | {r['evaluations_per_pixel']:.2f} | "
                     f"{100 * r['saving']:.0f}% | {r['fewest_uniform_steps_as_good']} | {r['sharpness_single']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
