"""Degradations as tensor functions, shared by training and evaluation.

Images are float tensors shaped (..., C, H, W) with values in [0, 1].

`bicubic_resize` reproduces Pillow's ``Image.resize(..., Image.BICUBIC)``: a separable
filter with Keys' cubic kernel (a = -0.5) whose support is widened by the downscaling
factor (antialiasing), pixel centres at (i + 0.5) * scale, and weights renormalised at the
borders. It is written as two dense interpolation matrices, which is exact and fast for
the image sizes met in training and evaluation.
"""

from __future__ import annotations

import math

import torch

_CUBIC_A = -0.5  # Pillow's (and Keys') bicubic parameter
_CUBIC_SUPPORT = 2.0


def _cubic(x: torch.Tensor) -> torch.Tensor:
    x = x.abs()
    near = ((_CUBIC_A + 2.0) * x - (_CUBIC_A + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * _CUBIC_A
    return torch.where(x < 1.0, near, torch.where(x < 2.0, far, torch.zeros_like(x)))


def resize_band(in_size: int, out_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pillow's bicubic resize as the band of its matrix M: (index, weight), both (out_size,
    taps), with M[i, index[i, k]] = weight[i, k]. Memory grows with the sizes, not their product."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, got {in_size} -> {out_size}")
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = _CUBIC_SUPPORT * filterscale
    centers = (torch.arange(out_size, dtype=torch.float64) + 0.5) * scale
    # Pillow truncates (center - support + 0.5) towards zero and clips to the image.
    lo = torch.clamp(torch.trunc(centers - support + 0.5), min=0)
    hi = torch.clamp(torch.trunc(centers + support + 0.5), max=in_size)
    taps = int((hi - lo).max().item())
    src = lo[:, None] + torch.arange(taps, dtype=torch.float64)
    inside = src < hi[:, None]
    weights = _cubic((src - centers[:, None] + 0.5) / filterscale) * inside
    total = weights.sum(dim=1, keepdim=True)
    weights = torch.where(total != 0, weights / torch.where(total != 0, total, 1.0), weights)
    return torch.where(inside, src, lo[:, None]).long(), weights


def resize_matrix(in_size: int, out_size: int, dtype=torch.float64) -> torch.Tensor:
    """The dense (out_size, in_size) matrix M such that M @ signal is Pillow's bicubic resize."""
    index, weight = resize_band(in_size, out_size)
    m = torch.zeros(out_size, in_size, dtype=torch.float64)
    m.scatter_add_(1, index, weight)  # taps clipped at the border repeat the first index with weight 0
    return m.to(dtype)


def bicubic_resize(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (..., C, H, W) to ``size`` = (height, width) like Pillow's BICUBIC."""
    out_h, out_w = size
    in_h, in_w = img.shape[-2:]
    out = img
    if out_w != in_w:
        mw = resize_matrix(in_w, out_w, dtype=img.dtype).to(img.device)
        out = out @ mw.T
    if out_h != in_h:
        mh = resize_matrix(in_h, out_h, dtype=img.dtype).to(img.device)
        out = mh @ out
    return out


def downscaled_size(size: tuple[int, int], scale: float | tuple[float, float]) -> tuple[int, int]:
    """The (height, width) of an image of ``size`` shrunk by ``scale`` (rounded, at least 1)."""
    sy, sx = (scale, scale) if isinstance(scale, (int, float)) else scale
    for s in (sy, sx):
        if not (math.isfinite(s) and s >= 1.0):
            raise ValueError(f"downscaling factor must be a finite number >= 1, got {s}")
    return max(1, round(size[0] / sy)), max(1, round(size[1] / sx))


def bicubic_downscale(img: torch.Tensor, scale: float | tuple[float, float]) -> torch.Tensor:
    """Antialiased bicubic downscaling by any real factor >= 1 (per axis if a pair)."""
    return bicubic_resize(img, downscaled_size(tuple(img.shape[-2:]), scale))


def avgpool_downscale(img: torch.Tensor, factor: int) -> torch.Tensor:
    """Average-pool downscaling by an integer factor; the image is cropped to a multiple."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"average-pool factor must be an integer >= 1, got {factor!r}")
    h, w = img.shape[-2:]
    h, w = h - h % factor, w - w % factor
    if h == 0 or w == 0:
        raise ValueError(f"image {tuple(img.shape[-2:])} is smaller than the factor {factor}")
    x = img[..., :h, :w]
    x = x.reshape(*x.shape[:-2], h // factor, factor, w // factor, factor)
    return x.mean(dim=(-3, -1))


LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B


def to_gray(img: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) colour to its luma, repeated on the 3 channels."""
    w = img.new_tensor(LUMA).view(3, 1, 1)
    return (img * w).sum(dim=-3, keepdim=True).expand_as(img).contiguous()


def add_noise(img: torch.Tensor, sigma: float, generator: torch.Generator | None = None,
              same_channels: bool = False) -> torch.Tensor:
    """Additive white Gaussian noise of std ``sigma`` on the 0-255 scale, not clipped (the
    standard denoising benchmark). ``same_channels``: one noise plane on all channels, as a
    gray photo has."""
    shape = (1, *img.shape[-2:]) if same_channels else img.shape[-3:]
    noise = torch.randn(shape, generator=generator, dtype=img.dtype) * (sigma / 255.0)
    return img + noise


def quantize(img: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Round to the levels of an unsigned ``bits`` image, as a saved file would."""
    levels = float(2**bits - 1)
    return torch.round(img.clamp(0.0, 1.0) * levels) / levels
