import pytest
import torch
import torch.nn.functional as F

from frannet import FranNet
from frannet.config import ConfigError, ModelConfig
from frannet.coords import pixel_centers
from frannet.models.decoder import fourier_features
from frannet.restorators import render

from tiny import TINY, tiny_model


@pytest.mark.parametrize("h,w", [(1, 1), (5, 3), (13, 7), (17, 32)])
def test_encode_query_shapes_at_odd_sizes(model, h, w):
    lr = torch.rand(2, 3, h, w)
    enc = model.encode(lr, torch.tensor([[2.0, 3.0], [1.5, 1.5]]))
    assert [m.shape[1:3] for m in enc.projected][0] == (h, w)
    assert enc.bias.shape == (2, TINY.hidden)
    out = model.query(enc, torch.rand(2, 11, 2))
    assert out.shape == (2, 11, 3)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("size", [(10, 10), (21, 33), (7, 5), (64, 13), (5, 5)])
def test_render_gives_exactly_the_requested_size(model, size):
    out = render(model, torch.rand(3, 5, 5), size)
    assert out.shape == (3, *size)


def test_render_is_deterministic_and_chunk_independent(model):
    lr = torch.rand(3, 9, 11)
    a = render(model, lr, (25, 31))
    b = render(model, lr, (25, 31), chunk=40)  # a row at a time, and a partial last chunk
    assert torch.equal(a, render(model, lr, (25, 31)))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_untrained_model_is_bicubic():
    """The residual head starts at zero, so a fresh model returns the bicubic base."""
    model = tiny_model(randomize_head=False)
    lr = torch.rand(1, 3, 6, 8)
    pts = pixel_centers(12, 16)[None]
    base = F.grid_sample(lr, (pts * 2 - 1).unsqueeze(1), mode="bicubic", padding_mode="border", align_corners=False)
    torch.testing.assert_close(model(lr, torch.tensor([[2.0, 2.0]]), pts), base.squeeze(2).transpose(1, 2),
                               atol=2e-6, rtol=0)


def test_output_is_continuous_across_input_pixel_borders(model):
    """Bilinear features + periodic coordinate features: no jump at an input pixel border."""
    lr = torch.rand(1, 3, 8, 8)
    enc = model.encode(lr, torch.tensor([[4.0, 4.0]]))
    border = 3 / 8  # x of the border between input pixels 2 and 3
    eps = 1e-5
    pts = torch.tensor([[[border - eps, 0.4], [border + eps, 0.4]]])
    out = model.query(enc, pts)[0]
    assert (out[0] - out[1]).abs().max() < 1e-3


def test_fourier_features_are_periodic_on_the_input_grid():
    pos = torch.tensor([[[1.3, 2.6]]], dtype=torch.float64)
    shifted = pos + torch.tensor([1.0, 4000.0], dtype=torch.float64)  # whole input pixels
    torch.testing.assert_close(fourier_features(pos, 3), fourier_features(shifted, 3), atol=1e-9, rtol=0)


def test_scale_condition_changes_the_output(model):
    lr = torch.rand(1, 3, 6, 6)
    pts = torch.rand(1, 20, 2)
    a = model(lr, torch.tensor([[2.0, 2.0]]), pts)
    b = model(lr, torch.tensor([[3.0, 2.0]]), pts)
    assert not torch.allclose(a, b)


def test_global_latent_sees_a_bounded_view():
    from frannet.models.encoder import GLOBAL_VIEW, GlobalEncoder

    assert GlobalEncoder.view(torch.rand(1, 3, 300, 90)).shape[-2:] == (GLOBAL_VIEW, round(90 / (300 / GLOBAL_VIEW)))
    small = torch.rand(1, 3, 20, 30)
    assert GlobalEncoder.view(small) is small


def test_model_config_validation():
    with pytest.raises(ConfigError, match="unknown key"):
        ModelConfig.from_dict({"chanels": 8})
    with pytest.raises(ConfigError):
        ModelConfig.from_dict({"channels": 0})
    assert FranNet(ModelConfig.from_dict({"channels": 8, "blocks": 1})).cfg.channels == 8


def test_model_without_global_latent_decodes_from_local_features_only():
    """latent = 0: no global encoder; a far-away change of the input leaves a pixel unchanged."""
    import dataclasses

    from frannet.tiling import receptive_margin

    torch.manual_seed(0)
    model = FranNet(dataclasses.replace(TINY, latent=0)).eval()
    torch.nn.init.normal_(model.decoder.mlp[-1].weight, std=0.1)
    assert model.global_encoder is None
    lr = torch.rand(3, 40, 40)
    far = lr.clone()
    far[:, -1, -1] += 1.0
    a, b = render(model, lr, (80, 80)), render(model, far, (80, 80))
    near = 2 * (40 - receptive_margin(model.cfg)) - 2
    assert torch.equal(a[:, :near, :near], b[:, :near, :near])
    assert not torch.equal(a, b)
    with pytest.raises(ConfigError, match="latent"):
        ModelConfig.from_dict({"latent": -1})


@pytest.mark.parametrize("unshuffle", [1, 2])
def test_inference_memory_layout_keeps_the_maps(unshuffle):
    # Inference runs the encoder channels-last (faster on the CPU); training does not
    model = tiny_model(tunable=True, unshuffle=unshuffle)
    x, cond = torch.rand(2, 3, 21, 18), torch.rand(2, 6)
    inference = model.encoder(x, cond)
    assert inference[-1].is_contiguous(memory_format=torch.channels_last)
    degradation = torch.tensor([[1.0, 1.0, 25.0, 0.0], [2.0, 2.0, 10.0, 1.0]])
    projected = model.encode(x, degradation).projected
    training = model.train().encoder(x, cond)
    assert not training[-1].is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(inference, training):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for a, b in zip(projected, model.encode(x, degradation).projected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("train", [False, True])
def test_fused_full_resolution_level_equals_projecting_the_shuffled_map(train):
    # An unshuffled trunk's full-resolution level is projected without building the shuffled map
    model = tiny_model(unshuffle=2).train(train)
    for conv in (model.encoder.expand, model.decoder.project[0]):
        torch.nn.init.normal_(conv.bias)  # the fused bias must carry both
    x, size = torch.rand(2, 3, 21, 18), (21, 18)
    trunk = model.encoder(x, torch.rand(2, 4))[0]
    unfused = model.decoder.project[0](F.pixel_shuffle(model.encoder.expand(trunk), 2)[..., :21, :18])
    fused = model.encoder.project_full(trunk, model.decoder.project[0], size)
    assert fused.shape == (2, 21, 18, TINY.hidden) and fused.is_contiguous()
    torch.testing.assert_close(fused, unfused.permute(0, 2, 3, 1), rtol=1e-5, atol=1e-5)
    if train:  # gradients reach both convolutions' weights
        fused.square().sum().backward()
        assert model.encoder.expand.weight.grad.abs().sum() > 0
        assert model.decoder.project[0].weight.grad.abs().sum() > 0
