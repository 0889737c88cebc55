"""Large images: peak memory against input size, and progressive against one-shot upscaling.

    python benchmarks/large_images.py memory [--sizes 512,2048,4096] [--json OUT]
    python benchmarks/large_images.py progressive data/val [--json OUT]
    python benchmarks/large_images.py seams [--json OUT]

memory: ``frannet restore --scale 4`` on square inputs of each size (the bundled photo tiled to
size), written to TIFF, each run in its own process; the figure is that process's peak
resident memory. A 4096 input gives a 16384 x 16384 (268 MP) output, which is streamed to
disk band by band. Run it on an idle machine: the largest size takes about half an hour.

seams: the bundled diffusion restorator (8 steps, one sample) upscales a smooth colour gradient
x4 in small tiles; the mean step between neighbouring pixels across tile borders over the mean
step elsewhere (1 = no seam), and the largest difference from the same image in one tile.

progressive: x8 on the held-out photos (centre crops, bicubic-degraded as ``frannet eval``
does), one shot against x2 x2 x2 and x4 x2, PSNR-Y (8-pixel border cropped) and seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import torch
from PIL import Image

from frannet.api import SAMPLE_IMAGE
from frannet.degradations import Degradation
from frannet.metrics import psnr_y, seam_ratio
from frannet.checkpoint import load_model
from frannet.data import list_images
from frannet.io import read_image
from frannet.pipeline import BUNDLED
from frannet.restorators import Sampling, render_iterative
from frannet.tiling import render_tiled, tile_borders

PLANS = {"one shot": (8.0,), "x2 x2 x2": (2.0, 2.0, 2.0), "x4 x2": (4.0, 2.0)}
CROP = 384  # HR crop side for the progressive comparison (48 input pixels at x8)


def peak_memory(size: int, workdir: Path) -> dict:
    """Peak RSS (MB) and seconds of ``frannet restore --scale 4`` on a size x size input."""
    sample = np.asarray(Image.open(SAMPLE_IMAGE).convert("RGB"))
    reps = (size // sample.shape[0] + 1, size // sample.shape[1] + 1, 1)
    src = workdir / f"in-{size}.png"
    Image.fromarray(np.tile(sample, reps)[:size, :size]).save(src)
    out = workdir / f"out-{size}.tif"
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    cmd = [sys.executable, "-m", "frannet", "restore", str(src), "-o", str(out), "--scale", "4", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr}")
    seconds = time.perf_counter() - start
    with tifffile.TiffFile(out) as tif:
        assert tif.pages[0].shape == (4 * size, 4 * size, 3), tif.pages[0].shape
    out.unlink()
    return {"input": size, "output": 4 * size, "peak_mb": int(done.stdout.split()[-1]) / 1024, "seconds": seconds}


def progressive(folder: str) -> dict:
    model = load_model(BUNDLED["upscale"])
    scores = {name: [] for name in PLANS}
    seconds = dict.fromkeys(PLANS, 0.0)
    for path in list_images([folder]):
        hr = torch.from_numpy(read_image(path).rgb).permute(2, 0, 1)
        h, w = hr.shape[1:]
        c = min(h, w, CROP) // 8 * 8
        hr = hr[:, (h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c]
        lr = Degradation(sx=8, sy=8).apply(hr)
        for name, factors in PLANS.items():
            start, x, reached = time.perf_counter(), lr, 1.0
            for i, f in enumerate(factors):
                reached *= f
                side = c if i == len(factors) - 1 else round(lr.shape[-1] * reached)
                x = render_tiled(model, x, (side, side)).clamp(0.0, 1.0)
            seconds[name] += time.perf_counter() - start
            scores[name].append(psnr_y(x, hr, 8))
    return {name: {"psnr_y": float(np.mean(v)), "per_photo": v, "seconds": seconds[name]} for name, v in scores.items()}


def seams(side: int = 128, tile: int = 32) -> dict:
    model = load_model(BUNDLED["diffusion"])
    y, x = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
    lr, size = torch.stack([0.2 + 0.6 * x, 0.2 + 0.6 * y, 0.5 + 0.3 * (x - y)]), (4 * side, 4 * side)
    sampling = Sampling(steps=8, seed=0)
    tiled, _ = render_iterative(model, lr, size, sampling, tile=tile)
    whole, _ = render_iterative(model, lr, size, sampling, tile=side)
    rows, cols = tile_borders(model.cfg, (side, side), size, tile)
    return {"input": side, "tile": tile, "output_tiles": (len(rows) + 1) * (len(cols) + 1),
            "seam_ratio": seam_ratio(tiled, rows, cols),
            "max_diff_from_one_tile": float((tiled - whole).abs().max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--sizes", default="512,2048,4096")
    m.add_argument("--json")
    p = sub.add_parser("progressive")
    p.add_argument("folder")
    p.add_argument("--json")
    sub.add_parser("seams").add_argument("--json")
    args = parser.parse_args()
    if args.what == "memory":
        with tempfile.TemporaryDirectory() as tmp:
            print("| input | output | peak memory | time |\n|---|---|---|---|", flush=True)
            rows = []
            for size in args.sizes.split(","):  # each row as it comes: the largest takes long
                rows.append(r := peak_memory(int(size), Path(tmp)))
                print(f"| {r['input']}² | {r['output']}² | {r['peak_mb']:.0f} MB | {r['seconds']:.0f} s |", flush=True)
        result = {"memory_x4": rows}
    elif args.what == "seams":
        result = {"seams": seams()}
        print(json.dumps(result["seams"]))
    else:
        result = {"progressive_x8": progressive(args.folder)}
        print("| x8 plan | PSNR-Y | seconds |\n|---|---|---|")
        for name, r in result["progressive_x8"].items():
            print(f"| {name} | {r['psnr_y']:.2f} | {r['seconds']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
