"""Consistency inside every step of the iterative restorators (DDNM): exact agreement with the
input, independence of tiles and chunks, and the plain sampler when nothing is observed; with a
noisy input (DDNM+), agreement up to its noise."""

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
from frannet.restorators import Observation, Sampling, render_iterative
from frannet.sampling import Diffusion, cosine, ddim, ddim_step, range_weight, timesteps, torch_noise, walk

ITERATIVE = ["autoregressive", "diffusion"]
IN, OUT = (23, 31), (50, 61)
SAMPLING = Sampling(steps=4, eta=0.7, seed=3, samples=2)


def _lr(seed=0):
    return torch.rand(3, *IN, generator=torch.Generator().manual_seed(seed))


def _upscaling(sigma=0.0):
    return Observation(BicubicDown(OUT, IN), _lr(), sigma)


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
@pytest.mark.parametrize("sigma", [0.0, 0.05])
def test_consistent_sampling_does_not_depend_on_tiles_and_chunks(restorator, sigma):
    model = tiny_model(restorator=restorator)
    mean, std = render_iterative(model, _lr(), OUT, SAMPLING, observation=_upscaling(sigma))
    for tile, chunk in ((7, 37), (13, 1000), (512, 1)):
        m, s = render_iterative(model, _lr(), OUT, SAMPLING, tile=tile, chunk=chunk, observation=_upscaling(sigma))
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
               project=lambda x0, _: project(x0))
    walked, _ = walk(lambda x, t, idx: -0.5 * x, x1, steps=4, project=lambda x0, _: project(x0))
    for x in (out, walked):
        torch.testing.assert_close(x[:, 0], torch.full((50,), 0.25), atol=1e-6, rtol=0)
        assert x[:, 1:].std() > 0.01


def test_range_weight_takes_the_observation_whole_at_the_noisy_end_and_less_near_the_end():
    ab = cosine(1000).alpha_bar
    ratios = [((1 - ab[t]) / ab[t]).sqrt().item() for t in timesteps(1000, 20)[1:]]  # of each step's target
    walk_ratios = [t / (1 - t) for t in (1 - (k + 1) / 20 for k in range(20))]
    for r in (ratios, walk_ratios):
        assert all(range_weight(v, 0.0) == 1.0 for v in r)  # a clean observation: DDNM
        weights = [range_weight(v, 0.4) for v in r]
        assert weights[0] == 1.0 and weights[-1] == 0.0 and 0 < weights[-2] < 1
        assert weights == sorted(weights, reverse=True)
        assert all(abs(w * 0.4 - v) < 1e-12 for w, v in zip(weights, r) if w < 1)  # a lambda sigma_y = s


def test_ddim_with_a_clean_observation_is_the_plain_projected_update():
    interp, x1 = Diffusion(cosine(100)), torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    weights = []

    def project(x0, weight):
        weights.append(weight)
        return x0.clamp(-0.5, 0.5)

    def model_fn(x, t):
        return 0.3 * x

    noise = torch_noise(torch.Generator().manual_seed(1))
    x = ddim(model_fn, x1, interp, noise, steps=5, eta=0.5, project=project, sigma_y=0.0)
    assert weights == [1.0] * 5
    ref, noise, ab = x1, torch_noise(torch.Generator().manual_seed(1)), interp.schedule.alpha_bar
    for t, t_prev in zip(timesteps(100, 5)[:-1], timesteps(100, 5)[1:]):
        a_t, a_prev = ab[t].item(), ab[t_prev].item()
        x0, eps = interp.solve(ref, t / 100, model_fn(ref, t / 100))
        sigma = 0.5 * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)) ** 0.5
        ref = a_prev**0.5 * x0.clamp(-0.5, 0.5) + (1 - a_prev - sigma**2) ** 0.5 * eps + sigma * noise(t, ref)
    assert torch.equal(x, ref)


@pytest.mark.parametrize("t, t_prev", [(1000, 800), (300, 200), (60, 30), (30, 0)])
def test_ddim_shrinks_its_noise_by_what_the_observation_brings(t, t_prev):
    """With the true x0 and eps, and a projection that adds weight * sigma_y of fresh noise (the
    observation's), x_prev still has exactly the schedule's noise."""
    interp, sigma_y, n = Diffusion(cosine(1000)), 0.4, 200_000
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(n, 3, generator=gen, dtype=torch.float64)
    ab = interp.schedule.alpha_bar
    x = ab[t].sqrt() * x0 + (1 - ab[t]).sqrt() * torch.randn(n, 3, generator=gen, dtype=torch.float64)
    obs = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    x_prev, _ = ddim_step(lambda v, _: (v - ab[t].sqrt() * x0) / (1 - ab[t]).sqrt(), interp, x, t, t_prev,
                          torch_noise(gen), eta=0.6, project=lambda v, w: v + w * sigma_y * obs, sigma_y=sigma_y)
    noise = x_prev - ab[t_prev].sqrt() * x0
    assert abs(noise.var().item() - (1 - ab[t_prev]).item()) <= 0.01 * (1 - ab[t_prev]).item() + 1e-12


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_a_noisy_input_is_agreed_with_up_to_its_noise(restorator):
    sigma, op = 0.05, BicubicDown(OUT, IN)
    clean = bicubic_resize(torch.rand(3, 6, 8, generator=torch.Generator().manual_seed(0)), IN).clamp(0, 1)
    y = clean + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    sampling = Sampling(steps=10, eta=0.7, seed=3)
    out, _ = render_iterative(tiny_model(restorator=restorator), y, OUT, sampling,
                              observation=Observation(op, y, sigma))
    assert 1e-3 < (op(out) - y).std() <= sigma  # not forced onto the noise, nor far from it


def test_negative_noise_and_early_stops_are_refused():
    with pytest.raises(ValueError, match=">= 0"):
        Observation(BicubicDown(OUT, IN), _lr(), sigma=-0.1)
    with pytest.raises(ValueError, match="tol 0"):
        render_iterative(tiny_model(restorator="autoregressive"), _lr(), OUT, Sampling(tol=1e-3),
                         observation=_upscaling())


def test_cli_restores_with_consistency_at_every_step(capsys, tmp_path, photo):
    model = tmp_path / "diffusion.safetensors"
    save_model(model, tiny_model(restorator="diffusion"))
    out = tmp_path / "out.png"
    code = main([str(a) for a in ("restore", photo, "-o", out, "--scale", "2", "--model", model, "--restorator",
                                  "diffusion", "--consistency", "--steps", "3", "--eta", "0.5", "--tile", "64")])
    assert code == 0, capsys.readouterr().err
    lr = torch.from_numpy(np.asarray(Image.open(photo), dtype=np.float64) / 255).permute(2, 0, 1)
    sr = torch.from_numpy(np.asarray(Image.open(out), dtype=np.float64) / 255).permute(2, 0, 1)
    assert sr.shape[-2:] == (80, 74)
    # 8-bit output rounding (and clipping) is all that separates them
    assert (bicubic_resize(sr, tuple(lr.shape[-2:])) - lr).abs().mean() < 0.5 / 255
