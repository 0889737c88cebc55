import dataclasses
import io

import numpy as np
import pytest
import torch
from PIL import Image

from frannet.config import DataConfig
from frannet.degradations import (Degradation, avgpool_downscale, bicubic_downscale, bicubic_resize, downscaled_size,
                                  draw_degradation, fit_side, gaussian_blur, quantize, resize_matrix, to_gray,
                                  validation_degradations)


@pytest.mark.parametrize("h,w,oh,ow", [(97, 131, 31, 50), (64, 64, 16, 16), (50, 70, 23, 17), (33, 33, 33, 12),
                                       (40, 30, 80, 61), (7, 9, 3, 2)])
def test_bicubic_matches_pillow_float(h, w, oh, ow):
    a = np.random.default_rng(h * w).random((h, w)).astype(np.float32)
    ref = np.asarray(Image.fromarray(a, mode="F").resize((ow, oh), Image.BICUBIC))
    out = bicubic_resize(torch.from_numpy(a).double(), (oh, ow)).numpy()
    assert np.abs(ref - out).max() < 1e-5


def test_fit_side_shrinks_the_longer_side_only_when_it_is_over():
    img = torch.rand(3, 30, 80, dtype=torch.float64)
    assert torch.equal(fit_side(img, 40), bicubic_resize(img, (15, 40)))
    assert torch.equal(fit_side(img.transpose(-1, -2), 40), bicubic_resize(img.transpose(-1, -2), (40, 15)))
    assert fit_side(img, 80) is img


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


# --- the Degradation record, its chain and its sampler ---

def _photo(h: int = 40, w: int = 52, seed: int = 0) -> torch.Tensor:
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))


def test_the_condition_row_is_scale_per_axis_noise_gray_and_jpeg_level():
    row = Degradation(sigma=25.0, gray=True, jpeg=40).for_sizes((10, 20), (35, 50)).condition()
    assert torch.equal(row, torch.tensor([50 / 20, 35 / 10, 25.0, 1.0, 60 / 90]))
    assert Degradation().condition(torch.float64).dtype == torch.float64
    assert torch.equal(Degradation(sx=2.0, sy=3.0).condition(), torch.tensor([2.0, 3.0, 0.0, 0.0, 0.0]))
    assert Degradation(jpeg=100).condition()[4] == 0 and Degradation(jpeg=5).condition()[4] == 1  # clipped


def test_degradations_are_validated():
    for bad in (dict(sx=0.0), dict(sy=float("nan")), dict(sigma=-1.0), dict(sigma=float("inf")), dict(gray=1),
                dict(jpeg=0), dict(jpeg=101), dict(jpeg=50.0), dict(jpeg=True), dict(jpeg_before=50)):
        with pytest.raises(ValueError):
            Degradation(**bad)
    with pytest.raises(ValueError, match="generator"):
        Degradation(sigma=5.0).apply(_photo())


def test_the_chain_downscales_rounds_grays_and_adds_noise_in_that_order():
    hr = _photo()
    d = Degradation(sx=2.0, sy=4.0, sigma=10.0, gray=True)
    small = quantize(bicubic_resize(hr.double(), (10, 26)).float())
    gray = to_gray(small)
    noise = torch.randn((1, 10, 26), generator=torch.Generator().manual_seed(5)) * (10.0 / 255)
    torch.testing.assert_close(d.apply(hr, torch.Generator().manual_seed(5)), gray + noise, rtol=0, atol=0)
    assert torch.equal(Degradation().apply(hr), hr)  # nothing to do
    assert Degradation(sigma=3.0).apply(hr.double(), torch.Generator()).dtype == torch.float64
    assert Degradation(sx=2, sy=2).label() == "x2" and Degradation(sx=2, sy=3).label() == "x2x3"
    assert Degradation(sigma=25, gray=True, jpeg=30).label() == "x1 s25 gray q30"


@pytest.mark.parametrize("gray", [False, True])
def test_jpeg_is_a_real_encoder_round_trip_and_off_by_default(gray):
    hr = to_gray(_photo()) if gray else _photo()
    assert Degradation().jpeg is None
    out = Degradation(jpeg=30, gray=gray).apply(hr)
    pixels = np.round(hr.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    buffer = io.BytesIO()
    (Image.fromarray(pixels[..., 0], "L") if gray else Image.fromarray(pixels, "RGB")).save(buffer, "JPEG", quality=30)
    expected = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(), expected)
    assert (out - hr).abs().mean() > 1 / 255  # quality 30 loses detail
    assert (Degradation(jpeg=95).apply(hr) - hr).abs().mean() < (out - hr).abs().mean()
    if gray:
        assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])


