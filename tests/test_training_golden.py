"""Training batches and losses stay what they were (issue 24): for existing configs every example
makes the same random draws in the same order, so a run resumed across the degradation
refactor, or restarted from a config, trains on exactly the batches it did before.

The expected numbers in tests/golden/training.json were recorded from the code before the
refactor (while refactoring, a copy of the old sampler was also compared bit for bit): per
example, its condition row exactly, and sums and a few values of its input, points and targets
within ``TOL``; per restorator, the loss. To re-record after an intended change of the batches:

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
from frannet.data import Batch, training_batch
from frannet.dead_leaves import dead_leaves
from frannet.degradations import to_gray
from frannet.objectives import loss

GOLDEN = Path(__file__).parent / "golden" / "training.json"
TOL = 1e-5  # sums over an example in float64: far below what a different draw would change
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


def _summary(batch: Batch) -> list[dict]:
    rows = []
    for i in range(batch.lr.shape[0]):
        lr, points, target = batch.lr[i].double(), batch.points[i].double(), batch.target[i].double()
        assert batch.degradation[i, 4] == 0  # these recipes save no JPEGs (the row's fifth entry)
        rows.append({"degradation": batch.degradation[i, :4].tolist(),
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
