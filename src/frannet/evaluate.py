"""Evaluation: restore bicubic-downscaled photos and compare with the originals."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from .consistency import BicubicDown
from .degradations import bicubic_downscale, quantize
from .metrics import psnr_y, ssim_y
from .models import FranNet
from .restorators import render


def center_crop(img: torch.Tensor, side: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    side_h, side_w = min(side, h), min(side, w)
    top, left = (h - side_h) // 2, (w - side_w) // 2
    return img[..., top:top + side_h, left:left + side_w]


def degrade(hr: torch.Tensor, scale: float) -> torch.Tensor:
    """The evaluation input: HR bicubic-downscaled (Pillow-exact) and rounded to 8 bits."""
    return quantize(bicubic_downscale(hr.double(), scale).float())


def modcrop(hr: torch.Tensor, scale: float) -> torch.Tensor:
    """Crop so both sides are whole multiples of ``scale`` (for integer scales)."""
    if float(scale).is_integer():
        s = int(scale)
        h, w = hr.shape[-2:]
        return hr[..., : h - h % s, : w - w % s]
    return hr


def pillow_upscale(lr: torch.Tensor, size: tuple[int, int], method) -> torch.Tensor:
    """Upscale with Pillow (BICUBIC or LANCZOS) in float mode, channel by channel."""
    chans = [Image.fromarray(c.numpy().astype("float32"), mode="F").resize((size[1], size[0]), method) for c in lr]
    return torch.stack([torch.from_numpy(np.array(c)) for c in chans]).clamp(0, 1)


METHODS = ("model", "model+consistency", "bicubic", "lanczos")


def evaluate_images(model: FranNet, images: dict[str, torch.Tensor], scales, methods=METHODS, progress=None) -> dict:
    """PSNR-Y/SSIM-Y per image, scale and method (frannet, frannet with consistency, bicubic,
    Lanczos), plus means over the images.

    ``images`` maps names to (3, H, W) originals. Returns
    {"per_image": {name: {scale: {method: {"psnr", "ssim"}}}}, "mean": {scale: {method: {...}}}}.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    per_image: dict = {name: {} for name in images}
    for name, img in images.items():
        for s in scales:
            hr = modcrop(img, s)
            lr = degrade(hr, s)
            size = tuple(hr.shape[-2:])
            sr = render(model, lr.to(device), size).cpu()
            make = {"model": lambda: sr.clamp(0, 1),
                    "model+consistency": lambda: BicubicDown(size, tuple(lr.shape[-2:])).project_valid(sr, lr),
                    "bicubic": lambda: pillow_upscale(lr, size, Image.BICUBIC),
                    "lanczos": lambda: pillow_upscale(lr, size, Image.LANCZOS)}
            outputs = {m: make[m]() for m in methods}
            border = math.ceil(s)
            per_image[name][str(s)] = {m: {"psnr": psnr_y(outputs[m], hr, border), "ssim": ssim_y(outputs[m], hr, border)}
                                       for m in methods}
            if progress is not None:
                progress(1)
    model.train(was_training)
    mean = {str(s): {m: {k: sum(per_image[n][str(s)][m][k] for n in images) / len(images) for k in ("psnr", "ssim")}
                     for m in methods} for s in scales}
    return {"per_image": per_image, "mean": mean}


def validate(model: FranNet, images: list[torch.Tensor], scales, crop: int) -> dict:
    """Mean PSNR-Y of the model and of bicubic on centre crops, per scale (used while training)."""
    crops = {str(i): center_crop(img, crop) for i, img in enumerate(images)}
    mean = evaluate_images(model, crops, scales, methods=("model", "bicubic"))["mean"]
    return {s: {m: row[m]["psnr"] for m in row} for s, row in mean.items()}


def format_table(result: dict) -> str:
    names = {"model": "frannet", "model+consistency": "+consistency", "bicubic": "bicubic", "lanczos": "lanczos"}
    head = f"{'scale':>6} | " + " | ".join(f"{names[m] + ' PSNR/SSIM':>21}" for m in METHODS) + f" | {'gain':>6}"
    lines = [head, "-" * len(head)]
    for s, row in result["mean"].items():
        cells = " | ".join(f"{row[m]['psnr']:11.2f} / {row[m]['ssim']:.4f}" for m in METHODS)
        gain = row["model"]["psnr"] - row["bicubic"]["psnr"]
        lines.append(f"{'x' + format(float(s), 'g'):>6} | {cells} | {gain:+6.2f}")
    return "\n".join(lines)
