"""Samplers: pure functions of a model callable, a start value, a schedule and a noise source.

``model_fn(x, t)`` returns the interpolant's prediction for values x at time t in [0, 1].
``noise(step, like)`` returns standard normal values shaped like ``like`` for the given step
(``torch_noise(generator)`` wraps a torch.Generator; restorators pass coordinate-keyed noise).
``project(x0, weight)``, if given,
replaces each step's clean estimate before the step is taken: DDNM's range-null-space projection
onto an observation, x0 + weight A+(y - A x0) (diffusion keeps the predicted noise). With a
noisy observation, ``sigma_y`` (its noise std in x0's units) makes the weight DDNM+'s
``range_weight`` of each step and, for ddim, shrinks the step's noise to make room for the
observation's; with sigma_y = 0 every weight is 1 and the last x0 is a projected one. Nothing
here owns state.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .interpolants import Diffusion, Direction

Noise = Callable[[int, torch.Tensor], torch.Tensor]


def torch_noise(generator: torch.Generator | None = None) -> Noise:
    return lambda step, like: torch.randn(like.shape, generator=generator, dtype=like.dtype)


def timesteps(total: int, steps: int, skip: str = "uniform") -> list[int]:
    """Decreasing integer times from ``total`` to 0 visiting ``steps`` transitions."""
    if not 1 <= steps <= total:
        raise ValueError(f"steps must be in [1, {total}], got {steps}")
    frac = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    match skip:
        case "uniform":
            ts = frac * total
        case "quadratic":  # denser near t = 0, where detail is decided
            ts = frac**2 * total
        case _:
            raise ValueError(f"unknown step skipping {skip!r}: use uniform or quadratic")
    out = sorted({int(round(v)) for v in ts.tolist()}, reverse=True)
    return out if out[-1] == 0 else out + [0]


def range_weight(ratio: float, sigma_y: float) -> float:
    """DDNM+'s lambda_t: the share of the correction A+(y - A x0) to apply before stepping to
    x_next = a x0 + s noise, ratio = s / a, with an observation whose noise std is sigma_y (both
    in x0's units). The correction carries lambda sigma_y of the observation's noise into x0, so
    a lambda sigma_y into x_next, which must fit in the noise x_next is meant to have, s:

        lambda = 1 if s >= a sigma_y else s / (a sigma_y)

    so at the noisy end the observation is taken whole and near t = 0 less and less of it
    (none at the last step: the model's estimate is trusted over the noise)."""
    return 1.0 if ratio >= sigma_y else ratio / sigma_y


def _weighted(project, weight: float):
    return None if project is None else lambda x0: project(x0, weight)


def _estimates(model_fn, interp: Diffusion, x, t: int, clip, project_noise, project=None):
    total = interp.schedule.steps
    x0, eps = interp.solve(x, t / total, model_fn(x, t / total))
    if clip is not None:
        x0 = x0.clamp(*clip)
    if project is not None:
        x0 = project(x0)
    if project_noise:  # the noise that, with this (clipped, projected) x0, gives back x exactly
        ab = interp.schedule.alpha_bar[t]
        eps = (x - ab.sqrt().item() * x0) / (1 - ab).sqrt().item()
    return x0, eps


def ddpm(model_fn, x: torch.Tensor, interp: Diffusion, noise: Noise, *, clip=None, project_noise: bool = False,
         project=None) -> torch.Tensor:
    """Ancestral sampling through every step of the schedule (Ho et al.); ``project`` is always
    weighted 1 (no DDNM+)."""
    ab = interp.schedule.alpha_bar
    for t in range(interp.schedule.steps, 0, -1):
        x0, _ = _estimates(model_fn, interp, x, t, clip, project_noise, _weighted(project, 1.0))
        a_t, a_prev = ab[t].item(), ab[t - 1].item()
        beta = 1 - a_t / a_prev
        mean = (a_prev**0.5 * beta / (1 - a_t)) * x0 + ((1 - beta) ** 0.5 * (1 - a_prev) / (1 - a_t)) * x
        var = beta * (1 - a_prev) / (1 - a_t)
        x = mean + var**0.5 * noise(t, x)
    return x


def ddim_step(model_fn, interp: Diffusion, x: torch.Tensor, t: int, t_prev: int, noise: Noise, *, eta: float = 0.0,
              clip=None, project_noise: bool = False, project=None,
              sigma_y: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One DDIM transition from integer time t to t_prev: (the new x, this step's clean estimate x0).

    x_prev = sqrt(ab_prev) x0 + keep (c eps + sigma z), c^2 + sigma^2 = 1 - ab_prev. With DDNM+
    the projected x0 brings lambda sigma_y of the observation's noise, so the step's own noise is
    shrunk to keep x_prev's total at the schedule's: keep^2 (1 - ab_prev) + ab_prev (lambda
    sigma_y)^2 = 1 - ab_prev (keep = 0 once lambda < 1; DDNM+'s simplified form shrinks it
    everywhere, not only in A's range)."""
    ab = interp.schedule.alpha_bar
    a_t, a_prev = ab[t].item(), ab[t_prev].item()
    weight = range_weight(((1 - a_prev) / a_prev) ** 0.5, sigma_y)
    x0, eps = _estimates(model_fn, interp, x, t, clip, project_noise, _weighted(project, weight))
    carried = a_prev * (weight * sigma_y) ** 2  # the observation's noise variance in x_prev
    keep = (max(0.0, 1 - a_prev - carried) / (1 - a_prev)) ** 0.5 if carried else 1.0
    sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)) ** 0.5
    c = max(0.0, 1 - a_prev - sigma**2) ** 0.5
    return a_prev**0.5 * x0 + (keep * c) * eps + (keep * sigma) * noise(t, x), x0


def ddim(model_fn, x: torch.Tensor, interp: Diffusion, noise: Noise, *, steps: int, eta: float = 0.0,
         skip: str = "uniform", clip=None, project_noise: bool = False, project=None,
         sigma_y: float = 0.0) -> torch.Tensor:
    """DDIM (Song et al.) over ``steps`` transitions; eta = 1 on the full schedule is DDPM."""
    ts = timesteps(interp.schedule.steps, steps, skip)
    for t, t_prev in zip(ts[:-1], ts[1:]):
        x, _ = ddim_step(model_fn, interp, x, t, t_prev, noise, eta=eta, clip=clip, project_noise=project_noise,
                         project=project, sigma_y=sigma_y)
    return x


def walk_step(model_fn, x: torch.Tensor, k: int, steps: int, *, interp: Direction = Direction(),
              project=None, sigma_y: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Step k of ``steps`` of the walk at values x: (the move to add to x, the clean estimate x0).
    The walk injects no noise, so DDNM+ only weights the projection: x_next = (1 - t_next) x0 +
    t_next x1 has s / a = t_next / (1 - t_next)."""
    t, t_next = 1 - k / steps, 1 - (k + 1) / steps
    d = model_fn(x, t)
    if project is not None:  # the way to the projected estimate x0 = x + d
        d = project(x + d, range_weight(t_next / (1 - t_next), sigma_y)) - x
    return (1 - t_next / t) * d, interp.solve(x, t, d)[0]


def walk(model_fn, x: torch.Tensor, steps: int, *, tol: float = 0.0, interp: Direction = Direction(), project=None,
         sigma_y: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Autoregressive walk from a source toward x0 along the Direction interpolant.

    At t_k = 1 - k/steps the model predicts d = x0 - x; stepping to t_{k+1} moves x by
    (1 - t_{k+1}/t_k) d, a growing share of a shrinking remainder. ``model_fn(x, t, idx)`` sees
    only the points still moving (rows ``idx`` of x): a point whose step is below ``tol`` stops
    (``project`` sees the estimates of those points only).
    Returns the result and the number of model evaluations each point used.
    """
    x = x.clone()
    active = torch.arange(x.shape[0], device=x.device)
    evals = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
    for k in range(steps):
        move, _ = walk_step(lambda v, t: model_fn(v, t, active), x[active], k, steps, interp=interp, project=project,
                            sigma_y=sigma_y)
        x[active] += move
        evals[active] += 1
        if tol > 0:
            active = active[move.abs().amax(dim=-1) >= tol]
            if active.numel() == 0:
                break
    return x, evals
