"""Estimate the std of additive Gaussian noise in a photo (Immerkaer's fast method, made robust).

Immerkaer (1996): the 3x3 mask M = [[1,-2,1],[-2,4,-2],[1,-2,1]] is the difference of two
Laplacians, so it cancels smooth image content; on white noise of std sigma its response has
std 6 sigma (the squares of M sum to 36), and sqrt(pi/2) * mean|M * I| / 6 estimates sigma.

On textured photos the mask also responds to texture and edges, which inflates the global
mean. So the response is averaged per 16x16 block and a low quantile of the block estimates
is taken: a photo's smoothest blocks see mostly noise. The quantile of pure noise's block
estimates is below sigma by a fixed factor, measured once by simulation and divided out.

Saved files clip: where the noise pushes a pixel below 0 or above 1 it is stored as 0 or 1,
and the noise left in the block is weaker than sigma (at sigma 75, a fifth of a photo's pixels
and a tenth of a mid-gray block's). The first estimate skips blocks that touch clipped pixels.
When that leaves too few blocks, or sigma is high enough for noise alone to clip, the
estimate is refined: each block's estimate is divided by the shrink that clipping causes on a
flat block of the same mean under the current sigma (a table simulated once), and blocks are
chosen by their mean level, which the noise barely moves, not by whether their own noise
happened to clip (that choice keeps the blocks whose noise was weakest, and reads low).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .degradations import avgpool_downscale

BLOCK = 16
QUANTILE = 0.1
MIN_BLOCKS = 8
MAX_CLIPPED = 0.3  # blocks whose mean level makes noise clip more than this are not used
_SCALE = math.sqrt(math.pi / 2) / 6  # mean |M * noise| times this is the noise's std
_TABLE_SIGMAS = np.linspace(0.0, 0.5, 51)  # on the 0-1 scale
_TABLE_LEVELS = np.linspace(-0.5, 1.5, 161)  # true means of flat blocks, before clipping


def _mask_response(x: torch.Tensor) -> torch.Tensor:
    """|M * x| over the last two dims (valid part). M is the outer product of [1, -2, 1] with
    itself, so it is two second differences; slicing avoids a convolution's large buffers."""
    x = x[..., :-2, :] - 2 * x[..., 1:-1, :] + x[..., 2:, :]
    return (x[..., :-2] - 2 * x[..., 1:-1] + x[..., 2:]).abs()


def immerkaer(images: torch.Tensor) -> torch.Tensor:
    """Immerkaer's plain estimate (without the robust blocks) of the noise std of (B, C, H, W)
    images, channels pooled: (B,). Needs H, W >= 3."""
    return _SCALE * _mask_response(images.double()).flatten(1).mean(dim=1)


