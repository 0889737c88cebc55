"""Estimate the std of additive Gaussian noise in a photo (Immerkaer's fast method, made robust).

Immerkaer (1996): the 3x3 mask M = [[1,-2,1],[-2,4,-2],[1,-2,1]] is the difference of two
Laplacians, so it cancels smooth image content; on white noise of std sigma its response has
std 6 sigma (the squares of M sum to 36), and sqrt(pi/2) * mean|M * I| / 6 estimates sigma.

On textured photos the mask also responds to texture and edges, which inflates the global
mean. So the response is averaged per 16x16 block and a low quantile of the block estimates
is taken: a photo's smoothest blocks see mostly noise. The quantile of pure noise's block
estimates is below sigma by a fixed factor, measured once by simulation and divided out.
Blocks that touch clipped pixels (exactly 0 or 1, where a saved file lost part of the noise)
are skipped.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

BLOCK = 16
QUANTILE = 0.1
MIN_BLOCKS = 8
_MASK = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]], dtype=torch.float64)
_SCALE = math.sqrt(math.pi / 2) / 6  # mean |M * noise| times this is the noise's std


def immerkaer(images: torch.Tensor) -> torch.Tensor:
    """Immerkaer's plain estimate (without the robust blocks) of the noise std of (B, C, H, W)
    images, channels pooled: (B,). Needs H, W >= 3."""
    b, c, h, w = images.shape
    response = F.conv2d(images.double().reshape(b * c, 1, h, w), _MASK[None, None]).abs()
    return _SCALE * response.reshape(b, -1).mean(dim=1)


def _block_estimates(channel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-block Immerkaer estimates of one (H, W) channel, and each block's clipped share."""
    x = channel.double()[None, None]
    response = F.conv2d(x, _MASK[None, None])[0, 0].abs()
    clipped = ((x == 0) | (x == 1)).double()
    near_clipped = F.max_pool2d(clipped, 3, stride=1)[0, 0]  # aligned with the mask's output
    h, w = response.shape
    hb, wb = h // BLOCK, w // BLOCK
    if hb == 0 or wb == 0:  # smaller than one block: the whole image is the block
        return (_SCALE * response.mean()).view(1), near_clipped.mean().view(1)

    def per_block(a: torch.Tensor) -> torch.Tensor:
        a = a[: hb * BLOCK, : wb * BLOCK].reshape(hb, BLOCK, wb, BLOCK)
        return a.mean(dim=(1, 3)).flatten()

    return _SCALE * per_block(response), per_block(near_clipped)


def _raw_estimate(img: torch.Tensor) -> float:
    parts = [_block_estimates(c) for c in img]
    sigmas = torch.cat([p[0] for p in parts])
    clipped = torch.cat([p[1] for p in parts])
    usable = clipped < 0.05
    if usable.sum() < MIN_BLOCKS:  # mostly clipped: take the least clipped blocks there are
        usable = clipped <= clipped.sort().values[min(MIN_BLOCKS, len(clipped)) - 1]
    return sigmas[usable].quantile(QUANTILE).item()


@lru_cache(maxsize=1)
def _pure_noise_factor() -> float:
    """The low quantile of block estimates over unit white noise (a little under 1)."""
    noise = torch.randn(3, 256, 256, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return _raw_estimate(0.5 + noise / 255.0) * 255.0


def estimate_noise(img: torch.Tensor) -> float:
    """Noise std of a (3, H, W) or (H, W) image in [0, 1], on the 0-255 scale.

    Colour channels are pooled (each is assumed to carry noise of the same std). Needs at
    least 3 x 3 pixels.
    """
    img = img if img.dim() == 3 else img.unsqueeze(0)
    if img.shape[-1] < 3 or img.shape[-2] < 3:
        raise ValueError(f"image {tuple(img.shape[-2:])} is too small to estimate noise (needs 3x3)")
    return 255.0 * _raw_estimate(img) / _pure_noise_factor()
