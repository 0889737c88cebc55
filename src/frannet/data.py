"""Training and validation samples cut from folders of images.

Every batch is a pure function of (seed, step): a resumed run, or a run split across
processes, sees exactly the samples an uninterrupted single run would.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import torch

from .config import DataConfig
from .coords import pixel_centers
from .degradations import add_noise, bicubic_resize, quantize, to_gray
from .io import IMAGE_SUFFIXES, read_image


@dataclass
class Batch:
    lr: torch.Tensor           # (B, 3, P, P) degraded input
    degradation: torch.Tensor  # (B, 4) output/input size per axis (sx, sy), noise sigma (0-255), gray flag
    points: torch.Tensor       # (B, N, 2) target pixel centres in [0, 1]^2
    target: torch.Tensor       # (B, N, 3) target colours

    def to(self, device) -> "Batch":
        return Batch(self.lr.to(device), self.degradation.to(device), self.points.to(device), self.target.to(device))


RESERVED = "RESERVED"  # a folder holding this file is kept for evaluation (scripts/build_dataset.py)


def list_images(folders, exclude=(), training: bool = False) -> list[Path]:
    """Image files under ``folders``, sorted per folder; names matching an ``exclude`` pattern left out.
    For ``training``, a folder reserved for evaluation is refused."""
    files = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"image folder {folder} does not exist")
        if training and (any((p / RESERVED).is_file() for p in folder.resolve().parents) or any(folder.rglob(RESERVED))):
            raise ValueError(f"{folder} holds images reserved for evaluation: they must never be trained on")
        files += sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                        and not any(fnmatch(p.name, pattern) for pattern in exclude))
    if not files:
        raise FileNotFoundError(f"no images found in {', '.join(map(str, folders))}")
    return files


def load_images(folders, min_side: int = 0, exclude=(), training: bool = False) -> list[torch.Tensor]:
    """All images in ``folders`` as (3, H, W) float tensors; smaller than min_side skipped."""
    images = []
    for path in list_images(folders, exclude, training):
        img = torch.from_numpy(read_image(path).rgb).permute(2, 0, 1).contiguous()
        if min(img.shape[-2:]) >= min_side:
            images.append(img)
    if not images:
        raise FileNotFoundError(f"no image in {folders} has both sides >= {min_side} pixels")
    return images


def sample_generator(seed: int, step: int, index: int) -> torch.Generator:
    """The random stream of sample ``index`` of step ``step``'s global batch."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 8191 + index) % (1 << 63))


def _uniform(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * torch.rand((), generator=g).item()


def _noise_range(cfg: DataConfig, g: torch.Generator) -> tuple[float, float]:
    """The whole noise range, or for a ``noise_focus_share`` of samples the focus range (no
    random draw when there is no focus, so older recipes sample exactly as before)."""
    if cfg.noise_focus_share > 0 and torch.rand((), generator=g) < cfg.noise_focus_share:
        return cfg.noise_focus
    return cfg.noise


def sample_one(images: list[torch.Tensor], areas: torch.Tensor, cfg: DataConfig, g: torch.Generator):
    """One random crop at a random scale in [min_scale, max_scale], bicubic-degraded to P x P,
    then (as configured) made gray and given Gaussian noise of a random sigma.

    Images are picked with probability proportional to their area.
    """
    p = cfg.patch
    sy = _uniform(g, cfg.min_scale, cfg.max_scale)
    sx = _uniform(g, cfg.min_scale, cfg.max_scale) if torch.rand((), generator=g) < cfg.anisotropic else sy
    hh, hw = round(p * sy), round(p * sx)
    while True:
        img = images[torch.multinomial(areas, 1, generator=g).item()]
        if img.shape[-2] >= hh and img.shape[-1] >= hw:
            break
    top = torch.randint(0, img.shape[-2] - hh + 1, (), generator=g).item()
    left = torch.randint(0, img.shape[-1] - hw + 1, (), generator=g).item()
    hr = img[:, top:top + hh, left:left + hw]
    if torch.rand((), generator=g) < 0.5:
        hr = hr.flip(-1)
    if torch.rand((), generator=g) < 0.5:
        hr = hr.flip(-2)
    gray_photo = bool(torch.rand((), generator=g) < cfg.gray_photos)
    if gray_photo:
        hr = to_gray(hr)
    lr = hr if (hh, hw) == (p, p) else quantize(bicubic_resize(hr.double(), (p, p)).float())
    gray = bool(torch.rand((), generator=g) < cfg.gray_input)
    if gray:
        lr = to_gray(lr)
    sigma = _uniform(g, *_noise_range(cfg, g))
    if sigma > 0:
        lr = add_noise(lr, sigma, g, same_channels=gray or gray_photo)
    n = hh * hw
    if n >= cfg.target_points:
        idx = torch.randperm(n, generator=g)[: cfg.target_points]
    else:  # a crop smaller than the point budget: draw with replacement
        idx = torch.randint(0, n, (cfg.target_points,), generator=g)
    degradation = torch.tensor([hw / p, hh / p, sigma, float(gray)])
    return lr, degradation, pixel_centers(hh, hw)[idx], hr.reshape(3, -1).T[idx]


def sample_batch(images: list[torch.Tensor], cfg: DataConfig, seed: int, step: int, indices) -> Batch:
    """Samples ``indices`` (e.g. one rank's share) of step ``step``'s global batch.

    Each sample depends only on (seed, step, index): any split of the global batch across
    processes or micro-batches sees the same samples.
    """
    areas = torch.tensor([float(im.shape[-1] * im.shape[-2]) for im in images])
    samples = [sample_one(images, areas, cfg, sample_generator(seed, step, i)) for i in indices]
    return Batch(*(torch.stack(parts) for parts in zip(*samples)))