def test_the_sampler_keeps_the_draws_of_existing_recipes():
    """The scale comes first (the crop is cut for it), then the gray flag and the noise level."""
    cfg = DataConfig(patch=10, max_scale=3.0, noise=(0.0, 50.0), gray_input=0.5)
    g, h = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    cuts = []

    def cut(sx, sy):
        cuts.append((sx, sy))
        torch.rand((), generator=g)  # cutting draws from the same stream
        return round(10 * sx) / 10, round(10 * sy) / 10

    d = draw_degradation(cfg, g, cut)
    sy = 1.0 + 2.0 * torch.rand((), generator=h).item()
    sx = 1.0 + 2.0 * torch.rand((), generator=h).item() if torch.rand((), generator=h) < 0.2 else sy
    torch.rand((), generator=h)
    gray = bool(torch.rand((), generator=h) < 0.5)
    sigma = 50.0 * torch.rand((), generator=h).item()
    assert cuts == [(sx, sy)]
    assert d == Degradation(sx=round(10 * sx) / 10, sy=round(10 * sy) / 10, sigma=sigma, gray=gray)


def test_a_camera_blurs_before_it_shrinks_and_its_shot_noise_grows_with_the_signal():
    hr = _photo()
    g = torch.Generator().manual_seed(3)
    soft = Degradation(sx=2.0, sy=2.0, blur=0.8).apply(hr)
    torch.testing.assert_close(soft, quantize(bicubic_resize(gaussian_blur(hr, 0.8).double(), (20, 26)).float()))
    flat = torch.cat([torch.full((3, 64, 64), 0.125), torch.full((3, 64, 64), 0.5)], dim=2)
    noisy = Degradation(shot=8.0).apply(flat, g) - flat
    dark, mid = noisy[..., :64].std().item() * 255, noisy[..., 64:].std().item() * 255
    assert mid == pytest.approx(8.0, rel=0.05) and dark == pytest.approx(4.0, rel=0.05)  # sqrt(0.125 / 0.5) = 1/2
    both = Degradation(sigma=6.0, shot=8.0)
    assert both.noise == 10.0 and both.condition()[2] == 10.0  # told their std at mid-gray
    assert Degradation(sx=2, sy=2, blur=0.8, sigma=5, shot=3).label() == "x2 b0.8 s5 p3"
    for bad in (dict(blur=-1.0), dict(shot=float("nan"))):
        with pytest.raises(ValueError):
            Degradation(**bad)
    with pytest.raises(ValueError, match="generator"):
        Degradation(shot=2.0).apply(hr)


def test_blur_and_shot_noise_are_drawn_last_for_their_shares():
    cfg = DataConfig(patch=10, max_scale=3.0, noise=(0.0, 50.0), jpeg_share=0.5)
    camera = dataclasses.replace(cfg, blur_share=1.0, blur=(0.5, 0.9), shot_share=1.0, shot=(2.0, 4.0))
    cut = lambda sx, sy: (sx, sy)  # noqa: E731
    for seed in range(20):
        plain = draw_degradation(cfg, torch.Generator().manual_seed(seed), cut)
        drawn = draw_degradation(camera, torch.Generator().manual_seed(seed), cut)
        assert dataclasses.replace(drawn, blur=0.0, shot=0.0) == plain  # the draws before them are kept
        assert 0.5 <= drawn.blur <= 0.9 and 2.0 <= drawn.shot <= 4.0
    with pytest.raises(ValueError, match="blur"):
        DataConfig(blur=(1.0, 0.5))


def test_an_earlier_save_can_come_from_its_own_range_without_moving_other_draws():
    cfg = DataConfig(patch=10, max_scale=3.0, jpeg_share=1.0, jpeg_quality=(20, 60), jpeg_twice=0.5)
    camera = dataclasses.replace(cfg, jpeg_twice_quality=(92, 98))
    cut = lambda sx, sy: (sx, sy)  # noqa: E731
    twice = 0
    for seed in range(40):
        plain = draw_degradation(cfg, torch.Generator().manual_seed(seed), cut)
        drawn = draw_degradation(camera, torch.Generator().manual_seed(seed), cut)
        assert dataclasses.replace(drawn, jpeg_before=plain.jpeg_before) == plain  # only the earlier quality moves
        assert (drawn.jpeg_before is None) == (plain.jpeg_before is None)
        if drawn.jpeg_before is not None:
            twice += 1
            assert 92 <= drawn.jpeg_before <= 98 and 20 <= plain.jpeg_before <= 60
    assert 10 <= twice <= 30
    for bad in ((98, 92), (0, 95), (50, 101)):
        with pytest.raises(ValueError, match="jpeg_twice_quality"):
            DataConfig(jpeg_twice_quality=bad)


