"""Training examples cut from folders of images.

Every batch is a pure function of (seed, step): a resumed run, or a run split across
processes, sees exactly the examples an uninterrupted single run would. What degrades an
example is a ``degradations.Degradation``, drawn by ``degradations.draw_degradation``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import torch

from .config import DataConfig
from .coords import pixel_centers
from .detail import shrink_to_detail
from .degradations import Cut, Degradation, draw_degradation, fit_side, to_gray
from .grayness import is_gray
from .io import IMAGE_SUFFIXES, read_image


@dataclass
class Batch:
    lr: torch.Tensor           # (B, 3, P, P) degraded input
    degradation: torch.Tensor  # (B, 5) each example's condition row (``Degradation.condition``)
    points: torch.Tensor       # (B, N, 2) target pixel centres in [0, 1]^2
    target: torch.Tensor       # (B, N, 3) target colours
    objective_seeds: tuple[int, ...] = ()  # each example's seed for the objective's draws (``objectives``)

    def to(self, device) -> "Batch":
        return Batch(self.lr.to(device), self.degradation.to(device), self.points.to(device), self.target.to(device),
                     self.objective_seeds)


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


def load_images(folders, min_side: int = 0, exclude=(), training: bool = False, colour_only: bool = False,
                max_side: int = 0) -> list[torch.Tensor]:
    """All images in ``folders`` as (3, H, W) float tensors; those larger than ``max_side`` (if
    not 0) downscaled to it (``fit_side``), those smaller than ``min_side`` skipped, and for
    ``colour_only`` gray ones (``grayness.is_gray``) too."""
    images = []
    for path in list_images(folders, exclude, training):
        img = torch.from_numpy(read_image(path).rgb).permute(2, 0, 1)
        img = (fit_side(img, max_side) if max_side else img).contiguous()
        if min(img.shape[-2:]) >= min_side and not (colour_only and is_gray(img)):
            images.append(img)
    if not images:
        kind = "colour image" if colour_only else "image"
        raise FileNotFoundError(f"no {kind} in {', '.join(map(str, folders))} has both sides >= {min_side} pixels")
    return images


def training_images(cfg: DataConfig) -> list[torch.Tensor]:
    """The pictures training cuts its crops from: ``cfg.train`` without the ``exclude``d names,
    larger ones shrunk to ``cfg.max_side``, and without the pictures too small for the largest
    crop. A model that learns colour from gray inputs (``gray_input`` > 0) never sees a gray
    picture: its crop would be a gray target for a gray input, teaching it to leave colour out.
    With ``detail_target_db``, pictures smoother than a photo are shrunk until they are not
    (``detail.shrink_to_detail``)."""
    images = load_images(cfg.train, min_side=math.ceil(cfg.patch * cfg.max_scale), exclude=cfg.exclude, training=True,
                         colour_only=cfg.gray_input > 0, max_side=cfg.max_side)
    if cfg.detail_target_db:
        images = [shrink_to_detail(img, cfg.detail_target_db, cfg.detail_min_side) for img in images]
    return images


def example_seed(seed: int, step: int, index: int) -> int:
    """The seed of example ``index``'s random stream in step ``step``'s global batch."""
    return ((seed * 1_000_003 + step) * 8191 + index) % (1 << 63)


def example_generator(seed: int, step: int, index: int) -> torch.Generator:
    """The random stream of example ``index`` of step ``step``'s global batch (its data)."""
    return torch.Generator().manual_seed(example_seed(seed, step, index))


def objective_seed(seed: int, step: int, index: int) -> int:
    """The seed of example ``index``'s stream of the objective's draws (an iterative model's
    times and sources), apart from its data stream."""
    return example_seed(seed, step, index + (1 << 40))


def _crop(images: list[torch.Tensor], areas: torch.Tensor, height: int, width: int,
          g: torch.Generator) -> torch.Tensor:
    """A height x width crop of a picture drawn with probability proportional to its area (among
    those large enough), at a random position, flipped at random."""
    while True:
        img = images[torch.multinomial(areas, 1, generator=g).item()]
        if img.shape[-2] >= height and img.shape[-1] >= width:
            break
    top = torch.randint(0, img.shape[-2] - height + 1, (), generator=g).item()
    left = torch.randint(0, img.shape[-1] - width + 1, (), generator=g).item()
    crop = img[:, top:top + height, left:left + width]
    if torch.rand((), generator=g) < 0.5:
        crop = crop.flip(-1)
    if torch.rand((), generator=g) < 0.5:
        crop = crop.flip(-2)
    return crop


def draw_example(images: list[torch.Tensor], areas: torch.Tensor, cfg: DataConfig, g: torch.Generator,
                 draw: Callable[[DataConfig, torch.Generator, Cut], Degradation] = draw_degradation):
    """One training example: a crop at the scale ``draw`` picks (a share ``gray_photos`` of them
    made gray: gray pictures, input and target), degraded to P x P by that degradation, and
    ``target_points`` of its pixels. Returns (input, condition row, points, target colours).
    """
    p = cfg.patch
    hr, gray_photo = None, False

    def cut(sx: float, sy: float) -> tuple[float, float]:
        nonlocal hr, gray_photo
        height, width = round(p * sy), round(p * sx)
        hr = _crop(images, areas, height, width, g)
        gray_photo = bool(torch.rand((), generator=g) < cfg.gray_photos)
        if gray_photo:
            hr = to_gray(hr)
        return width / p, height / p

    degradation = draw(cfg, g, cut)
    if hr is None:
        raise ValueError(f"{draw.__name__} drew a degradation without cutting a crop for it: it must call cut(sx, sy)")
    lr = degradation.apply(hr, g, gray_photo=gray_photo)
    height, width = hr.shape[-2:]
    n = height * width
    if n >= cfg.target_points:
        idx = torch.randperm(n, generator=g)[: cfg.target_points]
    else:  # a crop smaller than the point budget: draw with replacement
        idx = torch.randint(0, n, (cfg.target_points,), generator=g)
    return lr, degradation.condition(), pixel_centers(height, width)[idx], hr.reshape(3, -1).T[idx]


def training_batch(images: list[torch.Tensor], cfg: DataConfig, seed: int, step: int, indices, *,
                   draw: Callable[[DataConfig, torch.Generator, Cut], Degradation] = draw_degradation) -> Batch:
    """Examples ``indices`` (e.g. one rank's share) of step ``step``'s global batch, with their
    degradations drawn by ``draw``.

    Each example depends only on (seed, step, index): any split of the global batch across
    processes or micro-batches sees the same examples.
    """
    areas = torch.tensor([float(im.shape[-1] * im.shape[-2]) for im in images])
    examples = [draw_example(images, areas, cfg, example_generator(seed, step, i), draw) for i in indices]
    return Batch(*(torch.stack(parts) for parts in zip(*examples)),
                 objective_seeds=tuple(objective_seed(seed, step, i) for i in indices))
