"""The ncnn engine (``FranNet.set_engine("ncnn")``) holds to the torch encoder within 1e-4: each
map of every bundled model and of tiny ones, and whole tiled renders; one network per condition."""

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from tiny import tiny_model

from frannet.checkpoint import load_model
from frannet.degradations import Degradation
from frannet.models.decoder import condition
from frannet.models.ncnn_encoder import CACHED_NETS, NcnnEncoder, ncnn_network
from frannet.pipeline import BUNDLED, Models
from frannet.tiling import render_tiled, tile_bands


def _maps_match(model, lr, told: torch.Tensor) -> None:
    cond = condition(told, model.cfg)
    with torch.no_grad():
        ref = model.encoder.eval()(lr, cond)
        got = NcnnEncoder(model.encoder)(lr, cond)
    assert [m.shape for m in got] == [m.shape for m in ref]
    assert all(m.is_contiguous(memory_format=torch.channels_last) for m in got)  # the layout torch's maps have
    assert max((a - b).abs().max().item() for a, b in zip(got, ref)) <= 1e-4


@pytest.mark.parametrize("slot", list(BUNDLED))
def test_bundled_encoders_match_torch(slot):
    model = load_model(BUNDLED[slot])
    lr = torch.rand(1, 3, 45, 39, generator=torch.Generator().manual_seed(0))
    noise = 25.0 if model.cfg.tunable else 0.0
    _maps_match(model, lr, torch.tensor([[2.0, 2.0, noise, 0.0, 0.0]]))


@pytest.mark.parametrize("tunable,unshuffle", [(False, 1), (True, 1), (True, 2)])
def test_tiny_encoders_match_torch_per_condition_row(tunable, unshuffle):
    model = tiny_model(tunable=tunable, unshuffle=unshuffle)
    lr = torch.rand(2, 3, 21, 17, generator=torch.Generator().manual_seed(1))
    told = torch.tensor([[1.0, 1.0, 10.0, 0.0, 0.0], [1.0, 1.0, 50.0, 1.0, 0.0]])  # a batch: a row each
    _maps_match(model, lr, told if tunable else told[:, :2])


def test_the_network_folds_each_block_into_two_convolutions_and_an_add():
    model = tiny_model(tunable=True)
    param, weights, outputs = ncnn_network(model.encoder, condition(torch.tensor([[1.0, 1.0, 5.0, 0.0, 0.0]]), model.cfg))
    kinds = [line.split()[0] for line in param.splitlines()[2:]]
    blocks = len(model.encoder.body) + sum(len(b) for b in model.encoder.coarse)
    convs = 2 + 2 * blocks + len(model.encoder.down)  # head, tail, the blocks', the stride-2 ones
    assert kinds.count("Convolution") == convs and kinds.count("BinaryOp") == blocks + 1
    assert len(outputs) == model.cfg.levels
    conv_weights = sum(m.weight.numel() + m.bias.numel() for m in model.encoder.modules()
                       if isinstance(m, torch.nn.Conv2d) and m is not model.encoder.expand)
    assert len(weights) == 4 * (conv_weights + convs)  # float32, and a 4-byte tag per convolution


@pytest.mark.parametrize("slot,noise,scale", [("upscale", 0.0, 2), ("denoise", 25.0, 1)])
def test_render_tiled_with_ncnn_matches_torch(slot, noise, scale):
    """Tiles of several sizes (the image's edges cut them short) share one network."""
    model = load_model(BUNDLED[slot])
    lr = torch.rand(3, 150, 133, generator=torch.Generator().manual_seed(2))
    size, told = (150 * scale, 133 * scale), Degradation(sigma=noise)
    windows = {(t.window[1] - t.window[0], t.window[3] - t.window[2])
               for band in tile_bands(model.cfg, (150, 133), size, tile=64) for t in band}
    assert len(windows) >= 6
    ref = render_tiled(model, lr, size, degradation=told, tile=64)
    model.set_engine("ncnn")
    fast = render_tiled(model, lr, size, degradation=told, tile=64)
    assert len(model.ncnn_encoder._nets) == 1
    assert (fast - ref).abs().max() <= 1e-4


