import numpy as np
import pytest
from PIL import Image

import frannet


def test_upscale_pil_keeps_mode(model):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 12, 3), dtype=np.uint8))
    out = frannet.upscale(rgb, scale=2.5, model=model)
    assert out.mode == "RGB" and out.size == (30, 22)
    assert frannet.upscale(rgb.convert("L"), scale=2, model=model).mode == "L"
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    out = frannet.upscale(rgba, size=(40, 20), model=model)
    assert out.mode == "RGBA" and out.size == (40, 20)
    assert np.abs(np.asarray(out)[..., 3].astype(int) - 128).max() <= 1


@pytest.mark.parametrize("dtype,shape", [(np.uint8, (8, 10, 3)), (np.uint16, (8, 10, 3)), (np.float32, (8, 10)),
                                         (np.float64, (8, 10, 4))])
def test_upscale_numpy_keeps_dtype_and_channels(model, dtype, shape):
    rng = np.random.default_rng(1)
    arr = (rng.random(shape) * (np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1)).astype(dtype)
    out = frannet.upscale(arr, scale=(2, 3), model=model)
    assert out.dtype == dtype and out.shape == (24, 20, *shape[2:])


def test_upscale_rejects_bad_input(model):
    with pytest.raises(TypeError):
        frannet.upscale("not an image", scale=2, model=model)
    with pytest.raises(ValueError):
        frannet.upscale(np.zeros((4, 4, 2)), scale=2, model=model)
    with pytest.raises(ValueError, match="NaN"):
        frannet.upscale(np.full((4, 4, 3), np.nan), scale=2, model=model)
    with pytest.raises(ValueError):
        frannet.upscale(np.zeros((4, 4, 3)), scale=float("nan"), model=model)


def test_output_size_rules():
    assert frannet.output_size(10, 20, scale=1.5) == (15, 30)
    assert frannet.output_size(10, 20, scale=(2, 1)) == (20, 20)
    assert frannet.output_size(10, 20, size=(11, 21)) == (11, 21)
    with pytest.raises(ValueError, match="megapixels"):
        frannet.output_size(1000, 1000, scale=20, max_pixels=10**8)
    with pytest.raises(ValueError):
        frannet.output_size(10, 10)
