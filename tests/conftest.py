"""Shared fixtures: tiny random models and small generated images (fast, CPU only)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tiny import tiny_model

from frannet import FranNet, save_model
from frannet.dead_leaves import dead_leaves


@pytest.fixture
def model() -> FranNet:
    return tiny_model()


def saved(folder, name: str, task: str | None = None, **options):
    """A tiny random model (``tiny_model(**options)``) written to folder/name, its file saying ``task``."""
    path = folder / name
    save_model(path, tiny_model(**options), task=task)
    return path


@pytest.fixture
def model_path(tmp_path):
    return saved(tmp_path, "tiny.safetensors")


@pytest.fixture
def tunable_path(tmp_path):
    """A tiny random model conditioned on noise level and gray input, whose file says it denoises."""
    return saved(tmp_path, "tiny-tunable.safetensors", "denoise", tunable=True)


@pytest.fixture
def colorize_path(tmp_path):
    """The same tiny tunable model, in a file that says it colorizes."""
    return saved(tmp_path, "tiny-colorize.safetensors", "colorize", tunable=True)


@pytest.fixture
def color_diffusion_path(tmp_path):
    """A tiny random diffusion model whose file says it colorizes."""
    return saved(tmp_path, "tiny-color-diffusion.safetensors", "colorize", tunable=True, restorator="diffusion")


@pytest.fixture
def jpeg_path(tmp_path):
    """A tiny random upscaling model that is also told the JPEG quality (a JPEG-aware upscaler)."""
    return saved(tmp_path, "tiny-jpeg.safetensors", "upscale", jpeg=True)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """A train and a val folder of small dead-leaves images."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("val", 1)):
        (root / split).mkdir()
        for i in range(count):
            Image.fromarray(dead_leaves(64, rng, r_min=3, max_discs=400)).save(root / split / f"{i}.png")
    return root


@pytest.fixture
def photo(tmp_path):
    """A small RGB photo-like PNG on disk."""
    rng = np.random.default_rng(1)
    path = tmp_path / "photo.png"
    Image.fromarray(dead_leaves(40, rng, r_min=2, max_discs=300)[:, :37]).save(path)
    return path

