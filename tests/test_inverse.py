"""Projected denoising (with a stand-in denoiser), inpainting and compressed sensing through
the API and the CLI, and their errors."""

import numpy as np
import pytest
import torch
from PIL import Image

import frannet
from frannet.cli import main
from frannet.consistency import BlockCS, Mask
from frannet.measurements import load_measurements, measure
from frannet.degradations import gaussian_blur
from frannet.restorators.projected_denoising import (geometric_sigmas, projected_denoising,
                                                      smooth_start)


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _smooth_image(size: int = 32) -> torch.Tensor:
    t = torch.linspace(0, 1, size, dtype=torch.float64)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([0.5 + 0.3 * torch.sin(3 * xx + c) * torch.cos(2 * yy) for c in range(3)])


def _mse(a, b) -> float:
    return ((a - b) ** 2).mean().item()


@pytest.mark.parametrize("kind", ["mask", "cs"])
def test_projected_denoising_ends_consistent_and_beats_the_pseudo_inverse(kind):
    truth = _smooth_image()
    g = torch.Generator().manual_seed(0)
    op = Mask((torch.rand(32, 32, generator=g) > 0.7).double()) if kind == "mask" else BlockCS(0.2, block=8, seed=3)
    y = op(truth)
    blur = lambda x, sigma: gaussian_blur(x, sigma / 10)  # noqa: E731  a stand-in denoiser
    out = projected_denoising(blur, op, y, geometric_sigmas(20, 5, 30))
    assert (op(out.float()) - y.float()).abs().max() <= 1e-5
    assert _mse(out, truth) < 0.25 * _mse(op.pinv(y), truth)
    steps = []
    projected_denoising(blur, op, y, geometric_sigmas(20, 5, 3), start=smooth_start(op, y), progress=steps.append)
    assert steps == [1, 1, 1]


def test_geometric_sigmas():
    s = geometric_sigmas(50, 3, 8)
    assert len(s) == 8 and s[0] == pytest.approx(50) and s[-1] == pytest.approx(3)
    assert all(a > b for a, b in zip(s, s[1:]))
    with pytest.raises(ValueError):
        geometric_sigmas(3, 50, 8)


def test_measurements_round_trip_through_the_file(tmp_path):
    rgb = torch.rand(3, 20, 37)
    meas = measure(rgb, 0.3, block=8, seed=5)
    meas.save(tmp_path / "m.npz")
    again = load_measurements(tmp_path / "m.npz")
    assert (again.ratio, again.block, again.seed, again.height, again.width) == (0.3, 8, 5, 20, 37)
    torch.testing.assert_close(again.values, meas.values)


def test_inpaint_api_keeps_the_observed_pixels_and_the_type(tunable_path):
    rng = np.random.default_rng(0)
    image = (rng.random((24, 20, 3)) * 255).astype(np.uint8)
    mask = rng.random((24, 20)) > 0.6
    out = frannet.inpaint(image, mask, steps=2, model=tunable_path)
    assert out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_array_equal(out[~mask], image[~mask])
    pil = frannet.inpaint(Image.fromarray(image), Image.fromarray((mask * 255).astype(np.uint8)), steps=1,
                          model=tunable_path)
    assert pil.mode == "RGB" and np.array_equal(np.asarray(pil)[~mask], image[~mask])


def test_sense_and_reconstruct_api(tunable_path):
    image = (np.random.default_rng(1).random((30, 40, 3)) * 255).astype(np.uint8)
    meas = frannet.sense(image, ratio=0.5, block=16)
    out = frannet.reconstruct(meas, steps=2, model=tunable_path)
    assert out.size == (40, 30) and out.mode == "RGB"


def test_inpaint_cli(capsys, tmp_path, photo, tunable_path):
    w, h = Image.open(photo).size
    mask = np.zeros((h, w), np.uint8)
    mask[10:20, 5:25] = 255  # white = missing
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "filled.png"
    code, _, err = _run(capsys, "inpaint", photo, "--mask", tmp_path / "mask.png", "-o", out, "--steps", "2",
                        "--model", tunable_path, "--quiet")
    assert code == 0, err
    before, after = np.asarray(Image.open(photo)), np.asarray(Image.open(out))
    keep = mask == 0
    np.testing.assert_array_equal(after[keep], before[keep])
    assert np.abs(after[~keep].astype(int) - before[~keep]).max() > 0


def test_sense_and_reconstruct_cli(capsys, tmp_path, photo, tunable_path):
    meas = tmp_path / "m.npz"
    code, out, err = _run(capsys, "sense", photo, "--ratio", "0.25", "--block", "8", "-o", meas)
    assert code == 0, err
    assert "ratio 0.25" in out
    rec = tmp_path / "r.png"
    code, _, err = _run(capsys, "reconstruct", meas, "-o", rec, "--steps", "2", "--model", tunable_path, "--quiet")
    assert code == 0, err
    assert Image.open(rec).size == Image.open(photo).size


@pytest.mark.parametrize("ratio", ["0", "1.5", "-0.1", "nan"])
def test_sense_refuses_a_ratio_outside_0_1(capsys, tmp_path, photo, ratio):
    code, _, err = _run(capsys, "sense", photo, "--ratio", ratio, "-o", tmp_path / "m.npz")
    assert code == 2 and "ratio must be in (0, 1]" in err
    assert not (tmp_path / "m.npz").exists()


def test_inpaint_refuses_a_mask_of_another_size(capsys, tmp_path, photo, tunable_path):
    Image.new("L", (5, 5), 255).save(tmp_path / "mask.png")
    code, _, err = _run(capsys, "inpaint", photo, "--mask", tmp_path / "mask.png", "-o", tmp_path / "o.png",
                        "--model", tunable_path)
    assert code == 2 and "the mask must be the same size" in err
    with pytest.raises(ValueError, match="same size"):
        frannet.inpaint(np.zeros((8, 8, 3), np.uint8), np.zeros((4, 8), bool), model=tunable_path)


@pytest.mark.parametrize("content", [b"not a zip file", None, "other-arrays", "bad-shape"])
def test_reconstruct_refuses_a_corrupt_file(capsys, tmp_path, tunable_path, content):
    path = tmp_path / "m.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "other-arrays":
        np.savez(path, values=np.zeros(3))
    elif content == "bad-shape":
        meas = measure(torch.rand(3, 16, 16), 0.25, block=8)
        meas.save(path)
        data = dict(np.load(path))
        data["height"] = np.int64(99)
        np.savez(path, **data)
    code, _, err = _run(capsys, "reconstruct", path, "-o", tmp_path / "r.png", "--model", tunable_path)
    assert code == 2 and "frannet: error:" in err and str(path) in err
    assert len(err.strip().splitlines()) == 1
