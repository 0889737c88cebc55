"""Restoring JPEGs: PSNR-Y gain over bicubic of the decoded JPEG, per scale and quality.

    python benchmarks/jpeg_sr.py [FOLDER ...] [--models A.safetensors B.safetensors] [--json OUT]

For each photo of the folders (default data/val data/eval), case and model: HR is the photo
cropped to a multiple of the scale, LR its Pillow-exact bicubic downscale rounded to 8 bits and
then saved as a JPEG by Pillow (4:2:0, as cameras and most software do) and decoded; the
baseline is Pillow's bicubic upscaling of that decoded JPEG (at x1: the decoded JPEG itself).
A JPEG-aware model is told the quality (as ``frannet restore`` reads it from the file's tables);
any other model is told nothing. PSNR-Y follows BasicSR (``scale`` border pixels cropped).
The cases are issue 19's bars: x2 at qualities 90, 75, 50, 30, x4 at 75, x1 at 50 and 30, and
the clean x2 and x4 inputs (no JPEG). ``--consistency`` adds two rows per JPEG case: the output
held to the file's quantization cells (``jpeg_cells``, what ``--consistency`` does on a JPEG) and
held to the decoded pixels (plain bicubic consistency, which takes the artefacts back).
``--cases x2q75 x1q10 ...`` runs those cases instead. ``--ensemble N`` (2, 4 or 8) adds a row
per case: the mean of the model's outputs for N mirror views of the input (``frannet restore
--ensemble N``).
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import torch
from PIL import Image

from frannet.api import BUNDLED_MODEL, load
from frannet.consistency import BicubicDown
from frannet.data import list_images
from frannet.degradations import Degradation
from frannet.ensemble import views
from frannet.evaluate import modcrop, pillow_upscale
from frannet.io import read_image
from frannet.jpeg_cells import cells, hold_to_jpeg
from frannet.metrics import psnr_y
from frannet.restorators import render_mean

CASES = [(2, None), (4, None), (2, 90), (2, 75), (2, 50), (2, 30), (4, 75), (1, 50), (1, 30)]


def parse_case(text: str) -> tuple[int, int | None]:
    """'x2q75' -> (2, 75); 'x4clean' -> (4, None)."""
    match = re.fullmatch(r"x(\d+)(?:q(\d+)|clean)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"a case is xSqQ or xSclean, e.g. x2q75 or x4clean, not {text!r}")
    return int(match[1]), int(match[2]) if match[2] else None


def case_label(scale: int, quality: int | None) -> str:
    return f"x{scale} " + (f"q{quality}" if quality else "clean")


def measure(model, hr: torch.Tensor, scale: int, quality: int | None, consistency: bool = False,
            ensemble: int = 1) -> dict:
    """PSNR-Y per variant ("model", "baseline"; with ``consistency`` and a JPEG, "held to the
    file" and "held to the pixels"; with ``ensemble`` > 1, "ensemble N") for one photo and case."""
    hr = modcrop(hr, scale)
    lr = Degradation(sx=scale, sy=scale, jpeg=quality).apply(hr)
    size = tuple(hr.shape[-2:])
    told = Degradation(sx=scale, sy=scale, jpeg=quality if model.cfg.jpeg else None)
    outs = {"model": render_mean(model, lr, size, degradation=told).clamp(0, 1),
            "baseline": pillow_upscale(lr, size, Image.BICUBIC) if scale > 1 else lr}
    if ensemble > 1:
        outs[f"ensemble {ensemble}"] = torch.stack([
            view.undo(render_mean(model, view.apply(lr), view.size(size), degradation=told))
            for view in views(ensemble)]).mean(dim=0).clamp(0, 1)
    if consistency and quality:
        down = BicubicDown(size, tuple(lr.shape[-2:]))
        held = cells(lr, quality)
        if held is not None:
            outs["held to the file"] = hold_to_jpeg(outs["model"], down, held)
        outs["held to the pixels"] = down.project_valid(outs["model"], lr)
    border = max(1, math.ceil(scale))
    return {name: psnr_y(out, hr, border) for name, out in outs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=["data/val", "data/eval"])
    parser.add_argument("--models", nargs="+", default=[str(BUNDLED_MODEL)])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--consistency", action="store_true", help="also the outputs held to the file and to the pixels")
    parser.add_argument("--cases", nargs="+", type=parse_case, default=CASES,
                        help="these cases instead of issue 19's, e.g. x2q75 x1q10 x4clean")
    parser.add_argument("--ensemble", type=int, default=1, choices=(1, 2, 4, 8),
                        help="also the mean over this many mirror views")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    photos = {p.stem: torch.from_numpy(read_image(p).rgb).permute(2, 0, 1) for p in list_images(args.folders)}
    result = {}
    for path in args.models:
        model = load(path)
        rows = {}
        for scale, quality in args.cases:
            scores = [measure(model, hr, scale, quality, args.consistency, args.ensemble) for hr in photos.values()]
            row = rows[case_label(scale, quality)] = {}
            for variant in [v for v in scores[0] if v != "baseline"]:
                gains = [s[variant] - s["baseline"] for s in scores if variant in s]
                key = "" if variant == "model" else f" {variant}"
                row.update({f"model{key}": sum(s[variant] for s in scores if variant in s) / len(gains),
                            f"gain{key}": sum(gains) / len(gains), f"worst gain{key}": min(gains),
                            f"per photo{key}": {n: round(g, 3) for n, g in zip(photos, gains)}})
                print(f"{Path(path).name:32s} {case_label(scale, quality):9s} {variant:18s} gain "
                      f"{row[f'gain{key}']:+.3f} (worst {row[f'worst gain{key}']:+.2f}, {len(gains)} photos)", flush=True)
            row["baseline"] = sum(s["baseline"] for s in scores) / len(scores)
        result[str(path)] = rows
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": list(photos), "results": result}, indent=1) + "\n")


if __name__ == "__main__":
    main()
