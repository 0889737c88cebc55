"""How much fine detail a picture holds at its own resolution, and shrinking smooth pictures
until they hold as much as a photo.

A wallpaper of 5120 x 2880 is often soft at the pixel level (upscaled, denoised or shot out of
focus): halved and restored by bicubic it comes back within 45-50 dB, where a photo of ordinary
size comes back within 25-35. Cut into training crops as it is, it teaches super-resolution that
bicubic is nearly right. Shrinking it packs its detail into fewer pixels: the scene is the same,
the crops are as sharp as the photos the model will be given.
"""

from __future__ import annotations

import math

import torch

from .degradations import bicubic_resize
from .metrics import psnr_y

SHRINK_STEP = 1.25  # each try shrinks the picture by this much more than the last


def detail_db(img: torch.Tensor, border: int = 8) -> float:
    """PSNR-Y (``metrics.psnr_y``) of (3, H, W) ``img`` against itself halved and restored by
    Pillow-like bicubic; ``border`` pixels of each edge left out. Higher is smoother."""
    h, w = (s - s % 2 for s in img.shape[-2:])
    img = img[..., :h, :w]
    return psnr_y(bicubic_resize(bicubic_resize(img, (h // 2, w // 2)), (h, w)), img, crop=border)


def _shrunk_windows(img: torch.Tensor, factor: float, window: int) -> list[torch.Tensor]:
    """Four windows of ``img`` centred in its quarters, each ``window`` pixels a side once shrunk
    by ``factor``; or all of it shrunk, if it is too small for them."""
    h, w = img.shape[-2:]
    side = round(window * factor)
    if min(h, w) < 2 * side:
        return [bicubic_resize(img, (round(h / factor), round(w / factor)))]
    return [bicubic_resize(img[..., cy - side // 2:cy - side // 2 + side, cx - side // 2:cx - side // 2 + side],
                           (window, window))
            for cy in (h // 4, 3 * h // 4) for cx in (w // 4, 3 * w // 4)]


def shrink_to_detail(img: torch.Tensor, target_db: float, min_side: int, window: int = 256) -> torch.Tensor:
    """``img`` shrunk (bicubic, antialiased) by the smallest power of ``SHRINK_STEP`` that brings
    its detail to ``target_db`` or below, but never so far that its shorter side falls under
    ``min_side``; as it is if it is detailed enough already. The detail of a shrink is measured
    on four windows (``window`` pixels a side once shrunk), the mean of their squared errors:
    measuring all of a 20-megapixel picture at every try would take a minute."""
    h, w = img.shape[-2:]
    factor = 1.0

    def detail(f: float) -> float:
        shrunk = _shrunk_windows(img, f, window)
        mse = sum(10 ** (-detail_db(win) / 10) for win in shrunk) / len(shrunk)  # relative to 255^2
        return -10 * math.log10(mse) if mse > 0 else math.inf

    while detail(factor) > target_db and min(h, w) / (factor * SHRINK_STEP) >= min_side:
        factor *= SHRINK_STEP
    return img if factor == 1.0 else bicubic_resize(img, (round(h / factor), round(w / factor)))