def _blocks(img: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-block statistics of a (C, H, W) image, channels' blocks concatenated: the Immerkaer
    estimate, the mean, the share of clipped pixels, and the share near one (3x3). Worked in
    strips of block rows, so a large photo needs little memory."""
    h, w = img.shape[-2] - 2, img.shape[-1] - 2  # the mask's output
    if h < BLOCK or w < BLOCK:  # smaller than one block: each channel is one block
        return _block_stats(img, h, w)
    rows = 4 * BLOCK
    parts = [_block_stats(img[:, top : top + rows + 2], min(rows, h - top) // BLOCK * BLOCK, w // BLOCK * BLOCK)
             for top in range(0, h // BLOCK * BLOCK, rows)]
    return {k: torch.cat([p[k].reshape(img.shape[0], -1) for p in parts], dim=1).flatten() for k in parts[0]}


def _block_stats(strip: torch.Tensor, h: int, w: int) -> dict[str, torch.Tensor]:
    """_blocks on the first h x w mask outputs of a strip (h, w multiples of BLOCK, or the whole
    strip as one block per channel): (C, blocks) per statistic."""
    x = strip.double()[:, None]
    response = _mask_response(x[:, 0])
    clipped = ((x == 0) | (x == 1)).double()
    near_clipped = F.max_pool2d(clipped, 3, stride=1)[:, 0]  # aligned with the mask's output
    stats = {"sigma": _SCALE * response, "mean": x[:, 0, 1:-1, 1:-1], "clipped": clipped[:, 0, 1:-1, 1:-1],
             "near": near_clipped}
    if h < BLOCK or w < BLOCK:
        return {k: v.mean(dim=(1, 2))[:, None] for k, v in stats.items()}
    return {k: avgpool_downscale(v[:, :h, :w], BLOCK).flatten(1) for k, v in stats.items()}


@lru_cache(maxsize=1)
def _clipping_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every (sigma, true level) of a flat block, simulated once: the block's mean after
    clipping, its estimate over sigma (the shrink), and its share of clipped pixels."""
    noise = torch.randn(len(_TABLE_LEVELS), 64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    levels = torch.from_numpy(_TABLE_LEVELS)[:, None, None]
    means, shrinks, shares = [], [], []
    for sigma in _TABLE_SIGMAS:
        x = (levels + max(sigma, 1e-6) * noise).clamp(0, 1)
        means.append(x.mean(dim=(1, 2)).numpy())
        shares.append(((x == 0) | (x == 1)).double().mean(dim=(1, 2)).numpy())
        shrink = immerkaer(x[:, None]).numpy() / max(sigma, 1e-6) if sigma > 0 else np.ones(len(levels))
        shrinks.append(shrink)
    return np.stack(means), np.stack(shrinks), np.stack(shares)


def _clipping_at(sigma: float, block_means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shrink and expected clipped share of flat blocks with these (clipped) means under sigma."""
    means, shrinks, shares = _clipping_table()
    row = int(np.clip(round(sigma / _TABLE_SIGMAS[1]), 0, len(_TABLE_SIGMAS) - 1))
    m = block_means.numpy()
    # np.interp needs increasing x: the clipped mean rises with the level (flat at the ends)
    rising = np.maximum.accumulate(means[row] + np.arange(len(_TABLE_LEVELS)) * 1e-12)
    shrink = np.interp(m, rising, shrinks[row])
    share = np.interp(m, rising, shares[row])
    return torch.from_numpy(shrink), torch.from_numpy(share)


def _quantile_estimate(blocks: dict[str, torch.Tensor], sigma: float | None) -> float:
    """The low quantile of the block estimates. Without a sigma, blocks touching clipped
    pixels are skipped; with one, blocks are corrected for clipping and chosen by level."""
    if sigma is None:
        usable = blocks["near"] < 0.05
        if usable.sum() < MIN_BLOCKS:
            return math.nan
        return blocks["sigma"][usable].quantile(QUANTILE).item()
    shrink, share = _clipping_at(sigma, blocks["mean"])
    # a block clipped well beyond what noise does at its level holds clean saturated content
    n = BLOCK * BLOCK
    plausible = blocks["clipped"] <= share + 0.03 + 3 * (share * (1 - share) / n).sqrt()
    usable = (share < MAX_CLIPPED) & plausible
    if usable.sum() < MIN_BLOCKS:  # take the least clipped blocks there are
        usable = share <= share.sort().values[min(MIN_BLOCKS, len(share)) - 1]
    return (blocks["sigma"][usable] / shrink[usable]).quantile(QUANTILE).item()


@lru_cache(maxsize=1)
def _pure_noise_factor() -> float:
    """The low quantile of block estimates over unit white noise (a little under 1)."""
    noise = torch.randn(3, 256, 256, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return _quantile_estimate(_blocks(0.5 + noise / 255.0), None) * 255.0


def estimate_noise(img: torch.Tensor) -> float:
    """Noise std of a (3, H, W) or (H, W) image in [0, 1], on the 0-255 scale.

    Colour channels are pooled (each is assumed to carry noise of the same std). Needs at
    least 3 x 3 pixels.
    """
    img = img if img.dim() == 3 else img.unsqueeze(0)
    if img.shape[-1] < 3 or img.shape[-2] < 3:
        raise ValueError(f"image {tuple(img.shape[-2:])} is too small to estimate noise (needs 3x3)")
    blocks = _blocks(img)
    factor = _pure_noise_factor()
    first = _quantile_estimate(blocks, None)  # nan: nearly every block touches a clipped pixel
    sigma = (_quantile_estimate(blocks, 0.0) if math.isnan(first) else first) / factor
    if math.isnan(first) or blocks["clipped"].mean() > 0.01:  # clipping matters: refine
        for _ in range(4):  # a fixed point: the correction depends on sigma, sigma on it
            sigma = _quantile_estimate(blocks, sigma) / factor
    return 255.0 * sigma
