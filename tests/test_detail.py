"""Shrinking soft training pictures until they hold a photo's detail (src/frannet/detail.py)."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from PIL import Image

from frannet.config import DataConfig
from frannet.data import training_images
from frannet.degradations import bicubic_resize
from frannet.detail import SHRINK_STEP, detail_db, shrink_to_detail


def _sharp(side: int, seed: int = 0) -> torch.Tensor:
    """Pixel-level noise: nothing survives a bicubic halving."""
    return torch.rand(3, side, side, generator=torch.Generator().manual_seed(seed))


def _soft(side: int, enlarged: int) -> torch.Tensor:
    """Noise enlarged ``enlarged`` times by bicubic: smooth at the pixel level, like an upscaled wallpaper."""
    return bicubic_resize(_sharp(side // enlarged), (side, side)).clamp(0, 1)


def test_detail_scores_soft_pictures_higher():
    sharp, soft, softer = detail_db(_sharp(64)), detail_db(_soft(64, 4)), detail_db(_soft(64, 8))
    assert sharp < 20 < soft < softer
    assert detail_db(torch.full((3, 32, 32), 0.5)) == math.inf


def test_soft_pictures_are_shrunk_until_detailed_enough():
    soft = _soft(512, 8)
    target = detail_db(_soft(512, 2))  # what an enlarged-twice picture scores
    shrunk = shrink_to_detail(soft, target, min_side=32)
    h = shrunk.shape[-1]
    assert shrunk.shape[-2] == h and 512 / 8 <= h < 512 / 2  # about four to six times smaller
    assert round(math.log(512 / h, SHRINK_STEP), 1) % 1 == 0  # by a power of the step
    assert detail_db(shrunk) <= target + 1.0  # measured on windows, so not exactly
    once_less = bicubic_resize(soft, (round(h * SHRINK_STEP),) * 2)
    assert detail_db(once_less) > target  # the smallest shrink that gets there


def test_detailed_pictures_and_the_floor_are_kept():
    sharp = _sharp(96)
    assert shrink_to_detail(sharp, 30.0, min_side=32) is sharp
    floored = shrink_to_detail(_soft(200, 10), 10.0, min_side=120)
    assert min(floored.shape[-2:]) >= 120 and floored.shape[-1] < 200  # as far as the floor allows


def test_training_images_shrink_soft_pictures_only(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    for name, img in (("soft.png", _soft(256, 8)), ("sharp.png", _sharp(128))):
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(folder / name)
    cfg = DataConfig(train=(str(folder),), patch=16, max_scale=2.0)
    assert [tuple(img.shape[-2:]) for img in training_images(cfg)] == [(128, 128), (256, 256)]
    detailed = [tuple(img.shape[-2:]) for img in training_images(dataclasses.replace(cfg, detail_target_db=30.0,
                                                                                       detail_min_side=40))]
    assert detailed[0] == (128, 128) and detailed[1][0] < 128
    with pytest.raises(ValueError, match="detail_min_side must be"):
        dataclasses.replace(cfg, detail_target_db=30.0, detail_min_side=31)  # smaller than the largest crop
    with pytest.raises(ValueError, match="detail_target_db must be"):
        dataclasses.replace(cfg, detail_target_db=-3.0)
