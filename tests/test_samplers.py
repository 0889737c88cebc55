"""Samplers, schedules and interpolants against a stand-in analytic model.

Data are Gaussian, x0 ~ N(MU, S^2) per value, so the best eps prediction is known in closed
form: E[eps | x_t] = sqrt(1 - abar) (x_t - sqrt(abar) MU) / (abar S^2 + 1 - abar).
"""

import pytest
import torch

from frannet.sampling import (Constant, Diffusion, Direction, cosine, ddim, ddpm, grid_coords, keyed_normal, linear,
                              sigmoid, timesteps, torch_noise, walk)

MU, S = 0.3, 0.5


def exact_eps(interp: Diffusion):
    def model_fn(x, t):
        ab = interp.alpha_bar(t, x)
        eps = (1 - ab).sqrt() * (x - ab.sqrt() * MU) / (ab * S**2 + 1 - ab)
        if interp.target == "eps":
            return eps
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        return ab.sqrt() * eps - (1 - ab).sqrt() * x0  # v
    return model_fn


def start(n=6, seed=0):
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("make", [cosine, linear, sigmoid])
def test_schedules_decrease_from_one(make):
    s = make(100)
    assert s.steps == 100 and s.alpha_bar[0] == 1
    assert bool((s.alpha_bar[1:] < s.alpha_bar[:-1]).all()) and s.alpha_bar[-1] < 0.05
    assert 0 < s.beta(1) < 1


@pytest.mark.parametrize("interp", [Constant(), Direction(), Diffusion(cosine(50)), Diffusion(cosine(50), "v")])
def test_interpolants_invert_their_own_targets(interp):
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.rand(10, 3, generator=g), torch.randn(10, 3, generator=g)
    t = 0.37
    x_t, target = interp.train_pair(x0, t, x1)
    est0, est1 = interp.solve(x_t, t, target)
    torch.testing.assert_close(est0, x0)
    if not isinstance(interp, Constant):
        torch.testing.assert_close(est1, x1)


def test_timesteps():
    assert timesteps(10, 10) == list(range(10, -1, -1))
    assert timesteps(1000, 4) == [1000, 750, 500, 250, 0]
    q = timesteps(1000, 4, "quadratic")
    assert q == [1000, 562, 250, 62, 0]
    with pytest.raises(ValueError):
        timesteps(10, 11)


# First three output values of each sampler from start(seed=0), recorded once the identities
# below (DDIM = DDPM, textbook DDIM, recovery of the data distribution) held; they pin down
# every detail (step order, noise use, clipping, skipping) against silent change.
GOLDEN = {
    "ddpm": [1.0893, 0.82111, 0.21917],
    "ddim": [-0.64794, 0.14681, -0.21737],
    "ddim_eta": [-0.82322, -0.13309, 0.06309],
    "walk": [0.27823, 0.31467, 0.07764],
}


def _run(name):
    interp = Diffusion(cosine(100))
    noise = torch_noise(torch.Generator().manual_seed(7))
    x = start()
    if name == "ddpm":
        return ddpm(exact_eps(interp), x, interp, noise)
    if name == "ddim":
        return ddim(exact_eps(interp), x, interp, noise, steps=8)
    if name == "ddim_eta":
        return ddim(exact_eps(interp), x, interp, noise, steps=8, eta=0.5, skip="quadratic", clip=(-1, 1),
                    project_noise=True)
    target = torch.full_like(x, MU) + 0.1 * start(seed=3)
    return walk(lambda v, t, idx: target[idx] - v, x, steps=5)[0]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_numbers(name):
    out = _run(name)
    torch.testing.assert_close(out.flatten()[:3], torch.tensor(GOLDEN[name], dtype=out.dtype), atol=1e-4, rtol=0)


def test_ddim_with_eta_one_on_the_full_schedule_is_ddpm():
    interp = Diffusion(linear(60))
    keyed = lambda step, like: torch.randn(like.shape, generator=torch.Generator().manual_seed(step),  # noqa: E731
                                           dtype=like.dtype)
    a = ddpm(exact_eps(interp), start(), interp, keyed)
    b = ddim(exact_eps(interp), start(), interp, keyed, steps=60, eta=1.0)
    torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("target", ["eps", "v"])
def test_ddim_through_interpolants_is_the_textbook_update(target):
    interp = Diffusion(cosine(40), target)
    model = exact_eps(interp)
    x = start()
    ours = ddim(model, x.clone(), interp, torch_noise(), steps=5)
    ab = interp.schedule.alpha_bar
    ts = [40, 32, 24, 16, 8, 0]
    eps_model = exact_eps(Diffusion(cosine(40)))
    for t, tp in zip(ts[:-1], ts[1:]):  # Song et al., eq. 12 with sigma = 0
        eps = eps_model(x, t / 40)
        x0 = (x - (1 - ab[t]).sqrt() * eps) / ab[t].sqrt()
        x = ab[tp].sqrt() * x0 + (1 - ab[tp]).sqrt() * eps
    torch.testing.assert_close(ours, x, atol=1e-10, rtol=0)


def test_exact_model_recovers_the_data_distribution():
    interp = Diffusion(cosine(200))
    x = torch.randn(20000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = ddpm(exact_eps(interp), x, interp, torch_noise(torch.Generator().manual_seed(1)))
    assert abs(out.mean().item() - MU) < 0.02 and abs(out.std().item() - S) < 0.02
    det = ddim(exact_eps(interp), x, interp, torch_noise(), steps=200)
    assert abs(det.mean().item() - MU) < 0.02 and abs(det.std().item() - S) < 0.03


def test_walk_stops_points_that_arrived():
    x = torch.zeros(4, 3)
    goal = torch.tensor([[0.0] * 3, [1e-6] * 3, [1.0] * 3, [0.5] * 3])
    out, evals = walk(lambda v, t, idx: goal[idx] - v, x, steps=10, tol=1e-4)
    torch.testing.assert_close(out, goal, atol=1e-6, rtol=0)
    assert evals.tolist() == [1, 1, 10, 10]


def test_keyed_noise_depends_only_on_coordinates():
    coords = grid_coords(range(3, 9), range(100, 140))
    full = keyed_normal(5, 2, coords)
    perm = torch.randperm(len(coords), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(keyed_normal(5, 2, coords[perm]), full[perm], atol=0, rtol=0)
    assert not torch.equal(keyed_normal(6, 2, coords), full) and not torch.equal(keyed_normal(5, 3, coords), full)
    big = keyed_normal(0, 0, grid_coords(range(0, 200), range(0, 200)))
    assert abs(big.mean().item()) < 0.02 and abs(big.std().item() - 1) < 0.02
