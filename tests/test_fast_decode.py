"""The fast grid decode (``FranNet.query_grid``, what ``render_tiled`` runs) holds to the reference
per-point decode (``query_pixels``) within 1e-4, and much closer in practice."""

import pytest
import torch
from tiny import tiny_model

from frannet import FranNet, ModelConfig
from frannet.checkpoint import load_model
from frannet.degradations import Degradation
from frannet.models.lookup import bicubic_grid_lookup, bicubic_lookup
from frannet.pipeline import BUNDLED
from frannet.restorators import render
from frannet.tiling import Tile, render_tiled


def _grid(ys, xs):
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=-1)[None]


def test_bicubic_grid_equals_per_point_bicubic():
    img = torch.rand(1, 9, 13, 3, generator=torch.Generator().manual_seed(0))
    ys = torch.linspace(-2.3, 10.4, 17, dtype=torch.float64)
    xs = torch.linspace(-1.7, 14.2, 23, dtype=torch.float64)
    ref = bicubic_lookup(img, _grid(ys, xs))[0]
    assert (bicubic_grid_lookup(img, ys, xs) - ref).abs().max() <= 1e-6


@pytest.mark.parametrize("one_table", [False, True])
@pytest.mark.parametrize("unshuffle", [1, 2])
@pytest.mark.parametrize("scale", [(1.0, 1.0), (2.0, 2.0), (3.7, 2.5), (4.0, 4.0), (8.0, 8.0)])
def test_query_grid_equals_query_pixels(scale, unshuffle, one_table):
    """Encoded for inference, the levels share one table (one lookup); with gradients on, each is
    a tensor of its own (a lookup each)."""
    model = tiny_model(unshuffle=unshuffle)
    lr = torch.rand(1, 3, 37, 29, generator=torch.Generator().manual_seed(1))
    with torch.set_grad_enabled(not one_table):
        enc = model.encode(lr, torch.tensor([[scale[0], scale[1]]]))
    shared = [m._base is not None and m._base.dim() == 2 for m in enc.projected]
    assert shared == [one_table and (level > 0 or unshuffle == 1) for level in range(len(shared))]
    out_h, out_w = round(37 * scale[1]), round(29 * scale[0])
    tile = Tile(range(0, out_h), range(0, out_w), (0, 37, 0, 29))
    ys, xs = tile.axes(range(3, out_h - 2), (37, 29), (out_h, out_w))
    pos, _ = tile.points(range(3, out_h - 2), (37, 29), (out_h, out_w))
    assert torch.equal(_grid(ys, xs), pos)  # the same float64 positions
    with torch.no_grad():
        ref = model.query_pixels(enc, pos)[0]
        fast = model.query_grid(enc, ys, xs)
    assert (fast - ref).abs().max() <= 1e-5


def test_query_grid_refuses_iterative_models():
    model = tiny_model(restorator="diffusion")
    enc = model.encode(torch.rand(1, 3, 8, 8), torch.tensor([[2.0, 2.0]]))
    with pytest.raises(ValueError, match="single-step"):
        model.query_grid(enc, torch.arange(4.0), torch.arange(4.0))


def _bundled_case(stage: str, noise: float, scale: int, height: int, width: int, seed: int):
    """(bundled model, random input, output size, what the model is told)."""
    lr = torch.rand(3, height, width, generator=torch.Generator().manual_seed(seed))
    return load_model(BUNDLED[stage]), lr, (height * scale, width * scale), Degradation(sigma=noise)


@pytest.mark.parametrize("stage,noise,scale", [("upscale", 0.0, 4), ("upscale", 0.0, 3), ("denoise", 25.0, 1)])
def test_bundled_models_fast_path_equals_reference(stage, noise, scale):
    """The bundled models through render_tiled (the fast path) against render (the reference)."""
    model, lr, size, told = _bundled_case(stage, noise, scale, 40, 52, seed=2)
    ref = render(model, lr, size, degradation=told)
    assert (render_tiled(model, lr, size, degradation=told) - ref).abs().max() <= 1e-4


def test_run_mlp_equals_the_mlp():
    torch.manual_seed(0)
    model = FranNet(ModelConfig()).eval()
    torch.nn.init.normal_(model.decoder.mlp[-1].weight, std=0.1)
    h = torch.randn(3000, model.cfg.hidden).relu_()
    with torch.no_grad():
        assert (model.decoder.run_mlp(h) - model.decoder.mlp(h)).abs().max() <= 1e-5


@pytest.mark.parametrize("stage,noise,scale", [("upscale", 0.0, 4), ("denoise", 25.0, 1)])
def test_bf16_option_stays_close_to_float32(stage, noise, scale):
    """The bfloat16 option (measured: PSNR within 0.003 dB) moves outputs a little, never far."""
    model, lr, size, told = _bundled_case(stage, noise, scale, 32, 40, seed=3)
    ref = render_tiled(model, lr, size, degradation=told)
    fast = render_tiled(load_model(BUNDLED[stage]).set_bf16(), lr, size, degradation=told)
    diff = (fast - ref).abs()
    assert 0 < diff.max() <= 0.05 and diff.mean() <= 2e-3


def test_precision_through_the_api_and_cli(tmp_path, monkeypatch):
    """float32 is the reference; bfloat16 moves 8-bit outputs by a level or so; auto is bfloat16
    exactly where the CPU computes it natively, for the models the pipeline loads itself."""
    import numpy as np
    from PIL import Image

    import frannet
    from frannet import pipeline
    from frannet.cli import main

    img = Image.fromarray((np.random.default_rng(0).random((24, 20, 3)) * 255).astype(np.uint8))
    runs = {bf16: np.asarray(frannet.upscale(img, scale=2, bf16=bf16), np.int16) for bf16 in (False, True)}
    assert runs[False].shape == (48, 40, 3) and 0 < np.abs(runs[True] - runs[False]).max() <= 3
    for native in (False, True):
        monkeypatch.setattr(pipeline, "native_bf16", lambda: native)
        assert np.array_equal(np.asarray(frannet.upscale(img, scale=2), np.int16), runs[native])
    model = load_model(BUNDLED["upscale"])  # a model passed in runs as it is, and is left as it was
    assert np.array_equal(np.asarray(frannet.upscale(img, scale=2, model=model), np.int16), runs[False])
    assert np.array_equal(np.asarray(frannet.upscale(img, scale=2, model=model, bf16=True), np.int16), runs[True])
    assert not model.bf16
    img.save(tmp_path / "in.png")
    for precision in ("float32", "bfloat16"):
        out = tmp_path / f"{precision}.png"
        assert main(["restore", str(tmp_path / "in.png"), "-o", str(out), "--scale", "2", "--precision", precision,
                     "--quiet"]) == 0
        assert np.array_equal(np.asarray(Image.open(out), np.int16), runs[precision == "bfloat16"])
