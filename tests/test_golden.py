"""Golden outputs of every bundled model (spandrel-style): a 24 x 24 crop of the bundled sample
photo through each model's product path, compared with values stored in tests/golden/bundled.json.

The values were recorded from the code before the degradation refactor (issue 24), so these
tests show that refactors leave the bundled models' outputs unchanged. Each case stores its
shape, a few statistics and the pixels at fixed positions; they must match within ``TOL``
(absolute, on the 0-1 scale: far below one 8-bit level, far above float32 rounding across
thread counts). To re-record after an intended change of outputs:

    FRANNET_WRITE_GOLDEN=1 pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import frannet
from frannet.api import SAMPLE_IMAGE
from frannet.io import Picture
from frannet.degradations import Degradation
from frannet import pipeline
from frannet.pipeline import BUNDLED, Job, Models, restore_picture
from frannet.restorators import Sampling, render

GOLDEN = Path(__file__).parent / "golden" / "bundled.json"
TOL = 1e-4
WRITE = os.environ.get("FRANNET_WRITE_GOLDEN") == "1"


@pytest.fixture(autouse=True)
def float32(monkeypatch):
    """The reference path: float32 even on a CPU where the product would pick bfloat16."""
    monkeypatch.setattr(pipeline, "native_bf16", lambda: False)


def _crop() -> np.ndarray:
    """(24, 24, 3) float32 in [0, 1]: the cup's rim, edges and texture."""
    rgb = np.asarray(Image.open(SAMPLE_IMAGE).convert("RGB"), dtype=np.float32) / 255.0
    return np.ascontiguousarray(rgb[88:112, 140:164])


def _noisy(x: np.ndarray, sigma: float = 25.0) -> np.ndarray:
    rng = np.random.default_rng(24)
    return (x + rng.normal(0.0, sigma / 255.0, x.shape)).astype(np.float32)


def _gray(x: np.ndarray) -> np.ndarray:
    return (x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.float32)


def _as_hwc(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.permute(1, 2, 0).numpy()
    x = np.asarray(x, dtype=np.float64)
    return x[..., None] if x.ndim == 2 else x


def _case_sr():
    return frannet.upscale(_crop(), scale=2.5)


def _case_sr_anisotropic():
    return frannet.upscale(_crop(), size=(56, 40))


def _case_denoise():
    return frannet.denoise(_noisy(_crop()), noise=25.0)


def _case_color():
    return frannet.colorize(_gray(_crop()))


def _case_color_one_pass():
    """The colour model reading all of its condition at once: x2, sigma 25 and a gray input."""
    small = torch.from_numpy(_noisy(_gray(_crop())[..., None].repeat(3, axis=2))).permute(2, 0, 1).contiguous()
    return render(Models().get("colorize"), small, (48, 48), degradation=Degradation(sigma=25.0, gray=True))


def _case_diffusion():
    out, std = frannet.upscale(_crop(), scale=2, restorator="diffusion", steps=4, seed=3, samples=2,
                               uncertainty=True)
    return np.concatenate([_as_hwc(out), _as_hwc(std)], axis=2)


def _case_autoregressive():
    out, std = frannet.upscale(_crop(), scale=2, restorator="autoregressive", steps=3, seed=2, samples=2,
                               uncertainty=True)
    return np.concatenate([_as_hwc(out), _as_hwc(std)], axis=2)


def _case_diffusion_consistent():
    return frannet.upscale(_crop(), scale=2, restorator="diffusion", steps=3, seed=1, consistency=True)


def _case_diffusion_adaptive():
    job = Job(48, 48, restorator="diffusion", sampling=Sampling(steps=6, adaptive=4.0, adaptive_tile=8))
    out = restore_picture(Picture(rgb=_crop()), job, Models())
    return np.concatenate([out.rgb, out.evaluations[..., None]], axis=2)


def _case_inpaint():
    mask = np.zeros((24, 24), dtype=bool)
    mask[8:15, 6:18] = True
    return frannet.inpaint(_crop(), mask, steps=3)


CASES = {name[len("_case_"):]: fn for name, fn in globals().items() if name.startswith("_case_")}


def _positions(h: int, w: int) -> list[tuple[int, int]]:
    return [(0, 0), (h - 1, w - 1), (h // 2, w // 2), (h // 3, 2 * w // 3), (2 * h // 3, w // 4), (1, w - 2)]


def _summary(x) -> dict:
    x = _as_hwc(x)
    h, w, _ = x.shape
    return {"shape": list(x.shape), "mean": float(x.mean()), "std": float(x.std()), "min": float(x.min()),
            "max": float(x.max()), "pixels": {f"{r},{c}": [float(v) for v in x[r, c]] for r, c in _positions(h, w)}}


def test_every_bundled_model_is_covered():
    used = {"sr", "denoise", "color", "diffusion", "autoregressive"}
    assert {p.stem.removeprefix("frannet-") for p in BUNDLED.values()} == used
    assert used <= {name.split("_")[0] for name in CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bundled_model_output_is_unchanged(name):
    got = _summary(CASES[name]())
    stored = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if WRITE:
        stored[name] = got
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    want = stored[name]
    assert got["shape"] == want["shape"]
    for key in ("mean", "std", "min", "max"):
        assert got[key] == pytest.approx(want[key], abs=TOL), key
    assert got["pixels"].keys() == want["pixels"].keys()
    for pos, values in want["pixels"].items():
        np.testing.assert_allclose(got["pixels"][pos], values, atol=TOL, rtol=0, err_msg=f"pixel {pos}")
