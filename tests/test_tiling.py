import pytest
import torch
from tiny import tiny_model

from frannet import FranNet, ModelConfig
from frannet.restorators import render
from frannet.metrics import seam_ratio
from frannet.restorators import Sampling, render_iterative
from frannet.tiling import receptive_margin, render_tiled, tile_borders


@pytest.mark.parametrize("unshuffle", [1, 2])
@pytest.mark.parametrize("tile", [64, 128, 256])
def test_tiled_equals_untiled(tile, unshuffle):
    model = tiny_model(unshuffle=unshuffle)
    lr = torch.rand(3, 301, 173, generator=torch.Generator().manual_seed(0))
    size = (503, 367)  # odd sizes, different factors per axis
    full = render(model, lr, size)
    tiled = render_tiled(model, lr, size, tile=tile)
    assert (full - tiled).abs().max() <= 1e-5


@pytest.mark.parametrize("unshuffle", [1, 2])
@pytest.mark.parametrize("tile", [5, 13])
def test_tiled_equals_untiled_with_tiny_tiles(tile, unshuffle):
    model = tiny_model(3, unshuffle=unshuffle)
    lr = torch.rand(3, 23, 31, generator=torch.Generator().manual_seed(1))
    full = render(model, lr, (70, 47))
    assert (full - render_tiled(model, lr, (70, 47), tile=tile)).abs().max() <= 1e-5


def test_tiled_equals_untiled_for_the_default_architecture():
    torch.manual_seed(0)
    model = FranNet(ModelConfig()).eval()
    torch.nn.init.normal_(model.decoder.mlp[-1].weight, std=0.1)
    lr = torch.rand(3, 150, 97, generator=torch.Generator().manual_seed(2))
    full = render(model, lr, (300, 213))
    assert (full - render_tiled(model, lr, (300, 213), tile=64)).abs().max() <= 1e-5


@pytest.mark.parametrize("unshuffle", [1, 2])
def test_margin_covers_the_receptive_field(unshuffle):
    """Changing an input pixel further away than the margin leaves the features unchanged."""
    model = tiny_model(unshuffle=unshuffle)
    m = receptive_margin(model.cfg)
    lr = torch.rand(1, 3, 4 * m, 4 * m)
    probe = lr.clone()
    probe[..., 2 * m, 2 * m] += 1.0
    scale = torch.tensor([[2.0, 2.0]])
    a = model.encode(lr, scale, latent=torch.zeros(1, model.cfg.latent))
    b = model.encode(probe, scale, latent=torch.zeros(1, model.cfg.latent))
    for level, (pa, pb) in enumerate(zip(a.projected, b.projected)):
        changed = (pa - pb).abs().amax(dim=(0, 3)).nonzero()  # maps are (B, H, W, C)
        reach = ((changed << level) - 2 * m).abs().max().item()
        assert reach < m


def test_region_equals_the_crop_of_the_full_render():
    model = tiny_model()
    lr = torch.rand(3, 40, 33)
    full = render_tiled(model, lr, (97, 80), tile=16)
    region = render_tiled(model, lr, (97, 80), tile=16, region=(13, 7, 61, 90))
    assert torch.equal(region, full[:, 7:90, 13:61])
    with pytest.raises(ValueError, match="region"):
        render_tiled(model, lr, (97, 80), region=(0, 0, 81, 10))


def test_a_tile_that_runs_out_of_memory_is_redone_smaller():
    model = tiny_model()
    lr = torch.rand(3, 150, 130, generator=torch.Generator().manual_seed(3))
    expected = render(model, lr, (300, 260))
    encode, sizes = model.encode, []

    def tight_encode(x, *args, **kwargs):  # as if memory held encodings of at most 100x100 pixels
        sizes.append(x.shape[-2] * x.shape[-1])
        if x.shape[-2] * x.shape[-1] > 100 * 100:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")
        return encode(x, *args, **kwargs)

    model.encode = tight_encode
    done = []
    out = render_tiled(model, lr, (300, 260), tile=64, progress=done.append)
    assert (out - expected).abs().max() <= 1e-5
    assert max(sizes) > 100 * 100 and sum(done) == 300 * 260  # it tried the big tile, and counted each pixel once
    model.encode = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("some other failure"))
    with pytest.raises(RuntimeError, match="other failure"):
        render_tiled(model, lr, (300, 260), tile=64)


def _gradient(h, w):
    """A smooth colour gradient photo: ramps in three directions."""
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([0.2 + 0.6 * x, 0.2 + 0.6 * y, 0.5 + 0.3 * (x - y)])


def test_seam_ratio_sees_a_seam():
    img = _gradient(64, 64)
    assert seam_ratio(img, [32], [32]) == pytest.approx(1.0, abs=1e-3)
    stepped = img.clone()
    stepped[:, :, 32:] += 0.02  # a tile pasted a little brighter
    assert seam_ratio(stepped, [32], [32]) > 2


@pytest.mark.parametrize("restorator", ["autoregressive", "diffusion"])
def test_tiled_iterative_output_of_a_gradient_has_no_seam(restorator):
    model = tiny_model(restorator=restorator)
    lr, size = _gradient(40, 44), (160, 176)
    sampling = Sampling(steps=4, eta=0.5, seed=1)
    tiled, _ = render_iterative(model, lr, size, sampling, tile=8)
    rows, cols = tile_borders(model.cfg, (40, 44), size, 8)
    assert len(rows) >= 3 and len(cols) >= 3
    assert seam_ratio(tiled, rows, cols) < 1.15
    whole, _ = render_iterative(model, lr, size, sampling, tile=64)
    assert (tiled - whole).abs().max() <= 1e-5
