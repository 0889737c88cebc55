"""Restoring JPEGs: PSNR-Y gain over bicubic of the decoded JPEG, per scale and quality.

    python benchmarks/jpeg_sr.py [FOLDER ...] [--models A.safetensors B.safetensors] [--json OUT]

For each photo of the folders (default data/val data/eval), case and model: HR is the photo
cropped to a multiple of the scale, LR its Pillow-exact bicubic downscale rounded to 8 bits and
then saved as a JPEG by Pillow (4:2:0, as cameras and most software do) and decoded; the
baseline is Pillow's bicubic upscaling of that decoded JPEG (at x1: the decoded JPEG itself).
A JPEG-aware model is told the quality (as ``frannet restore`` reads it from the file's tables);
any other model is told nothing. PSNR-Y follows BasicSR (``scale`` border pixels cropped).
The cases are issue 19's bars: x2 at qualities 90, 75, 50, 30, x4 at 75, x1 at 50 and 30, and
the clean x2 and x4 inputs (no JPEG).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
from PIL import Image

from frannet.api import BUNDLED_MODEL, load
from frannet.data import list_images
from frannet.degradations import Degradation
from frannet.evaluate import modcrop, pillow_upscale
from frannet.io import read_image
from frannet.metrics import psnr_y
from frannet.restorators import render_mean

CASES = [(2, None), (4, None), (2, 90), (2, 75), (2, 50), (2, 30), (4, 75), (1, 50), (1, 30)]


def case_label(scale: int, quality: int | None) -> str:
    return f"x{scale} " + (f"q{quality}" if quality else "clean")


def measure(model, hr: torch.Tensor, scale: int, quality: int | None) -> tuple[float, float]:
    """(model PSNR-Y, baseline PSNR-Y) for one photo and case."""
    hr = modcrop(hr, scale)
    lr = Degradation(sx=scale, sy=scale, jpeg=quality).apply(hr)
    size = tuple(hr.shape[-2:])
    told = Degradation(sx=scale, sy=scale, jpeg=quality if model.cfg.jpeg else None)
    out = render_mean(model, lr, size, degradation=told).clamp(0, 1)
    base = pillow_upscale(lr, size, Image.BICUBIC) if scale > 1 else lr
    border = max(1, math.ceil(scale))
    return psnr_y(out, hr, border), psnr_y(base, hr, border)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=["data/val", "data/eval"])
    parser.add_argument("--models", nargs="+", default=[str(BUNDLED_MODEL)])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    photos = {p.stem: torch.from_numpy(read_image(p).rgb).permute(2, 0, 1) for p in list_images(args.folders)}
    result = {}
    for path in args.models:
        model = load(path)
        rows = {}
        for scale, quality in CASES:
            pairs = [measure(model, hr, scale, quality) for hr in photos.values()]
            gains = [m - b for m, b in pairs]
            rows[case_label(scale, quality)] = {
                "model": sum(m for m, _ in pairs) / len(pairs), "baseline": sum(b for _, b in pairs) / len(pairs),
                "gain": sum(gains) / len(gains), "worst gain": min(gains),
                "per photo": {name: round(g, 3) for name, g in zip(photos, gains)}}
            r = rows[case_label(scale, quality)]
            print(f"{Path(path).name:32s} {case_label(scale, quality):9s} model {r['model']:.2f}  baseline "
                  f"{r['baseline']:.2f}  gain {r['gain']:+.2f} (worst {r['worst gain']:+.2f})", flush=True)
        result[str(path)] = rows
    if args.json:
        Path(args.json).write_text(json.dumps({"photos": list(photos), "results": result}, indent=1) + "\n")


if __name__ == "__main__":
    main()
