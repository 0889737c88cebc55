"""Colorization on held-out photos: issue 20's bars, per photo and in summary.

    python benchmarks/colorize.py [FOLDER ...] [--model M] [--diffusion-model D --samples 16 --steps K]
                                  [--max-side 512] [--json benchmarks/results/colorize.json]

Every colour photo of the folders (default data/val data/eval; gray ones are skipped) is made
gray as a user's gray photo would be: its BT.601 luma, rounded to 8 bits. That gray picture
goes through what ``frannet colorize`` runs (the pipeline with its colour stage alone, as the
command's default ``--jpeg auto`` colours a picture at its own size, artefacts and all), and the
output, rounded to 8 bits, is measured against the photo: PSNR on RGB (the gray input's own PSNR is the baseline), the largest difference between
its luma and the input's (0-255 scale; rounding the colours to 8 bits alone moves it by up to
0.5), and the Hasler-Süsstrunk colourfulness of the output and of the photo.

With ``--diffusion-model`` (a colorizing diffusion model), each photo is also coloured by the
diffusion restorator ``--samples`` times, sample k with seed k (what ``--seed k`` gives, one
colouring each): each sample's colourfulness and luma error, and the PSNR of the samples' mean
(``--samples N`` averages N samples the same way, with other seeds) against the single-step one.
``--consistency`` projects every diffusion step onto the luma (DDNM) instead of the output only.

``--max-side`` first downscales larger photos (Pillow-exact bicubic, rounded to 8 bits) so
their longer side is at most that: the figures are then those of the smaller photos (the JSON
says so). ``--squash 256`` instead resizes every photo to 256 x 256 whatever its shape, the
protocol of the one published automatic-colorization PSNR we could compare with (Zhang et al.,
SIGGRAPH 2017: the per-image mean on 8-bit RGB of 1000 ImageNet validation photos so resized). Time on 1 thread of a shared machine: the single-step part takes 4 minutes for the
28 held-out photos (10.6 megapixels); a diffusion sample about 25 s per megapixel with the
default steps (measured with an untrained model: a trained one's adaptive tiles may stop
elsewhere), so 16 samples take about 70 minutes, or 37 with ``--max-side 512`` (5.6
megapixels). The summary answers the issue's bars: single-step mean PSNR at least 0.5 dB over the
gray input, no photo below its gray input by more than 0.5 dB, luma within 1/255, colourfulness
at least half the originals'; diffusion samples' colourfulness at least 80% of the originals',
luma within 1/255, and the mean of the samples within 0.3 dB of the single-step PSNR.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from frannet.data import list_images
from frannet.degradations import LUMA, bicubic_resize, fit_side, quantize, to_gray
from frannet.grayness import is_gray
from frannet.io import Picture, read_image
from frannet.metrics import colourfulness, psnr_rgb
from frannet.pipeline import BUNDLED, Job, Models, restore_picture
from frannet.restorators import Sampling


def shown(path: str | None) -> str | None:
    """A model's path as the JSON records it: relative to the working folder when inside it."""
    if path is None or not Path(path).resolve().is_relative_to(Path.cwd()):
        return path
    return str(Path(path).resolve().relative_to(Path.cwd()))


