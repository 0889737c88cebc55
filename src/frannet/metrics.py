"""PSNR and SSIM on the Y channel, with BasicSR's conventions, PSNR on RGB, and colourfulness.

Inputs are RGB float tensors (3, H, W) in [0, 1], quantised to 8 bits first (images are
judged as saved files); Y = 16 + 65.481 R + 128.553 G + 24.966 B on the 0-255 scale;
``crop`` pixels are removed from every border before measuring.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .degradations import quantize

_Y_WEIGHTS = (65.481, 128.553, 24.966)


def rgb_to_y(img: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] to (..., H, W) Y on the 0-255 scale (BT.601, studio range)."""
    w = torch.tensor(_Y_WEIGHTS, dtype=torch.float64, device=img.device)
    return torch.einsum("...chw,c->...hw", img.double(), w) + 16.0


def _prepare(a: torch.Tensor, b: torch.Tensor, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    ya, yb = rgb_to_y(quantize(a)), rgb_to_y(quantize(b))
    if crop > 0:
        ya, yb = ya[..., crop:-crop, crop:-crop], yb[..., crop:-crop, crop:-crop]
    return ya, yb


def psnr_y(a: torch.Tensor, b: torch.Tensor, crop: int = 0) -> float:
    ya, yb = _prepare(a, b, crop)
    mse = torch.mean((ya - yb) ** 2).item()
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def psnr_rgb(a: torch.Tensor, b: torch.Tensor, crop: int = 0) -> float:
    """PSNR over all three channels of the 8-bit images (the denoising convention)."""
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    qa, qb = quantize(a).double() * 255, quantize(b).double() * 255
    if crop > 0:
        qa, qb = qa[..., crop:-crop, crop:-crop], qb[..., crop:-crop, crop:-crop]
    mse = torch.mean((qa - qb) ** 2).item()
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def _ssim(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean SSIM of two (H, W) planes on the 0-255 scale over the valid region of an 11x11
    Gaussian window (sigma 1.5)."""
    x, y = x[None, None], y[None, None]
    win = _gaussian_window()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_x, mu_y = F.conv2d(x, win), F.conv2d(y, win)
    sxx = F.conv2d(x * x, win) - mu_x**2
    syy = F.conv2d(y * y, win) - mu_y**2
    sxy = F.conv2d(x * y, win) - mu_x * mu_y
    ssim = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return ssim.mean().item()


def ssim_y(a: torch.Tensor, b: torch.Tensor, crop: int = 0) -> float:
    return _ssim(*_prepare(a, b, crop))


def ssim_rgb(a: torch.Tensor, b: torch.Tensor) -> float:
    """SSIM averaged over the R, G and B planes of the 8-bit images."""
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    qa, qb = quantize(a).double() * 255, quantize(b).double() * 255
    return sum(_ssim(qa[c], qb[c]) for c in range(3)) / 3


def colourfulness(img: torch.Tensor) -> float:
    """Hasler and Süsstrunk's colourfulness M of a (3, H, W) RGB image, on the 8-bit image's
    0-255 scale: with the opponent channels rg = R - G and yb = (R + G) / 2 - B of every pixel,
    M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2) (population std).
    0 for a gray image; their survey reads about 15 as slightly, 33 moderately, 59 quite and 82
    highly colourful."""
    r, g, b = torch.round(img.double().clamp(0.0, 1.0) * 255).unbind(dim=-3)  # the 8-bit levels
    rg, yb = r - g, (r + g) / 2 - b
    spread = math.hypot(rg.std(correction=0).item(), yb.std(correction=0).item())
    return spread + 0.3 * math.hypot(rg.mean().item(), yb.mean().item())


def seam_ratio(img: torch.Tensor, rows: list[int], cols: list[int]) -> float:
    """How much (3, H, W) ``img`` jumps across the tile borders ``rows`` and ``cols`` (the first
    row or column of each tile after the first) against everywhere else: the mean absolute step
    between neighbouring pixels across the borders over the mean step between all other
    neighbours, in both directions. About 1 for a seamless image; a visible seam is well above."""
    across_cols = (img[..., :, 1:] - img[..., :, :-1]).abs().mean(dim=(0, 1))  # (W - 1,): column c-1 -> c
    across_rows = (img[..., 1:, :] - img[..., :-1, :]).abs().mean(dim=(0, 2))  # (H - 1,)
    at = [across_cols[c - 1] for c in cols] + [across_rows[r - 1] for r in rows]
    if not at:
        raise ValueError("no tile borders to measure")
    col_mask = torch.ones_like(across_cols, dtype=torch.bool)
    col_mask[[c - 1 for c in cols]] = False
    row_mask = torch.ones_like(across_rows, dtype=torch.bool)
    row_mask[[r - 1 for r in rows]] = False
    inside = torch.cat([across_cols[col_mask], across_rows[row_mask]]).mean()
    return float(torch.stack(at).mean() / inside)
