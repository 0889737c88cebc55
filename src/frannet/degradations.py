"""Degradations: the ``Degradation`` record, its chain of tensor functions and its draw per example.

One record describes what happened to an input: the scale per axis, the noise sigma, the gray
flag and (optionally) a JPEG quality. It is the one place that knows them all:

  * ``Degradation.condition`` builds the model's condition row (the model, tiling and the
    restorators call it);
  * ``Degradation.apply`` degrades an image, for training and for evaluation alike: bicubic
    downscaling (Pillow-exact) rounded to 8 bits, gray, Gaussian noise from an explicit
    generator, then a JPEG round trip if asked for;
  * ``draw_degradation`` draws one per training example from a ``DataConfig``'s ranges.

Adding a kind of degradation means adding a field to the record, its step to ``apply``, and
its draw to ``draw_degradation``; nothing that passes degradations around changes.

Images are float tensors shaped (..., C, H, W) with values in [0, 1].

`bicubic_resize` reproduces Pillow's ``Image.resize(..., Image.BICUBIC)``: a separable
filter with Keys' cubic kernel (a = -0.5) whose support is widened by the downscaling
factor (antialiasing), pixel centres at (i + 0.5) * scale, and weights renormalised at the
borders. It is written as two dense interpolation matrices, which is exact and fast for
the image sizes met in training and evaluation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .config import DataConfig

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


def fit_side(img: torch.Tensor, max_side: int) -> torch.Tensor:
    """(..., C, H, W) ``img`` downscaled like Pillow's BICUBIC to a longer side of ``max_side``
    (the aspect kept, sides rounded), or as it is if it fits already."""
    h, w = img.shape[-2:]
    if max(h, w) <= max_side:
        return img
    f = max_side / max(h, w)
    return bicubic_resize(img, (max(1, round(h * f)), max(1, round(w * f))))


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
              same_channels: bool = False, shot: bool = False) -> torch.Tensor:
    """Additive white Gaussian noise of std ``sigma`` on the 0-255 scale, not clipped (the
    standard denoising benchmark). ``same_channels``: one noise plane on all channels, as a
    gray photo has. ``shot``: signal-dependent (Poisson-like) instead, a sensor's shot noise:
    std ``sigma`` at mid-gray, growing as the square root of the signal (0 in black)."""
    shape = (1, *img.shape[-2:]) if same_channels else img.shape[-3:]
    noise = torch.randn(shape, generator=generator, dtype=img.dtype) * (sigma / 255.0)
    return img + (noise * (img.clamp(min=0.0) / 0.5).sqrt() if shot else noise)


def gaussian_blur(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """(..., C, H, W) blurred with a separable Gaussian of ``sigma`` pixels (edges repeated): a
    lens's slight softness, or a stand-in denoiser."""
    r = max(1, math.ceil(2 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[-3]
    flat = x.reshape(-1, c, *x.shape[-2:])
    flat = F.conv2d(F.pad(flat, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    flat = F.conv2d(F.pad(flat, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return flat.reshape(x.shape)


def quantize(img: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Round to the levels of an unsigned ``bits`` image, as a saved file would."""
    levels = float(2**bits - 1)
    return torch.round(img.clamp(0.0, 1.0) * levels) / levels


def jpeg_round_trip(img: torch.Tensor, quality: int, gray: bool = False, full_chroma: bool = False) -> torch.Tensor:
    """(3, H, W) ``img`` saved as an 8-bit JPEG of ``quality`` by Pillow and read back (a real
    encoder's blocks, ringing and, in colour, chroma at half resolution unless ``full_chroma``);
    ``gray`` encodes one plane."""
    pixels = torch.round(img.clamp(0.0, 1.0) * 255.0).to(torch.uint8)
    picture = (Image.fromarray(pixels[0].numpy(), "L") if gray
               else Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy(), "RGB"))
    encoded = BytesIO()
    picture.save(encoded, format="JPEG", quality=quality, subsampling=0 if full_chroma else 2)
    decoded = np.asarray(Image.open(encoded).convert("RGB"))
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).to(img.dtype) / 255.0


def jpeg_level(quality: int | None) -> float:
    """A JPEG quality as the models read it: 0 for none (or 100), rising to 1 at quality 10."""
    return 0.0 if quality is None else min(1.0, (100 - quality) / 90)


@dataclass(frozen=True)
class Degradation:
    """What happened to an input, in a camera's and an encoder's order: blurred by a Gaussian of
    std ``blur`` (output pixels; a lens's softness), shrunk ``sx`` x ``sy`` (output / input size
    per axis), given Gaussian noise of std ``sigma`` (0-255 scale) and shot noise of std ``shot``
    at mid-gray (``add_noise``), made ``gray``, and saved as a JPEG of quality ``jpeg``
    (None: not), at 4:4:4 if ``jpeg_full_chroma`` (else 4:2:0), after an earlier save at quality
    ``jpeg_before`` if that is set (a photo edited and saved again).

    The condition row the models read is (sx, sy, noise level, gray, JPEG level): the noise level
    is the std at mid-gray of both noises (what ``noise_estimate`` measures on a photo); the blur,
    the earlier save and the chroma layout are not in it (nothing in a file tells them)."""

    sx: float = 1.0
    sy: float = 1.0
    sigma: float = 0.0
    gray: bool = False
    jpeg: int | None = None
    jpeg_full_chroma: bool = False
    jpeg_before: int | None = None
    blur: float = 0.0
    shot: float = 0.0

    def __post_init__(self):
        for name in ("sx", "sy"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        for name in ("sigma", "blur", "shot"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not isinstance(self.gray, bool):
            raise ValueError(f"gray must be True or False, got {self.gray!r}")
        for name in ("jpeg", "jpeg_before"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100):
                raise ValueError(f"{name} must be None or a quality from 1 to 100, got {value!r}")
        if self.jpeg_before is not None and self.jpeg is None:
            raise ValueError("jpeg_before is an earlier save: it needs jpeg, the last one")

    def for_sizes(self, in_size: tuple[int, int], out_size: tuple[int, int]) -> "Degradation":
        """This degradation with the scale of restoring an ``in_size`` input to ``out_size``
        (both (height, width)): what a renderer conditions the model on."""
        (h, w), (out_h, out_w) = in_size, out_size
        return dataclasses.replace(self, sx=out_w / w, sy=out_h / h)

    @property
    def noise(self) -> float:
        """The std at mid-gray of the Gaussian and the shot noise together (0-255 scale)."""
        return math.hypot(self.sigma, self.shot)

    def condition(self, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
        """The model's condition row (5,): (sx, sy, ``noise``, gray as 0/1, ``jpeg_level``)."""
        return torch.tensor([float(self.sx), float(self.sy), self.noise, float(self.gray),
                             jpeg_level(self.jpeg)], dtype=dtype, device=device)

    def label(self) -> str:
        """A short name: 'x4', 'x2x3', 'x1 s25 gray', 'x1 q40', 'x2 b0.8 p6'."""
        scale = f"x{float(self.sx):g}" + ("" if self.sx == self.sy else f"x{float(self.sy):g}")
        return (scale + (f" b{float(self.blur):g}" if self.blur else "") + (f" s{float(self.sigma):g}" if self.sigma else "")
                + (f" p{float(self.shot):g}" if self.shot else "") + (" gray" if self.gray else "")
                + (f" q{self.jpeg}" if self.jpeg is not None else ""))

    def apply(self, hr: torch.Tensor, generator: torch.Generator | None = None, *,
              gray_photo: bool = False) -> torch.Tensor:
        """The degraded input for (3, H, W) ``hr``: blurred, shrunk by (sx, sy) with Pillow's
        bicubic and rounded to 8 bits (not at scale 1), made gray, given noise from ``generator``
        (needed when there is noise; not clipped, as the standard denoising benchmark: Gaussian,
        then shot noise), then sent through a JPEG encoder if ``jpeg``. A gray input, or a
        ``gray_photo`` (the picture itself is gray), gets one noise plane on all channels, as a
        gray camera's would. The dtype is kept."""
        lr = gaussian_blur(hr, self.blur) if self.blur > 0 else hr
        if (self.sx, self.sy) != (1, 1):
            size = downscaled_size(tuple(hr.shape[-2:]), (self.sy, self.sx))
            lr = quantize(bicubic_resize(lr.double(), size).float()).to(hr.dtype)
        if self.gray:
            lr = to_gray(lr)
        one_plane = self.gray or gray_photo
        if self.noise > 0 and generator is None:
            raise ValueError("noise needs an explicit generator (torch.Generator().manual_seed(...))")
        if self.sigma > 0:
            lr = add_noise(lr, self.sigma, generator, same_channels=one_plane)
        if self.shot > 0:
            lr = add_noise(lr, self.shot, generator, same_channels=one_plane, shot=True)
        for quality in (self.jpeg_before, self.jpeg):
            if quality is not None:
                lr = jpeg_round_trip(lr, quality, gray=one_plane, full_chroma=self.jpeg_full_chroma)
        return lr


# cut(sx, sy): cuts the example's crop for the drawn scale (more draws from the same generator)
# and returns the scale its whole pixels make.
Cut = Callable[[float, float], tuple[float, float]]


def _uniform(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * torch.rand((), generator=g).item()


def _focused(g: torch.Generator, whole: tuple[float, float], focus: tuple[float, float], share: float):
    """The whole range, or for a ``share`` of examples the focus range (no random draw when there
    is no focus, so older recipes draw exactly as before)."""
    return focus if share > 0 and torch.rand((), generator=g) < share else whole


def draw_degradation(cfg: DataConfig, g: torch.Generator, cut: Cut) -> Degradation:
    """One training example's degradation, drawn from ``cfg``'s ranges with the example's
    generator ``g``: a scale in [min_scale, max_scale] (for a share ``scale_focus_share``, in
    ``scale_focus``; a share ``anisotropic`` of examples draws one per axis), whose crop ``cut``
    takes from a picture, then a gray input (share ``gray_input``), a noise sigma (in ``noise``,
    or for a share, ``noise_focus``), for a share ``jpeg_share``, a JPEG save (quality, for a
    share in ``jpeg_focus``; chroma layout; perhaps an earlier save, from ``jpeg_twice_quality``
    if set), and for shares ``blur_share`` and ``shot_share``, a blur and shot noise from their
    ranges.

    A field added later draws only when its range is set (and, but for the focus ranges, after
    the others), so the examples of recipes that do not set it stay exactly as they were."""
    scales = _focused(g, (cfg.min_scale, cfg.max_scale), cfg.scale_focus, cfg.scale_focus_share)
    sy = _uniform(g, *scales)
    sx = _uniform(g, *scales) if torch.rand((), generator=g) < cfg.anisotropic else sy
    sx, sy = cut(sx, sy)
    gray = bool(torch.rand((), generator=g) < cfg.gray_input)
    sigma = _uniform(g, *_focused(g, cfg.noise, cfg.noise_focus, cfg.noise_focus_share))
    jpeg = {}
    if cfg.jpeg_share > 0 and torch.rand((), generator=g) < cfg.jpeg_share:
        jpeg["jpeg"] = _quality(g, _focused(g, cfg.jpeg_quality, cfg.jpeg_focus, cfg.jpeg_focus_share))
        jpeg["jpeg_full_chroma"] = bool(torch.rand((), generator=g) < cfg.jpeg_full_chroma)
        if torch.rand((), generator=g) < cfg.jpeg_twice:
            jpeg["jpeg_before"] = _quality(g, cfg.jpeg_twice_quality if any(cfg.jpeg_twice_quality) else cfg.jpeg_quality)
    camera = {}
    if cfg.blur_share > 0 and torch.rand((), generator=g) < cfg.blur_share:
        camera["blur"] = _uniform(g, *cfg.blur)
    if cfg.shot_share > 0 and torch.rand((), generator=g) < cfg.shot_share:
        camera["shot"] = _uniform(g, *cfg.shot)
    return Degradation(sx=sx, sy=sy, sigma=sigma, gray=gray, **jpeg, **camera)


def _quality(g: torch.Generator, qualities: tuple[int, int]) -> int:
    return int(torch.randint(qualities[0], qualities[1] + 1, (), generator=g))


def validation_degradations(cfg: DataConfig) -> list[Degradation]:
    """The degradations validation measures while training: every val scale at every val noise
    level, and every val scale saved at each ``val_jpeg`` quality."""
    return ([Degradation(sx=float(s), sy=float(s), sigma=float(sigma), gray=cfg.val_gray)
             for s in cfg.val_scales for sigma in cfg.val_noise]
            + [Degradation(sx=float(s), sy=float(s), gray=cfg.val_gray, jpeg=q) for s in cfg.val_scales
               for q in cfg.val_jpeg])
