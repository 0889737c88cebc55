"""Transparent pictures: semi-transparent edges keep their colour, whole or band by band."""

import numpy as np
import pytest
import torch

from frannet import transparency
from frannet.io import Picture
from frannet.pipeline import Job, restore_bands, restore_picture
from frannet.transparency import fill_hidden


def _red_square(hidden_colour) -> Picture:
    """48x48, red and opaque inside a centred 24x24 square, fully transparent outside."""
    alpha = np.zeros((48, 48), np.float32)
    alpha[12:36, 12:36] = 1
    rgb = np.empty((48, 48, 3), np.float32)
    rgb[:] = hidden_colour
    rgb[alpha > 0] = (1, 0, 0)
    return Picture(rgb, alpha)


@pytest.mark.parametrize("hidden_colour", [(1, 0, 0), (0, 0, 0)])
def test_semi_transparent_edges_keep_their_colour(hidden_colour):
    """The bundled (sharp) model at x2: every pixel with any alpha is red, whole or streamed."""
    picture, job = _red_square(hidden_colour), Job(96, 96)
    whole = restore_picture(picture, job)
    header, bands = restore_bands(picture, job)
    streamed = [np.concatenate(parts) for parts in zip(*bands)]
    for rgb, alpha in ((whole.rgb, whole.alpha), streamed):
        seen = np.round(alpha * 255) > 0
        assert 0 < seen.sum() and (alpha[seen] < 1).sum() > 50  # there are semi-transparent edges
        red = np.round(rgb[seen] * 255)
        assert red[:, 0].min() >= 230 and red[:, 1:].max() <= 25


def test_hidden_pixels_take_the_colour_of_the_nearest_visible_ones(monkeypatch):
    rgb = torch.rand(3, 36, 29, generator=torch.Generator().manual_seed(0))
    alpha = torch.zeros(36, 29)
    alpha[:, :5] = 1
    alpha[30:, 20:] = 0.5
    filled = fill_hidden(rgb, alpha)
    visible = alpha > 0
    assert torch.equal(filled[:, visible], rgb[:, visible])
    # next to the opaque stripe: the mean of its 2x2 block's visible pixels
    pairs = rgb[:, :, 4].reshape(3, 18, 2).mean(dim=2).repeat_interleave(2, dim=1)
    assert torch.allclose(filled[:, :, 5], pairs, atol=1e-6)
    # farther off: the first block of 8x8 that holds visible pixels (rows 24-31, columns 16-23)
    assert torch.allclose(filled[:, 24:32, 16:20], rgb[:, 30:32, 20:24].mean(dim=(1, 2))[:, None, None], atol=1e-6)
    monkeypatch.setattr(transparency, "BAND_ROWS", 4)  # bands give the same colours as one pass
    assert torch.equal(fill_hidden(rgb, alpha), filled)
    assert torch.equal(fill_hidden(rgb, torch.zeros(36, 29)), rgb)  # nothing to take colour from