def test_a_share_of_jpeg_qualities_comes_from_the_focus_range():
    cfg = DataConfig(patch=10, jpeg_share=1.0, jpeg_quality=(20, 95), jpeg_twice=0.0)
    focused = dataclasses.replace(cfg, jpeg_focus=(85, 95), jpeg_focus_share=0.5)
    cut = lambda sx, sy: (sx, sy)  # noqa: E731
    qualities = [draw_degradation(focused, torch.Generator().manual_seed(seed), cut).jpeg for seed in range(400)]
    high = sum(q >= 85 for q in qualities) / len(qualities)
    assert min(qualities) >= 20 and max(qualities) <= 95
    assert 0.5 + 0.5 * 11 / 76 - 0.08 < high < 0.5 + 0.5 * 11 / 76 + 0.08  # half focused, the rest uniform
    unfocused = [draw_degradation(cfg, torch.Generator().manual_seed(seed), cut).jpeg for seed in range(400)]
    assert sum(q >= 85 for q in unfocused) / 400 < 0.25
    for bad in (dict(jpeg_focus=(10, 50)), dict(jpeg_focus=(90, 80)), dict(jpeg_focus_share=1.5)):
        with pytest.raises(ValueError, match="jpeg_focus"):
            DataConfig(jpeg_quality=(20, 95), **{"jpeg_focus": (85, 95), "jpeg_focus_share": 0.5, **bad})


def test_validation_degradations_cover_every_scale_and_level():
    cfg = DataConfig(val_scales=(1.0, 4.0), val_noise=(0.0, 25.0), val_gray=True)
    assert [d.label() for d in validation_degradations(cfg)] == ["x1 gray", "x1 s25 gray", "x4 gray", "x4 s25 gray"]


# A new kind of degradation, added the way the record is meant to grow: a field on the record
# (with its step of the chain) and its draw in the sampler. Nothing else is touched: training
# batches, validation and rendering take it as they are.

@dataclasses.dataclass(frozen=True)
class Hazy(Degradation):
    haze: float = 0.0  # the picture mixed with white by this much, before it is shrunk: a foggy day

    def apply(self, hr, generator=None, *, gray_photo=False):
        return super().apply(hr + self.haze * (1 - hr) if self.haze else hr, generator, gray_photo=gray_photo)


HAZE = (0.3, 0.3)  # the new field's range (a DataConfig field, for a real one)


def draw_hazy(cfg, g, cut):
    drawn = draw_degradation(cfg, g, cut)
    return Hazy(**dataclasses.asdict(drawn), haze=HAZE[0] + (HAZE[1] - HAZE[0]) * torch.rand((), generator=g).item())


def test_a_new_degradation_field_needs_only_the_record_and_its_sampler():
    from tiny import tiny_model

    from frannet.data import training_batch
    from frannet.evaluate import validate
    from frannet.objectives import loss
    from frannet.restorators import render

    images = [_photo(40, 40, seed) for seed in range(3)]
    cfg = DataConfig(patch=12, min_scale=1.0, max_scale=1.0, target_points=32)
    plain = training_batch(images, cfg, 0, 1, range(3))
    hazy = training_batch(images, cfg, 0, 1, range(3), draw=draw_hazy)
    # the new field is drawn last and is not in the model's condition: the same crops and rows ...
    assert torch.equal(hazy.degradation, plain.degradation)
    # ... whose inputs went through the new step of the chain
    torch.testing.assert_close(hazy.lr, torch.stack([x + 0.3 * (1 - x) for x in plain.lr]), rtol=0, atol=1e-6)
    model = tiny_model()
    assert torch.isfinite(loss(model.train(), hazy))  # trains
    result = validate(model, images, [Hazy(sx=2.0, sy=2.0, haze=0.2)], crop=32)  # validates
    assert set(result) == {"x2"} and result["x2"]["model"] > 0
    lr = _photo(10, 10)
    assert torch.equal(render(model.eval(), lr, (20, 20), degradation=Hazy(haze=0.2)), render(model, lr, (20, 20)))