def load_photos(folders, max_side: int | None, squash: int | None = None) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(name -> (3, H, W) colour photo, longer side at most ``max_side``, or resized to exactly
    ``squash`` x ``squash`` whatever its shape; names of the gray ones skipped)."""
    photos, gray = {}, []
    for path in list_images(folders):
        img = torch.from_numpy(read_image(path).rgb).permute(2, 0, 1).contiguous()
        if is_gray(img):
            gray.append(path.stem)
            continue
        if squash:
            img = quantize(bicubic_resize(img.double(), (squash, squash)).clamp(0, 1)).float()
        elif max_side:
            img = quantize(fit_side(img.double(), max_side)).float()
        photos[path.stem] = img
    return photos, gray


def colorized(gray: torch.Tensor, models: Models, **job) -> torch.Tensor:
    """(3, H, W) gray picture coloured by the pipeline (the ``Job`` options ``job``), rounded to 8 bits."""
    h, w = gray.shape[-2:]
    picture = Picture(rgb=gray.permute(1, 2, 0).numpy(), gray=True)
    out = restore_picture(picture, Job(w, h, colorize=True, **job), models)
    return quantize(torch.from_numpy(out.rgb).permute(2, 0, 1))


def luma_error(out: torch.Tensor, gray: torch.Tensor) -> float:
    """The largest difference between ``out``'s luma and the gray input's, on the 0-255 scale."""
    luma = (out.double() * torch.tensor(LUMA, dtype=torch.float64).view(3, 1, 1)).sum(0)
    return float((luma - gray[0].double()).abs().max() * 255)


def single_step(photos: dict, models: Models) -> dict:
    rows = {}
    for name, img in photos.items():
        gray = quantize(to_gray(img))
        start = time.perf_counter()
        out = colorized(gray, models)
        seconds = time.perf_counter() - start
        base, psnr = psnr_rgb(gray, img), psnr_rgb(out, img)
        rows[name] = {"size": list(img.shape[:0:-1]), "psnr_gray": base, "psnr": psnr, "gain": psnr - base,
                      "luma_error": luma_error(out, gray), "colourfulness_original": colourfulness(img),
                      "colourfulness": colourfulness(out), "seconds": seconds}
        r = rows[name]
        print(f"{name:24s} gray {base:6.2f}  single {psnr:6.2f} ({psnr - base:+.2f})  luma {r['luma_error']:.2f}  "
              f"colourfulness {r['colourfulness']:5.1f} / {r['colourfulness_original']:5.1f}  {seconds:.1f} s",
              flush=True)
    return rows


def diffusion(photos: dict, models: Models, samples: int, steps: int | None, consistency: bool, single: dict) -> dict:
    rows = {}
    for name, img in photos.items():
        gray = quantize(to_gray(img))
        start = time.perf_counter()
        outs = [colorized(gray, models, restorator="diffusion", consistency=consistency,
                          sampling=Sampling(steps=steps, seed=k)) for k in range(samples)]
        seconds = time.perf_counter() - start
        mean = torch.stack(outs).mean(0)
        rows[name] = {"colourfulness": [colourfulness(o) for o in outs],
                      "luma_error": max(luma_error(o, gray) for o in outs),
                      "psnr_samples": [psnr_rgb(o, img) for o in outs], "psnr_mean": psnr_rgb(mean, img),
                      "seconds": seconds}
        r = rows[name]
        print(f"{name:24s} {samples} samples: colourfulness {np.mean(r['colourfulness']):5.1f}  one sample "
              f"{np.mean(r['psnr_samples']):6.2f}  mean {r['psnr_mean']:6.2f} (single {single[name]['psnr']:6.2f})  "
              f"luma {r['luma_error']:.2f}  {seconds:.1f} s", flush=True)
    return rows


def bar(value: float, met: bool, **more) -> dict:
    return {"value": round(value, 3), "met": bool(met), **more}


def summary(single: dict, sampled: dict | None) -> dict:
    """The means, and the issue's bars: each a value and whether it is met."""
    names = list(single)

    def mean(rows: dict, key: str) -> float:
        return float(np.mean([np.mean(rows[n][key]) for n in names]))

    original, coloured, gain = (mean(single, key) for key in ("colourfulness_original", "colourfulness", "gain"))
    worst = min(names, key=lambda n: single[n]["gain"])
    luma = max(single[n]["luma_error"] for n in names)
    out = {"mean PSNR gray input": mean(single, "psnr_gray"), "mean PSNR single-step": mean(single, "psnr"),
           "mean colourfulness originals": original, "mean colourfulness single-step": coloured, "bars": {
               "single-step mean PSNR gain over the gray input, dB (>= +0.5)": bar(gain, gain >= 0.5),
               "single-step worst photo's gain, dB (>= -0.5)": bar(single[worst]["gain"],
                                                                 single[worst]["gain"] >= -0.5, photo=worst),
               "single-step largest luma error, /255 (<= 1)": bar(luma, luma <= 1),
               "single-step colourfulness / originals' (>= 0.5)": bar(coloured / original, coloured >= 0.5 * original)}}
    if sampled:
        vivid, luma = mean(sampled, "colourfulness"), max(sampled[n]["luma_error"] for n in names)
        gap = mean(sampled, "psnr_mean") - out["mean PSNR single-step"]
        out.update({"mean colourfulness diffusion samples": vivid,
                    "mean PSNR one diffusion sample": mean(sampled, "psnr_samples"),
                    "mean PSNR mean of the samples": mean(sampled, "psnr_mean")})
        out["bars"].update({
            "diffusion samples' colourfulness / originals' (>= 0.8)": bar(vivid / original, vivid >= 0.8 * original),
            "diffusion largest luma error over all samples, /255 (<= 1)": bar(luma, luma <= 1),
            "diffusion mean of the samples' PSNR minus single-step PSNR, dB (within 0.3)": bar(gap, abs(gap) <= 0.3)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=["data/val", "data/eval"])
    parser.add_argument("--model", default=str(BUNDLED["colorize"]), help="the single-step colour model")
    parser.add_argument("--diffusion-model", help="a colorizing diffusion model: its samples are measured too")
    parser.add_argument("--samples", type=int, default=16, help="diffusion samples per photo (seeds 0 to N-1)")
    parser.add_argument("--steps", type=int, help="diffusion steps (default: the restorator's)")
    parser.add_argument("--consistency", action="store_true", help="diffusion: project every step onto the luma")
    parser.add_argument("--max-side", type=int, help="downscale photos first so their longer side is at most this")
    parser.add_argument("--squash", type=int, help="resize every photo to exactly this square first (as Zhang et "
                                                   "al. 2017 measured on ImageNet: 256)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    photos, skipped = load_photos(args.folders, args.max_side, args.squash)
    models = Models(colorize=args.model, colorize_diffusion=args.diffusion_model)
    single = single_step(photos, models)
    sampled = None
    if args.diffusion_model:
        sampled = diffusion(photos, models, args.samples, args.steps, args.consistency, single)
    result = {"settings": {"folders": args.folders, "model": shown(args.model),
                           "diffusion_model": shown(args.diffusion_model),
                           "samples": args.samples if sampled else None, "steps": args.steps,
                           "consistency": args.consistency, "max_side": args.max_side, "squash": args.squash,
                           "photos": len(photos), "gray photos skipped": skipped, "threads": args.threads,
                           "seconds": round(time.perf_counter() - started, 1)},
              "summary": summary(single, sampled), "single-step": single}
    if sampled:
        result["diffusion"] = sampled
    print(json.dumps(result["summary"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
