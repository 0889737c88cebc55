"""Evaluation: restore degraded photos (``degradations.Degradation``: bicubic-downscaled, noisy,
gray) and compare with the originals."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from .consistency import BicubicDown
from .degradations import Degradation
from .metrics import psnr_rgb, psnr_y, ssim_y
from .models import FranNet
from .restorators import VALIDATION, Sampling, render_mean

SEED = 0  # the noise of every evaluation input comes from this seed


def center_crop(img: torch.Tensor, side: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    side_h, side_w = min(side, h), min(side, w)
    top, left = (h - side_h) // 2, (w - side_w) // 2
    return img[..., top:top + side_h, left:left + side_w]


def modcrop(hr: torch.Tensor, scale: float | tuple[float, float]) -> torch.Tensor:
    """Crop so each side is a whole multiple of its ``scale`` (a number, or (sy, sx)), where
    that scale is an integer."""
    sy, sx = (scale, scale) if isinstance(scale, (int, float)) else scale
    h, w = hr.shape[-2:]
    h -= h % int(sy) if float(sy).is_integer() else 0
    w -= w % int(sx) if float(sx).is_integer() else 0
    return hr[..., :h, :w]


def pillow_upscale(lr: torch.Tensor, size: tuple[int, int], method) -> torch.Tensor:
    """Upscale with Pillow (BICUBIC or LANCZOS) in float mode, channel by channel."""
    chans = [Image.fromarray(c.numpy().astype("float32"), mode="F").resize((size[1], size[0]), method) for c in lr]
    return torch.stack([torch.from_numpy(np.array(c)) for c in chans]).clamp(0, 1)


METHODS = ("model", "model+consistency", "bicubic", "lanczos")


def evaluate_images(model: FranNet, images: dict[str, torch.Tensor], scales, progress=None,
                    sampling: Sampling = VALIDATION) -> dict:
    """PSNR-Y/SSIM-Y per image, scale and method (frannet, frannet with consistency, bicubic,
    Lanczos), plus means over the images. An iterative model runs ``sampling`` (by default one
    sample of 4 steps; with several samples, their mean is scored).

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
            lr = Degradation(sx=s, sy=s).apply(hr)
            size = tuple(hr.shape[-2:])
            sr = render_mean(model, lr.to(device), size, sampling=sampling).cpu()
            outputs = {"model": sr.clamp(0, 1),
                       "model+consistency": BicubicDown(size, tuple(lr.shape[-2:])).project_valid(sr, lr),
                       "bicubic": pillow_upscale(lr, size, Image.BICUBIC),
                       "lanczos": pillow_upscale(lr, size, Image.LANCZOS)}
            border = math.ceil(s)
            per_image[name][str(s)] = {m: {"psnr": psnr_y(outputs[m], hr, border), "ssim": ssim_y(outputs[m], hr, border)}
                                       for m in METHODS}
            if progress is not None:
                progress(1)
    model.train(was_training)
    mean = {str(s): {m: {k: sum(per_image[n][str(s)][m][k] for n in images) / len(images) for k in ("psnr", "ssim")}
                     for m in METHODS} for s in scales}
    return {"per_image": per_image, "mean": mean}


@torch.no_grad()
def validate(model: FranNet, images: list[torch.Tensor], degradations: list[Degradation], *, crop: int) -> dict:
    """Mean PSNR of the model and of the untrained baseline (bicubic upscaling of the input) on
    centre crops, per degradation (used while training; ``degradations.validation_degradations``).
    Upscaling alone is judged on Y, anything with noise or gray inputs on RGB. Keys are the
    degradations' labels: 'x4', 'x1 s25' or 'x1 s25 gray'."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    result = {}
    for degradation in degradations:
        psnr = psnr_y if not (degradation.noise or degradation.gray) else psnr_rgb
        scaled = (degradation.sx, degradation.sy) != (1, 1)
        totals = {"model": 0.0, "bicubic": 0.0}
        for img in images:
            hr = modcrop(center_crop(img, crop), (degradation.sy, degradation.sx))
            lr = degradation.apply(hr, torch.Generator().manual_seed(SEED))
            size = tuple(hr.shape[-2:])
            out = render_mean(model, lr.to(device), size, degradation=degradation).cpu().clamp(0, 1)
            base = pillow_upscale(lr, size, Image.BICUBIC) if scaled else lr.clamp(0, 1)
            border = math.ceil(max(degradation.sx, degradation.sy))
            totals["model"] += psnr(out, hr, border) / len(images)
            totals["bicubic"] += psnr(base, hr, border) / len(images)
        result[degradation.label()] = totals
    model.train(was_training)
    return result


def format_table(result: dict) -> str:
    names = {"model": "frannet", "model+consistency": "+consistency", "bicubic": "bicubic", "lanczos": "lanczos"}
    head = f"{'scale':>6} | " + " | ".join(f"{names[m] + ' PSNR/SSIM':>21}" for m in METHODS) + f" | {'gain':>6}"
    lines = [head, "-" * len(head)]
    for s, row in result["mean"].items():
        cells = " | ".join(f"{row[m]['psnr']:11.2f} / {row[m]['ssim']:.4f}" for m in METHODS)
        gain = row["model"]["psnr"] - row["bicubic"]["psnr"]
        lines.append(f"{'x' + format(float(s), 'g'):>6} | {cells} | {gain:+6.2f}")
    return "\n".join(lines)
