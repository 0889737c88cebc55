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
    """The evaluation input: HR cropped to a multiple of the scale, bicubic-downscaled, 8-bit."""
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


def validate(model: FranNet, images: list[torch.Tensor], scales, crop: int) -> dict:
    """Mean PSNR-Y of the model and of bicubic over centre crops, per scale."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    result = {}
    for s in scales:
        ours, base = [], []
        for img in images:
            hr = modcrop(center_crop(img, crop), s)
            lr = degrade(hr, s)
            size = tuple(hr.shape[-2:])
            border = int(round(s))
            ours.append(psnr_y(render(model, lr.to(device), size).cpu(), hr, border))
            base.append(psnr_y(pillow_upscale(lr, size, Image.BICUBIC), hr, border))
        result[str(s)] = {"model": sum(ours) / len(ours), "bicubic": sum(base) / len(base)}
    model.train(was_training)
    return result



METHODS = ("model", "model+consistency", "bicubic", "lanczos")


def evaluate_images(model: FranNet, images: dict[str, torch.Tensor], scales, progress=None) -> dict:
    """PSNR-Y/SSIM-Y of the model, bicubic and Lanczos per image and scale, plus means.

    ``images`` maps names to (3, H, W) originals. Returns
    {"per_image": {name: {scale: {method: {"psnr", "ssim"}}}}, "mean": {scale: {method: {...}}}}.
    """
    model.eval()
    per_image: dict = {}
    for name, img in images.items():
        per_image[name] = {}
        for s in scales:
            hr = modcrop(img, s)
            lr = degrade(hr, s)
            size = tuple(hr.shape[-2:])
            sr = render(model, lr, size)
            outputs = {"model": sr.clamp(0, 1),
                       "model+consistency": BicubicDown(size, tuple(lr.shape[-2:])).project_valid(sr, lr),
                       "bicubic": pillow_upscale(lr, size, Image.BICUBIC),
                       "lanczos": pillow_upscale(lr, size, Image.LANCZOS)}
            border = math.ceil(s)
            per_image[name][str(s)] = {m: {"psnr": psnr_y(out, hr, border), "ssim": ssim_y(out, hr, border)}
                                       for m, out in outputs.items()}
            if progress is not None:
                progress(1)
    mean = {str(s): {m: {k: sum(per_image[n][str(s)][m][k] for n in images) / len(images) for k in ("psnr", "ssim")}
                     for m in METHODS} for s in scales}
    return {"per_image": per_image, "mean": mean}


def format_table(result: dict) -> str:
    names = {"model": "frannet", "model+consistency": "+consistency", "bicubic": "bicubic", "lanczos": "lanczos"}
    head = f"{'scale':>6} | " + " | ".join(f"{names[m] + ' PSNR/SSIM':>21}" for m in METHODS) + f" | {'gain':>6}"
    lines = [head, "-" * len(head)]
    for s, row in result["mean"].items():
        cells = " | ".join(f"{row[m]['psnr']:11.2f} / {row[m]['ssim']:.4f}" for m in METHODS)
        gain = row["model"]["psnr"] - row["bicubic"]["psnr"]
        lines.append(f"{'x' + format(float(s), 'g'):>6} | {cells} | {gain:+6.2f}")
    return "\n".join(lines)
