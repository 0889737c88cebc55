import numpy as np
import pytest
import torch
from PIL import Image

from frannet.degradations import (avgpool_downscale, bicubic_downscale, bicubic_resize, downscaled_size, quantize,
                                  resize_matrix)


@pytest.mark.parametrize("h,w,oh,ow", [(97, 131, 31, 50), (64, 64, 16, 16), (50, 70, 23, 17), (33, 33, 33, 12),
                                       (40, 30, 80, 61), (7, 9, 3, 2)])
def test_bicubic_matches_pillow_float(h, w, oh, ow):
    a = np.random.default_rng(h * w).random((h, w)).astype(np.float32)
    ref = np.asarray(Image.fromarray(a, mode="F").resize((ow, oh), Image.BICUBIC))
    out = bicubic_resize(torch.from_numpy(a).double(), (oh, ow)).numpy()
    assert np.abs(ref - out).max() < 1e-5


def test_bicubic_matches_pillow_uint8_within_one_level():
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(128, 40, (120, 90, 3)), 0, 255).astype(np.uint8)
    for factor in (2, 2.5, 3, 3.7, 4):
        oh, ow = downscaled_size((120, 90), factor)
        ref = np.asarray(Image.fromarray(img).resize((ow, oh), Image.BICUBIC)).astype(float)
        x = torch.from_numpy(img).permute(2, 0, 1).double() / 255
        out = np.round(bicubic_downscale(x, factor).clamp(0, 1).permute(1, 2, 0).numpy() * 255)
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() <= 1


def test_resize_matrix_rows_sum_to_one():
    for n_in, n_out in ((100, 37), (10, 10), (5, 13)):
        assert torch.allclose(resize_matrix(n_in, n_out).sum(1), torch.ones(n_out, dtype=torch.float64))


def test_downscale_factor_per_axis_and_validation():
    assert downscaled_size((100, 60), (2.0, 3.0)) == (50, 20)
    assert downscaled_size((10, 10), 2.5) == (4, 4)
    for bad in (0.5, 0, float("nan"), float("inf"), -2):
        with pytest.raises(ValueError):
            downscaled_size((10, 10), bad)


def test_bicubic_keeps_constants_and_batches():
    x = torch.full((2, 3, 20, 30), 0.25, dtype=torch.float64)
    y = bicubic_downscale(x, 3)
    assert y.shape == (2, 3, 7, 10)
    assert torch.allclose(y, torch.full_like(y, 0.25))


def test_avgpool_downscale():
    x = torch.arange(36.0).reshape(1, 6, 6)
    y = avgpool_downscale(x, 3)
    assert y.shape == (1, 2, 2)
    assert y[0, 0, 0] == x[0, :3, :3].mean()
    assert avgpool_downscale(torch.ones(3, 7, 8), 2).shape == (3, 3, 4)  # cropped to a multiple
    with pytest.raises(ValueError):
        avgpool_downscale(x, 2.5)
    with pytest.raises(ValueError):
        avgpool_downscale(x, 7)


def test_quantize():
    x = torch.tensor([-0.1, 0.0, 0.5, 1.2])
    assert torch.equal(quantize(x) * 255, torch.tensor([0.0, 0.0, 128.0, 255.0]))
