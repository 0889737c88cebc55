"""Data-consistency figures on the held-out photos (README table).

    PYTHONPATH=src python benchmarks/consistency.py data/val --json benchmarks/results/consistency.json

* Super-resolution x4 (whole photos, bicubic-downscaled and rounded to 8 bits, as in
  ``frannet eval``): PSNR-Y with and without ``--consistency`` (the bicubic range-null-space
  projection, what the CLI runs), and the largest difference, in float before any 8-bit
  rounding, between the output bicubic-downscaled again and the input.
* Colorization (whole photos, their luma as the gray input): the largest |luma(out) - luma(in)|.
* Inpainting (random pixels missing) and block compressed sensing (B = 32) on 256x256 centre
  crops: PSNR (RGB) of projected denoising with the bundled denoiser against the A+ y baseline
  and against the smooth start alone, the consistency error, and seconds (1 thread).
Re-run it after replacing a bundled model to update the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from frannet.consistency import BicubicDown, Gray, Mask
from frannet.data import list_images
from frannet.degradations import LUMA, to_gray
from frannet.degradations import Degradation
from frannet.evaluate import center_crop, modcrop
from frannet.inverse import SIGMAS, model_denoiser
from frannet.io import Picture, read_image
from frannet.measurements import measure
from frannet.metrics import psnr_rgb, psnr_y
from frannet.pipeline import Job, Models, restore_picture
from frannet.restorators.projected_denoising import geometric_sigmas, projected_denoising, smooth_start

CROP = 256


def _load(path) -> torch.Tensor:
    return torch.from_numpy(read_image(path).rgb).permute(2, 0, 1).contiguous()


def _restore(models: Models, x: torch.Tensor, size: tuple[int, int], **job) -> torch.Tensor:
    out = restore_picture(Picture(rgb=x.permute(1, 2, 0).numpy()), Job(size[1], size[0], **job), models)
    return torch.from_numpy(out.rgb).permute(2, 0, 1)


def super_resolution(models: Models, hr: torch.Tensor, scale: int = 4) -> dict:
    hr = modcrop(hr, scale)
    lr = Degradation(sx=scale, sy=scale).apply(hr)
    size = tuple(hr.shape[-2:])
    plain, projected = (_restore(models, lr, size, consistency=c) for c in (False, True))
    redown = BicubicDown(size, tuple(lr.shape[-2:]))(projected.double()) - lr.double()
    off, on = psnr_y(plain, hr, scale), psnr_y(projected, hr, scale)
    return {"psnr_y": off, "psnr_y_consistency": on, "change_db": on - off, "redownscale_max_error_255": redown.abs().max().item() * 255}


def colorization(models: Models, img: torch.Tensor) -> dict:
    luma = Gray(LUMA)
    out = _restore(models, to_gray(img), tuple(img.shape[-2:]), colorize=True)
    return {"luma_max_error_255": (luma(out.double()) - luma(img.double())).abs().max().item() * 255}


def inverse_problem(denoise, op, y, truth: torch.Tensor, steps: int) -> dict:
    """The A+ y baseline, the smooth start alone, and projected denoising after it."""
    start_time = time.perf_counter()
    start = smooth_start(op, y)
    smooth_seconds = time.perf_counter() - start_time
    out = projected_denoising(denoise, op, y, geometric_sigmas(*SIGMAS, steps), start)
    seconds = time.perf_counter() - start_time
    shown = lambda x: x[..., :truth.shape[-2], :truth.shape[-1]].float().clamp(0, 1)  # noqa: E731
    return {"psnr_pinv": psnr_rgb(shown(op.pinv(y)), truth), "psnr_smooth": psnr_rgb(shown(start), truth),
            "psnr": psnr_rgb(shown(out), truth), "max_error": (op(out) - y).abs().max().item(),
            "seconds_smooth": smooth_seconds, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="held-out photos")
    parser.add_argument("--steps", type=int, default=8, help="projected-denoising rounds in the main table")
    parser.add_argument("--sweep", default="4,8,16", help="rounds tried on the first photo")
    parser.add_argument("--json", help="write all results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = Models(bf16=False)  # the float32 reference
    den = model_denoiser(models.get("denoise"))
    den64 = lambda x, s: den(x.float(), s).double()  # noqa: E731  (CS runs in float64)
    photos = {p.stem: _load(p) for p in list_images([args.folder])}
    result: dict = {"steps": args.steps, "sigmas": list(SIGMAS), "crop": CROP, "per_image": {}, "sweep": {}}
    for i, (name, img) in enumerate(photos.items()):
        row = {"sr_x4": super_resolution(models, img), "colorize": colorization(models, img)}
        crop = center_crop(img, CROP)
        g = torch.Generator().manual_seed(i)
        for missing in (0.5, 0.8):
            op = Mask((torch.rand(crop.shape[-2:], generator=g) >= missing).float())
            row[f"inpaint_{missing:g}"] = inverse_problem(den, op, op(crop), crop, args.steps)
        for ratio in (0.25, 0.1):
            meas = measure(crop, ratio, 32, seed=i)
            row[f"cs_{ratio:g}"] = inverse_problem(den64, meas.operator, meas.values.double(), crop, args.steps)
        result["per_image"][name] = row
        print(name, json.dumps(row))
        if i == 0:
            op = Mask((torch.rand(crop.shape[-2:], generator=g) >= 0.8).float())
            meas = measure(crop, 0.1, 32, seed=i)
            for k in (int(v) for v in args.sweep.split(",")):
                result["sweep"][k] = {"inpaint_0.8": inverse_problem(den, op, op(crop), crop, k),
                                      "cs_0.1": inverse_problem(den64, meas.operator, meas.values.double(), crop, k)}
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


def format_table(result: dict) -> str:
    rows = result["per_image"]
    lines = ["| photo | SR x4 PSNR-Y off / on (change) | SR re-downscale max err (/255) | colorize luma max err (/255) | "
             "inpaint 50% | inpaint 80% | CS r=0.25 | CS r=0.1 |",
             "|---|---|---|---|---|---|---|---|"]
    inv = lambda r: f"{r['psnr']:.2f} (A⁺y {r['psnr_pinv']:.2f}, smooth {r['psnr_smooth']:.2f}; {r['seconds']:.0f} s)"  # noqa: E731
    for name, r in rows.items():
        sr = r["sr_x4"]
        lines.append(f"| {name} | {sr['psnr_y']:.2f} / {sr['psnr_y_consistency']:.2f} ({sr['change_db']:+.3f}) | "
                     f"{sr['redownscale_max_error_255']:.3f} | {r['colorize']['luma_max_error_255']:.4f} | "
                     + " | ".join(inv(r[k]) for k in ("inpaint_0.5", "inpaint_0.8", "cs_0.25", "cs_0.1")) + " |")
    lines += ["", "| rounds K (first photo) | inpaint 80%: PSNR, s | CS r=0.1: PSNR, s |", "|---|---|---|"]
    for k, r in result["sweep"].items():
        lines.append(f"| {k} | {r['inpaint_0.8']['psnr']:.2f}, {r['inpaint_0.8']['seconds']:.0f} | "
                     f"{r['cs_0.1']['psnr']:.2f}, {r['cs_0.1']['seconds']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
