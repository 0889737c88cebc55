"""What bfloat16 would cost in quality: PSNR-Y on the held-out photos, float32 against bf16 parts.

    OMP_NUM_THREADS=1 python benchmarks/bf16_quality.py [--folder data/val] [--scale 4] [--json OUT]

``frannet eval``'s protocol (Pillow-exact bicubic downscale rounded to 8 bits, ``scale`` pixels cut at
each border, PSNR on Y of the 8-bit output) with frannet-sr through ``render_tiled``, for:
  fp32         the float32 path (the reference)
  mlp-bf16     the decoder MLP's weights and activations in bfloat16 (oneDNN)
  encoder-bf16 the encoder under bfloat16 autocast
  both         both of them
and, for frannet-denoise at sigma 25 (colour), the same four on the photos' central 256^2 crops.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from frannet.checkpoint import load_model
from frannet.degradations import Degradation
from frannet.evaluate import center_crop, modcrop
from frannet.metrics import psnr_rgb, psnr_y
from frannet.pipeline import BUNDLED
from frannet.tiling import render_tiled


def bf16_mlp(dec):
    layers = [(m.weight.to(torch.bfloat16), m.bias.to(torch.bfloat16)) for m in dec.mlp if isinstance(m, torch.nn.Linear)]
    op = torch.ops.mkldnn._linear_pointwise

    def run(h):
        h = h.to(torch.bfloat16)
        for w, b in layers[:-1]:
            h = op(h, w, b, "relu", [], "")
        return op(h, *layers[-1], "none", [], "").float()
    return run


@contextlib.contextmanager
def variant(model, name: str):
    dec, enc = model.decoder, model.encoder
    real_forward = enc.forward
    if name in ("mlp-bf16", "both"):
        dec.run_mlp = bf16_mlp(dec)
    if name in ("encoder-bf16", "both"):
        def forward(x, cond):
            with torch.autocast("cpu", torch.bfloat16):
                return [m.float() for m in real_forward(x, cond)]
        enc.forward = forward
    try:
        yield
    finally:
        if "run_mlp" in dec.__dict__:
            del dec.run_mlp
        if "forward" in enc.__dict__:
            del enc.forward


VARIANTS = ("fp32", "mlp-bf16", "encoder-bf16", "both")


def load(path: Path) -> torch.Tensor:
    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def quantize8(img: torch.Tensor) -> torch.Tensor:
    return (img.clamp(0, 1) * 255).round() / 255


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("data/val"))
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    photos = {p.name: load(p) for p in sorted(args.folder.glob("*.png"))}
    sr = load_model(BUNDLED["upscale"])
    dn = load_model(BUNDLED["denoise"])
    result = {"sr": {v: {} for v in VARIANTS}, "denoise": {v: {} for v in VARIANTS}}
    with torch.no_grad():
        for name, img in photos.items():
            hr = modcrop(img, args.scale)
            lr = Degradation(sx=args.scale, sy=args.scale).apply(hr)
            for v in VARIANTS:
                with variant(sr, v):
                    out = quantize8(render_tiled(sr, lr, tuple(hr.shape[-2:])))
                result["sr"][v][name] = psnr_y(out, hr, args.scale)
            clean = center_crop(img, 256)
            noisy = Degradation(sigma=25.0).apply(clean, torch.Generator().manual_seed(0))
            for v in VARIANTS:
                with variant(dn, v):
                    out = quantize8(render_tiled(dn, noisy, tuple(clean.shape[-2:]), degradation=Degradation(sigma=25.0)))
                result["denoise"][v][name] = psnr_rgb(out, clean)
            print(name, {t: {v: round(result[t][v][name], 3) for v in VARIANTS} for t in result}, flush=True)
    for task in result:
        mean = {v: sum(result[task][v].values()) / len(photos) for v in VARIANTS}
        result[task]["mean"] = mean
        print(f"{task}: " + ", ".join(f"{v} {mean[v]:.3f} dB ({mean[v] - mean['fp32']:+.3f})" for v in VARIANTS))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