def test_networks_are_kept_per_condition_and_the_oldest_dropped():
    model = tiny_model(tunable=True)
    lr = torch.rand(1, 3, 19, 23, generator=torch.Generator().manual_seed(3))
    rows = [torch.tensor([[1.0, 1.0, sigma, 0.0, 0.0]]) for sigma in range(CACHED_NETS + 1)]
    with torch.no_grad():
        refs = [model.encode(lr, told).projected for told in rows]
        model.set_engine("ncnn")
        nets = model.ncnn_encoder._nets
        for told, ref in zip(rows + rows[:1], refs + refs[:1]):  # the first row again, after it was dropped
            got = model.encode(lr, told).projected
            assert max((a - b).abs().max().item() for a, b in zip(got, ref)) <= 1e-4
        assert len(nets) == CACHED_NETS
        kept = list(nets.values())
        model.encode(lr, rows[0])
        assert list(nets.values()) == kept  # reused, not rebuilt


def test_a_model_without_modulation_has_one_network_for_every_condition():
    model = tiny_model().set_engine("ncnn")
    with torch.no_grad():
        for scale in (2.0, 3.0):
            model.encode(torch.rand(1, 3, 16, 16), torch.tensor([[scale, scale]]))
    assert len(model.ncnn_encoder._nets) == 1


def test_threads_share_a_network():
    model = tiny_model(tunable=True)
    lr = torch.rand(1, 3, 33, 27, generator=torch.Generator().manual_seed(4))
    told = torch.tensor([[1.0, 1.0, 15.0, 0.0, 0.0]])
    with torch.no_grad():
        ref = model.encode(lr, told).projected
        model.set_engine("ncnn")

        def encode(_):
            with torch.no_grad():
                return model.encode(lr, told).projected
        with ThreadPoolExecutor(4) as pool:
            for got in pool.map(encode, range(8)):
                assert max((a - b).abs().max().item() for a, b in zip(got, ref)) <= 1e-4
    assert len(model.ncnn_encoder._nets) == 1


def test_set_engine_refuses_unknown_engines_and_says_how_to_get_ncnn(monkeypatch):
    model = tiny_model()
    with pytest.raises(ValueError, match="engine must be one of torch, ncnn"):
        model.set_engine("onnx")
    monkeypatch.setitem(sys.modules, "ncnn", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'frannet\[fast\]'"):
        model.set_engine("ncnn")
    with pytest.raises(ImportError, match="ncnn package"):
        Models(engine="ncnn")


def test_models_run_their_encoders_on_the_engine_asked_for(model_path):
    assert Models(upscale=model_path, engine="ncnn").get("upscale").ncnn_encoder is not None
    assert Models(upscale=model_path).get("upscale").ncnn_encoder is None


def test_the_cli_runs_the_encoder_on_ncnn_and_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    import numpy as np
    from PIL import Image

    from frannet.cli import main

    src = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(2).random((30, 26, 3)) * 255).astype(np.uint8)).save(src)
    outs = {}
    for engine in ("torch", "ncnn"):
        outs[engine] = tmp_path / f"{engine}.png"
        assert main(["restore", str(src), "-o", str(outs[engine]), "--scale", "2", "--precision", "float32",
                     "--engine", engine, "--quiet"]) == 0
    a, b = (np.asarray(Image.open(outs[e]), np.int16) for e in ("torch", "ncnn"))
    assert a.shape == (60, 52, 3) and np.abs(a - b).max() <= 1  # within 1e-4 before rounding to 8 bits
    monkeypatch.setitem(sys.modules, "ncnn", None)  # as if not installed
    assert main(["restore", str(src), "-o", str(tmp_path / "x.png"), "--scale", "2", "--engine", "ncnn"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--engine" in err and "pip install" in err and "\n" not in err


def test_training_and_gradients_use_torch():
    model = tiny_model().set_engine("ncnn")
    lr = torch.rand(1, 3, 16, 16, requires_grad=True)
    model.encode(lr, torch.tensor([[2.0, 2.0]])).projected[0].sum().backward()
    assert lr.grad is not None and model.ncnn_encoder._nets == {}
