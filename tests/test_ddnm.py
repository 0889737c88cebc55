"""Consistency inside every step of the iterative restorators (DDNM): exact agreement with the
input, independence of tiles and chunks, and the plain sampler when nothing is observed."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image
from tiny import tiny_model

from frannet import save_model
from frannet.cli import main
from frannet.consistency import BicubicDown, Operator
from frannet.degradations import bicubic_resize
from frannet.restorators.consistent import Observation
from frannet.restorators.iterative import Sampling, render_iterative
from frannet.sampling import Diffusion, cosine, ddim, torch_noise, walk

ITERATIVE = ["autoregressive", "diffusion"]
IN, OUT = (23, 31), (50, 61)
SAMPLING = Sampling(steps=4, eta=0.7, seed=3, samples=2)


def _lr(seed=0):
    return torch.rand(3, *IN, generator=torch.Generator().manual_seed(seed))


def _upscaling():
    return Observation(BicubicDown(OUT, IN), _lr())


@dataclasses.dataclass(frozen=True)
class Nothing(Operator):
    """Observes nothing: the projection is the identity."""

    def __call__(self, x):
        return x[..., :0, :]

    def pinv(self, y):
        return y.new_zeros(*y.shape[:-2], *OUT)


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_every_sample_agrees_with_the_input(restorator):
    model, op = tiny_model(restorator=restorator), BicubicDown(OUT, IN)
    for sampling in (Sampling(steps=1), Sampling(steps=3, eta=1.0, seed=1), dataclasses.replace(SAMPLING, samples=1)):
        single, _ = render_iterative(model, _lr(), OUT, sampling, observation=_upscaling())
        assert (op(single) - _lr()).abs().max() <= 1e-5
    mean, std = render_iterative(model, _lr(), OUT, SAMPLING, observation=_upscaling())
    assert (op(mean) - _lr()).abs().max() <= 1e-5 and std.mean() > 0
    plain, _ = render_iterative(model, _lr(), OUT, SAMPLING)
    assert (op(plain) - _lr()).abs().max() > 1e-2  # the tiny random model alone does not agree


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_consistent_sampling_does_not_depend_on_tiles_and_chunks(restorator):
    model = tiny_model(restorator=restorator)
    mean, std = render_iterative(model, _lr(), OUT, SAMPLING, observation=_upscaling())
    for tile, chunk in ((7, 37), (13, 1000), (512, 1)):
        m, s = render_iterative(model, _lr(), OUT, SAMPLING, tile=tile, chunk=chunk, observation=_upscaling())
        assert (m - mean).abs().max() <= 1e-5 and (s - std).abs().max() <= 1e-5


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_with_nothing_observed_it_is_the_plain_sampler(restorator):
    """The whole-output loop (steps outside, chunks inside) samples what the chunked one does."""
    model = tiny_model(restorator=restorator)
    nothing = Observation(Nothing(), torch.zeros(3, 0, OUT[1]))
    a, sa = render_iterative(model, _lr(), OUT, SAMPLING, tile=13, chunk=100, observation=nothing)
    b, sb = render_iterative(model, _lr(), OUT, SAMPLING)
    assert (a - b).abs().max() <= 1e-5 and (sa - sb).abs().max() <= 1e-5


def test_samplers_end_on_a_projected_estimate():
    """``project`` replaces every x0 estimate: here it fixes channel 0 at 0.25."""
    def project(x0):
        return torch.cat([torch.full_like(x0[:, :1], 0.25), x0[:, 1:]], dim=1)

    x1 = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    interp = Diffusion(cosine(100), "v")
    out = ddim(lambda x, t: 0.3 * x, x1, interp, torch_noise(torch.Generator().manual_seed(1)), steps=5, eta=0.5,
               project=project)
    walked, _ = walk(lambda x, t, idx: -0.5 * x, x1, steps=4, project=project)
    for x in (out, walked):
        torch.testing.assert_close(x[:, 0], torch.full((50,), 0.25), atol=1e-6, rtol=0)
        assert x[:, 1:].std() > 0.01


def test_noisy_observations_and_early_stops_are_refused():
    with pytest.raises(ValueError, match="noisy observation"):
        Observation(BicubicDown(OUT, IN), _lr(), sigma=0.1)
    with pytest.raises(ValueError, match="tol 0"):
        render_iterative(tiny_model(restorator="autoregressive"), _lr(), OUT, Sampling(tol=1e-3),
                         observation=_upscaling())


def test_cli_restores_with_consistency_at_every_step(capsys, tmp_path, photo):
    model = tmp_path / "diffusion.safetensors"
    save_model(model, tiny_model(restorator="diffusion"))
    out = tmp_path / "out.png"
    code = main([str(a) for a in ("restore", photo, "-o", out, "--scale", "2", "--model", model, "--restorator",
                                  "diffusion", "--consistency", "--steps", "3", "--eta", "0.5", "--tile", "16")])
    assert code == 0, capsys.readouterr().err
    lr = torch.from_numpy(np.asarray(Image.open(photo), dtype=np.float64) / 255).permute(2, 0, 1)
    sr = torch.from_numpy(np.asarray(Image.open(out), dtype=np.float64) / 255).permute(2, 0, 1)
    assert sr.shape[-2:] == (80, 74)
    # 8-bit output rounding (and clipping) is all that separates them
    assert (bicubic_resize(sr, tuple(lr.shape[-2:])) - lr).abs().mean() < 0.5 / 255
