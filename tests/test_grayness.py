"""A picture is gray when its channels are equal, or within GRAY_LEVELS at all but COLOUR_SHARE of its pixels."""

import torch

from frannet.grayness import COLOUR_SHARE, GRAY_LEVELS, is_gray

H, W = 300, 100  # taller than the rows measured at a time


def _gray() -> torch.Tensor:
    levels = torch.randint(8, 248, (1, H, W), generator=torch.Generator().manual_seed(0))
    return (levels.expand(3, H, W) / 255).contiguous()


def test_equal_channels_are_gray_and_a_photo_is_not():
    assert is_gray(_gray())
    colour = _gray()
    colour[0, :, : W // 2] = 1.0  # a red half
    assert not is_gray(colour)


def test_channels_within_the_tolerance_are_gray():
    tinted = _gray()
    tinted[0] += GRAY_LEVELS / 255  # a faint cast, everywhere
    assert is_gray(tinted)
    tinted[0] += 1 / 255  # one level more
    assert not is_gray(tinted)


def test_a_few_coloured_pixels_leave_a_picture_gray():
    spotted = _gray().reshape(3, -1)
    allowed = int(COLOUR_SHARE * H * W)
    spotted[1, -allowed:] = 0.0  # the last rows: green taken out of them
    assert is_gray(spotted.reshape(3, H, W))
    spotted[1, -allowed - 1:] = 0.0
    assert not is_gray(spotted.reshape(3, H, W))
