import numpy as np
import pytest
import torch

from frannet.dead_leaves import dead_leaves
from frannet.degradations import add_noise, quantize
from frannet.noise_estimate import estimate_noise


def _photo(seed: int) -> torch.Tensor:
    """A textured, photo-like test image: dead leaves (edges everywhere) on a smooth ramp."""
    leaves = torch.from_numpy(dead_leaves(256, np.random.default_rng(seed), r_min=4, max_discs=600).copy()).permute(2, 0, 1)
    ramp = torch.linspace(0.2, 0.8, 256).view(1, 1, -1).expand(3, 256, 256)
    return 0.5 * leaves.float() / 255 + 0.5 * ramp


@pytest.mark.parametrize("sigma", [10, 15, 25, 50])
@pytest.mark.parametrize("saved", [False, True])
def test_estimate_is_within_ten_percent_on_textured_images(sigma, saved):
    for seed in range(2):
        noisy = add_noise(_photo(seed), sigma, torch.Generator().manual_seed(seed))
        noisy = quantize(noisy) if saved else noisy  # an 8-bit file: rounded and clipped
        assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.1)


@pytest.mark.parametrize("sigma", [50, 75])
def test_estimate_is_within_ten_percent_when_saving_clipped_much_of_the_noise(sigma):
    # Full-range content (dark and bright leaves) at high sigma: a fifth or more of the saved
    # pixels are exactly 0 or 1, and the clipped noise left in every block is weaker than sigma.
    for seed in range(2):
        photo = torch.from_numpy(dead_leaves(256, np.random.default_rng(seed), r_min=4, max_discs=600).copy())
        noisy = quantize(add_noise(photo.permute(2, 0, 1).float() / 255, sigma, torch.Generator().manual_seed(seed)))
        assert ((noisy == 0) | (noisy == 1)).float().mean() > 0.15
        assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.1)


def test_gray_photos_and_clean_images():
    gray = add_noise(_photo(3), 20, torch.Generator().manual_seed(0), same_channels=True)
    assert estimate_noise(gray) == pytest.approx(20, rel=0.1)
    assert estimate_noise(gray[0]) == pytest.approx(20, rel=0.1)  # (H, W) works too
    assert estimate_noise(_photo(4)) < 2.5  # texture alone is not mistaken for noise
    assert estimate_noise(torch.full((3, 40, 40), 0.3)) == 0.0


def test_small_images():
    noisy = add_noise(torch.full((3, 12, 9), 0.5), 30, torch.Generator().manual_seed(0))
    assert 15 < estimate_noise(noisy) < 45  # fewer pixels than one block: still an estimate
    with pytest.raises(ValueError, match="too small"):
        estimate_noise(torch.zeros(3, 2, 50))


def test_blocks_worked_in_strips_equal_the_whole_image():
    from frannet.noise_estimate import BLOCK, _block_stats, _blocks

    img = quantize(add_noise(_photo(5)[:, :, :70], 60, torch.Generator().manual_seed(0)))  # 256 x 70, clipped
    h, w = (img.shape[-2] - 2) // BLOCK * BLOCK, (img.shape[-1] - 2) // BLOCK * BLOCK
    whole, strips = _block_stats(img, h, w), _blocks(img)
    for key in ("sigma", "mean", "clipped", "near"):
        assert strips[key].sort().values.allclose(whole[key].flatten().sort().values)
