"""Consistency with a JPEG file (``jpeg_cells``): the output of ``--consistency`` on a JPEG, bicubic-
downscaled, would be stored by the encoder with the file's own luma coefficients, where holding
it to the decoded pixels would give back their artefacts (at x1, the input itself)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from tiny import tiny_model

from frannet.consistency import BicubicDown
from frannet.dead_leaves import dead_leaves
from frannet.degradations import LUMA, bicubic_resize, jpeg_round_trip
from frannet.io import read_image
from frannet.jpeg_cells import SLACK, block_dct, block_idct, cells, hold_to_jpeg
from frannet.pipeline import Job, Models, restore_picture


def _photo(h: int = 64, w: int = 72) -> torch.Tensor:
    rgb = dead_leaves(max(h, w), np.random.default_rng(5), r_min=2, max_discs=400)[:h, :w]
    return torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float() / 255


def test_block_dct_inverts_on_full_blocks():
    luma = torch.rand(20, 27, dtype=torch.float64) * 255
    assert block_dct(luma).shape == (2, 3, 8, 8)
    assert torch.allclose(block_idct(block_dct(luma)), luma[:16, :24])


@pytest.mark.parametrize("quality", [30, 50, 75])
def test_a_decoded_jpeg_has_cells_and_sits_in_them(quality):
    decoded = jpeg_round_trip(_photo(), quality)
    held = cells(decoded, quality)
    assert held is not None
    luma = (decoded.double() * torch.tensor(LUMA, dtype=torch.float64).view(3, 1, 1)).sum(0)
    assert torch.allclose(held.project(luma), luma, atol=1e-9)  # already inside: projecting changes nothing


def test_pictures_off_the_grid_have_no_cells():
    photo = _photo()
    assert cells(photo, 50) is None  # never compressed
    decoded = jpeg_round_trip(photo, 50)
    assert cells(decoded[:, 3:, 5:], 50) is None  # cropped off its grid
    assert cells(bicubic_resize(decoded, (128, 144)), 50) is None  # resized


@pytest.mark.parametrize("scale", [1, 2])
def test_held_output_is_stored_as_the_file_is_and_not_the_pixels(scale):
    truth = _photo(64 * scale, 72 * scale)
    small = bicubic_resize(truth, (64, 72)) if scale > 1 else truth
    decoded = jpeg_round_trip(small, 40)
    guess = truth * 0.9 + 0.05  # a restoration a little off: its downscale leaves the cells
    down = BicubicDown(tuple(truth.shape[-2:]), (64, 72))
    held = cells(decoded, 40)
    out = hold_to_jpeg(guess, down, held)
    assert _outside(down(out.double()), held) < 0.01 < 0.1 < _outside(down(guess.double()), held)
    assert (down(out.double()).float() - decoded).abs().mean() > 1 / 255  # not the decoded pixels again
    assert out.min() >= 0 and out.max() <= 1


def test_consistency_on_a_jpeg_at_x1_keeps_the_models_work(tmp_path):
    """At x1 plain consistency is the identity's projection: the input back. Held to the file,
    the output is the model's moved into the cells, which hold many pictures besides the input."""
    path = tmp_path / "photo.jpg"
    Image.fromarray((_photo().permute(1, 2, 0) * 255).byte().numpy()).save(path, quality=35)
    picture, models = read_image(path), Models(upscale=tiny_model(jpeg=True))
    plain, held = (torch.from_numpy(restore_picture(picture, Job(72, 64, consistency=c), models).rgb).permute(2, 0, 1)
                   for c in (False, True))
    given = torch.from_numpy(picture.rgb).permute(2, 0, 1)
    assert (held - given).abs().mean() > 2 / 255  # not the input again
    assert not torch.equal(held, plain)
    stored = cells(given, 35)
    assert _outside(held, stored) < 0.05 < 1 < _outside(plain, stored)


def _outside(image: torch.Tensor, held) -> float:
    """How far ``image``'s luma coefficients are outside ``held``'s cells (their slack included),
    on average over the blocks the cells hold, on the 0-255 scale."""
    luma = (image.double() * torch.tensor(LUMA, dtype=torch.float64).view(3, 1, 1)).sum(0) * 255
    excess = ((block_dct(luma) - held.observed).abs() - held.step / 2 - SLACK).clamp(min=0)
    return float(excess[held.known].mean())
