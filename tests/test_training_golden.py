"""Training batches and losses stay what they were (issue 24): for existing configs every sample
makes the same random draws in the same order, so a run resumed across the degradation
refactor, or restarted from a config, trains on exactly the batches it did before.

The expected numbers in tests/golden/training.json were recorded from the code before the
refactor: per sample, its degradation row exactly, and sums and a few values of its input,
points and targets within ``TOL``. To re-record after an intended change of the batches:

    FRANNET_WRITE_GOLDEN=1 pytest tests/test_training_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny import tiny_model

from frannet.config import DataConfig
from frannet.coords import pixel_centers
from frannet.data import Batch, example_generator, training_batch
from frannet.dead_leaves import dead_leaves
from frannet.degradations import add_noise, bicubic_resize, quantize, to_gray
from frannet.objectives import loss

GOLDEN = Path(__file__).parent / "golden" / "training.json"
TOL = 1e-5  # sums over a sample in float64: far below what a different draw would change
WRITE = os.environ.get("FRANNET_WRITE_GOLDEN") == "1"

# Existing kinds of recipe: super-resolution, denoising (with a focus range and gray photos),
# colorization with noise, and a crop smaller than the point budget (draws with replacement).
CONFIGS = {
    "sr": dict(patch=12, max_scale=4.0, target_points=64),
    "denoise": dict(patch=12, min_scale=1.0, max_scale=1.0, noise=(0.0, 75.0), gray_photos=0.3, target_points=64),
    "focus": dict(patch=10, max_scale=2.0, noise=(0.0, 75.0), noise_focus=(10.0, 50.0), noise_focus_share=0.5,
                  target_points=40),
    "color": dict(patch=12, max_scale=4.0, anisotropic=0.5, noise=(0.0, 50.0), gray_input=0.6, gray_photos=0.2,
                  target_points=64),
    "few_pixels": dict(patch=8, min_scale=1.0, max_scale=1.5, target_points=100),
}


def _images() -> list[torch.Tensor]:
    """Four images of different sizes (area-weighted picks), one of them a gray photo."""
    rng = np.random.default_rng(7)
    out = []
    for side in (52, 64, 80):
        out.append(torch.tensor(dead_leaves(side, rng, r_min=2, max_discs=300)).permute(2, 0, 1).float() / 255)
    out[1] = out[1][:, :, :57].contiguous()
    gray = to_gray(out[2][:, 5:, :70])
    out.append(gray.contiguous())
    return out


def _cfg(name: str) -> DataConfig:
    return DataConfig(**CONFIGS[name])


# --- the pre-refactor sampler, kept while refactoring (compared bit for bit below) ---

def _uniform(g, lo, hi):
    return lo + (hi - lo) * torch.rand((), generator=g).item()


def _noise_range(cfg, g):
    if cfg.noise_focus_share > 0 and torch.rand((), generator=g) < cfg.noise_focus_share:
        return cfg.noise_focus
    return cfg.noise


def _old_sample_one(images, areas, cfg, g):
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
    else:
        idx = torch.randint(0, n, (cfg.target_points,), generator=g)
    degradation = torch.tensor([hw / p, hh / p, sigma, float(gray)])
    return lr, degradation, pixel_centers(hh, hw)[idx], hr.reshape(3, -1).T[idx]


def _old_sample_batch(images, cfg, seed, step, indices):
    areas = torch.tensor([float(im.shape[-1] * im.shape[-2]) for im in images])
    samples = [_old_sample_one(images, areas, cfg, example_generator(seed, step, i)) for i in indices]
    return Batch(*(torch.stack(parts) for parts in zip(*samples)))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_new_sample_batch_equals_the_old_one(name):
    images, cfg = _images(), _cfg(name)
    for step in (0, 3):
        new, old = training_batch(images, cfg, 11, step, range(6)), _old_sample_batch(images, cfg, 11, step, range(6))
        for part in ("lr", "degradation", "points", "target"):
            assert torch.equal(getattr(new, part), getattr(old, part)), part


# --- stored golden numbers ---

def _summary(batch: Batch) -> list[dict]:
    rows = []
    for i in range(batch.lr.shape[0]):
        lr, points, target = batch.lr[i].double(), batch.points[i].double(), batch.target[i].double()
        rows.append({"degradation": batch.degradation[i].tolist(),
                     "lr_sum": float(lr.sum()), "lr_square_sum": float(lr.square().sum()),
                     "lr_values": lr.flatten()[::37].tolist(),
                     "points_sum": float(points.sum()), "points_first": points[:2].flatten().tolist(),
                     "target_sum": float(target.sum()), "target_values": target.flatten()[::29].tolist()})
    return rows


def _compare(got, want, where: str) -> None:
    if isinstance(want, dict):
        assert got.keys() == want.keys(), where
        for key in want:
            _compare(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want)):
            _compare(a, b, f"{where}[{i}]")
    elif where.split(".")[-1].startswith("degradation"):
        assert got == want, where  # the draws themselves: exactly
    else:
        assert got == pytest.approx(want, abs=TOL), where


def _stored() -> dict:
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


def _check(key: str, got) -> None:
    stored = _stored()
    if WRITE:
        stored[key] = got
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    _compare(got, stored[key], key)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_training_batches_are_unchanged(name):
    batch = training_batch(_images(), _cfg(name), 11, 3, range(6))
    _check(f"batch/{name}", _summary(batch))


@pytest.mark.parametrize("restorator", ["single", "autoregressive", "diffusion"])
@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_training_losses_are_unchanged(restorator, norm):
    model = tiny_model(restorator=restorator, tunable=restorator == "single").train()
    indices = range(2, 5)
    batch = training_batch(_images(), _cfg("color" if restorator == "single" else "sr"), 5, 9, indices)
    got = loss(model, batch, norm=norm)
    _check(f"loss/{restorator}/{norm}", {"loss": float(got.detach())})
