"""Denoise, colorize and both at once through the CLI and the API, plus estimate-noise and interpolate."""

import numpy as np
import pytest
from PIL import Image
from cli_run import luma_of, run_cli
from tiny import tiny_model

import frannet
from frannet import save_model
from frannet.checkpoint import describe


@pytest.fixture
def noisy_photo(tmp_path, photo):
    rgb = np.asarray(Image.open(photo), dtype=np.float64)
    noisy = rgb + np.random.default_rng(0).normal(0, 20, rgb.shape)
    path = tmp_path / "noisy.png"
    Image.fromarray(np.clip(np.round(noisy), 0, 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def gray_photo(tmp_path, photo):
    path = tmp_path / "gray.png"
    Image.open(photo).convert("L").save(path)
    return path


@pytest.mark.parametrize("noise", ["25", "auto", "0.5"])
def test_denoise_keeps_the_size_and_changes_the_pixels(capsys, tmp_path, noisy_photo, tunable_path, noise):
    out = tmp_path / "clean.png"
    code, _, err = run_cli(capsys, "denoise", noisy_photo, "-o", out, "--noise", noise, "--model", tunable_path)
    assert code == 0, err
    before, after = np.asarray(Image.open(noisy_photo)), np.asarray(Image.open(out))
    assert after.shape == before.shape and np.abs(after.astype(int) - before).max() > 0


def test_a_gray_photo_stays_gray(capsys, tmp_path, gray_photo, tunable_path):
    out = tmp_path / "clean.png"
    assert run_cli(capsys, "denoise", gray_photo, "-o", out, "--noise", "30", "--model", tunable_path)[0] == 0
    result = Image.open(out)
    assert result.mode == "L" and result.size == Image.open(gray_photo).size


def test_colorize_keeps_the_luma(capsys, tmp_path, gray_photo, colorize_path):
    out = tmp_path / "colour.png"
    code, _, err = run_cli(capsys, "colorize", gray_photo, "-o", out, "--model", colorize_path)
    assert code == 0, err
    rgb = np.asarray(Image.open(out))
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.std(axis=2).max() > 0  # colour, not gray
    gray = np.asarray(Image.open(gray_photo), dtype=np.float64)
    assert np.abs(luma_of(rgb) - gray).max() <= 1.0  # within 1/255 (the output is rounded to 8 bits)


def test_all_at_once_small_noisy_gray_to_large_colour(capsys, tmp_path, gray_photo, tunable_path):
    out = tmp_path / "all.png"
    code, _, err = run_cli(capsys, "restore", gray_photo, "-o", out, "--colorize", "--noise", "20", "--scale", "2",
                        "--model", tunable_path)
    assert code == 0, err
    w, h = Image.open(gray_photo).size
    assert Image.open(out).size == (2 * w, 2 * h) and Image.open(out).mode == "RGB"


def test_denoise_then_upscale(capsys, tmp_path, noisy_photo, tunable_path):
    out = tmp_path / "big.png"
    code, _, err = run_cli(capsys, "restore", noisy_photo, "-o", out, "--noise", "20", "--scale", "1.5",
                        "--model", tunable_path)
    assert code == 0, err
    w, h = Image.open(noisy_photo).size
    assert Image.open(out).size == (round(1.5 * w), round(1.5 * h))


@pytest.mark.parametrize("args,message", [
    (["--noise", "-3"], "between 0 and 75"), (["--noise", "80"], "between 0 and 75"), (["--noise", "loud"], "sigma"), (["--noise", "nan"], "between"),
])
def test_bad_noise_values(capsys, tmp_path, noisy_photo, tunable_path, args, message):
    code, _, err = run_cli(capsys, "denoise", noisy_photo, "-o", tmp_path / "o.png", "--model", tunable_path, *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_an_upscaling_model_cannot_denoise(capsys, tmp_path, noisy_photo, model_path):
    code, _, err = run_cli(capsys, "denoise", noisy_photo, "-o", tmp_path / "o.png", "--noise", "25", "--model", model_path)
    assert code == 2 and "is an upscaling model, but this command has no upscale stage" in err
    assert err.count("\n") == 1 and not (tmp_path / "o.png").exists()


def test_estimate_noise_command(capsys, tmp_path, noisy_photo):
    code, out, _ = run_cli(capsys, "estimate-noise", noisy_photo)
    assert code == 0
    sigma = float(out.split("sigma")[1])
    assert 16 < sigma < 26  # 20 added; the photo's own texture adds a little
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    code, out, err = run_cli(capsys, "estimate-noise", noisy_photo, bad)
    assert code == 1 and "sigma" in out and "bad.png" in err


def test_interpolate_command(capsys, tmp_path):
    a, b, c = (tmp_path / f"{n}.safetensors" for n in "abc")
    save_model(a, tiny_model(seed=1, tunable=True), task="colorize")
    save_model(b, tiny_model(seed=2, tunable=True), task="colorize")
    assert run_cli(capsys, "interpolate", a, b, "--alpha", "0.3", "-o", c)[0] == 0
    assert frannet.load_model(c).cfg.tunable and describe(c).task == "colorize" and describe(c).declared
    save_model(b, tiny_model(seed=2, tunable=True), task="denoise")  # one architecture, two tasks
    code, _, err = run_cli(capsys, "interpolate", a, b, "--alpha", "0.3", "-o", c)
    assert code == 2 and "a blend mixes two models of one task" in err and err.count("\n") == 1
    save_model(b, tiny_model(seed=2))
    code, _, err = run_cli(capsys, "interpolate", a, b, "--alpha", "0.3", "-o", c)
    assert code == 2 and "architectures differ" in err


def test_api_tasks_keep_types(tunable_path, colorize_path):
    rng = np.random.default_rng(0)
    arr = (rng.random((20, 24, 3)) * 255).astype(np.uint8)
    out = frannet.denoise(arr, noise=25, model=tunable_path)
    assert out.shape == arr.shape and out.dtype == np.uint8
    gray = arr[..., 0]
    colour = frannet.colorize(gray, model=colorize_path)
    assert colour.shape == (20, 24, 3) and colour.dtype == np.uint8
    big = frannet.colorize(Image.fromarray(gray), scale=2, model=colorize_path)
    assert big.mode == "RGB" and big.size == (48, 40)
    with pytest.raises(ValueError, match="noise"):
        frannet.denoise(arr, noise=-1, model=tunable_path)


def test_colorize_colours_the_denoised_and_upscaled_luma():
    # The luma is restored by the denoising and upscaling models, then coloured and kept exactly
    from frannet.io import Picture
    from frannet.pipeline import Job, Models, restore_picture

    tunable = tiny_model(seed=1, tunable=True)
    models = Models(upscale=tiny_model(), denoise=tunable, colorize=tunable)
    gray = Picture(rgb=np.repeat(np.random.default_rng(0).random((9, 11, 1), dtype=np.float32), 3, axis=2))
    colour = restore_picture(gray, Job(22, 18, noise=10.0, colorize=True), models).rgb
    plain = restore_picture(gray, Job(22, 18, noise=10.0), models).rgb
    assert colour.shape == (18, 22, 3) and colour.std(axis=2).max() > 1e-3
    np.testing.assert_allclose(luma_of(colour), luma_of(plain), atol=1e-5)
