import math

import numpy as np
import torch

from frannet.metrics import colourfulness, psnr_y, rgb_to_y, ssim_y


def test_y_formula():
    img = torch.tensor([1.0, 0.0, 0.0]).reshape(3, 1, 1)
    assert math.isclose(rgb_to_y(img).item(), 16 + 65.481)
    assert math.isclose(rgb_to_y(torch.ones(3, 1, 1)).item(), 16 + 65.481 + 128.553 + 24.966)


def test_psnr_known_value_and_identity():
    a = torch.full((3, 8, 8), 128 / 255)
    assert psnr_y(a, a) == float("inf")
    b = a.clone()
    b[1] = 130 / 255  # Y differs by 128.553 * 2/255 everywhere (green channel only)
    dy = 128.553 * 2 / 255
    assert math.isclose(psnr_y(a, b), 10 * math.log10(255**2 / dy**2), rel_tol=1e-6)


def test_border_crop_ignores_the_border():
    a = torch.rand(3, 20, 20)
    b = a.clone()
    b[:, :2] = 0  # damage only the top two rows
    assert psnr_y(a, b, crop=2) == float("inf")
    assert psnr_y(a, b, crop=1) < 60


def test_ssim_identity_and_degradation():
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.random((3, 32, 32)))
    assert math.isclose(ssim_y(a, a), 1.0, rel_tol=1e-9)
    noisy = (a + 0.2 * torch.from_numpy(rng.standard_normal((3, 32, 32)))).clamp(0, 1)
    assert ssim_y(a, noisy) < 0.9


def test_ssim_known_value():
    # skimage.metrics.structural_similarity of the two Y planes (gaussian_weights=True, sigma=1.5,
    # use_sample_covariance=False, data_range=255: Wang et al.'s and BasicSR's SSIM) gives the same
    rng = np.random.default_rng(3)
    a = torch.from_numpy(rng.random((3, 24, 30)))
    b = (a + 0.1 * torch.from_numpy(rng.standard_normal((3, 24, 30)))).clamp(0, 1)
    assert math.isclose(ssim_y(a, b, crop=2), 0.9470792822190248, rel_tol=1e-9)


def test_colourfulness_by_hand():
    # red and black pixels: rg = (255, 0), yb = (127.5, 0); each has mean and std half its top
    img = torch.zeros(3, 1, 2)
    img[0, 0, 0] = 1.0
    assert math.isclose(colourfulness(img), 1.3 * math.hypot(127.5, 63.75))
    flat = torch.tensor([200.0, 100.0, 50.0]).div(255).reshape(3, 1, 1).expand(3, 4, 5)
    assert math.isclose(colourfulness(flat), 0.3 * math.hypot(100, 100))  # no spread: the mean term alone
    assert colourfulness(torch.rand(1, 6, 7).expand(3, 6, 7)) == 0.0  # gray
