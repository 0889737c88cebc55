"""Noise schedules: the signal level alpha_bar[t] for t = 0..T (alpha_bar[0] = 1, clean).

A schedule is a frozen dataclass holding its table; cosine, linear and sigmoid build one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Schedule:
    alpha_bar: torch.Tensor  # (T + 1,) float64, decreasing from 1

    def __post_init__(self):
        a = self.alpha_bar
        if a.dim() != 1 or len(a) < 2 or a[0] != 1 or not bool((a[1:] <= a[:-1]).all()) or a[-1] <= 0:
            raise ValueError("alpha_bar must start at 1 and decrease, staying > 0")

    @property
    def steps(self) -> int:
        return len(self.alpha_bar) - 1

    def beta(self, t: int) -> float:
        """1 - alpha_t, the noise added by step t (1 <= t <= T)."""
        return 1.0 - float(self.alpha_bar[t] / self.alpha_bar[t - 1])


def _from_betas(betas: torch.Tensor) -> Schedule:
    return Schedule(torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)]))


def linear(steps: int = 1000, start: float = 1e-4, end: float = 2e-2) -> Schedule:
    """Ho et al.'s betas, linear from ``start`` to ``end`` (scaled to keep the same total for other T)."""
    scale = 1000 / steps
    return _from_betas(torch.linspace(start * scale, end * scale, steps, dtype=torch.float64))


def cosine(steps: int = 1000, offset: float = 0.008, max_beta: float = 0.999) -> Schedule:
    """Nichol & Dhariwal: alpha_bar(t) = cos^2(pi/2 (t + s)/(1 + s)), betas capped at ``max_beta``."""
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + offset) / (1 + offset) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)
    return _from_betas(betas)


def sigmoid(steps: int = 1000, start: float = -3.0, end: float = 3.0, tau: float = 1.0) -> Schedule:
    """alpha_bar(t) from a sigmoid over [start, end] (Jabri et al.), renormalised to 1 at t = 0."""
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    v0, v1 = torch.sigmoid(torch.tensor(start / tau)), torch.sigmoid(torch.tensor(end / tau))
    f = (-torch.sigmoid((t * (end - start) + start) / tau) + v1) / (v1 - v0)
    betas = (1 - f[1:] / f[:-1]).clamp(min=0.0, max=0.999)
    return _from_betas(betas)


def build(name: str, steps: int = 1000) -> Schedule:
    match name:
        case "linear":
            return linear(steps)
        case "cosine":
            return cosine(steps)
        case "sigmoid":
            return sigmoid(steps)
    raise ValueError(f"unknown schedule {name!r}: use cosine, linear or sigmoid")
