"""Interpolants x_t = a(t) x0 + b(t) x1 between the answer x0 and a source x1.

Each gives the training pair (x_t and what the model should predict) and inverts a
prediction back into (x0, x1) estimates. They unify FranNet's three restorators' training
(``objectives``):
  * Constant: no path, predict x0 outright (single step: the decoder reads no x_t, so it is None);
  * Direction: x_t = (1 - t) x0 + t x1, predict x0 - x_t (autoregressive walk);
  * Diffusion: x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, predict eps or v.
Times are continuous in [0, 1]; diffusion maps them to a schedule's table.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .schedules import Schedule


@dataclass(frozen=True)
class Constant:
    """A single-step model's: there is no state to read (x_t is None) and the target is x0 itself."""

    def train_pair(self, x0, t, x1):
        return None, x0

    def solve(self, x_t, t, pred):
        return pred, None


@dataclass(frozen=True)
class Direction:
    """Linear path from x0 (t = 0) to x1 (t = 1); the model predicts the way back, x0 - x_t."""

    def mix(self, x0, t, x1):
        return (1 - t) * x0 + t * x1

    def train_pair(self, x0, t, x1):
        x_t = self.mix(x0, t, x1)
        return x_t, x0 - x_t

    def solve(self, x_t, t, pred):
        x0 = x_t + pred
        safe_t = torch.as_tensor(t, dtype=x_t.dtype).clamp(min=1e-8)
        return x0, x0 + (x_t - x0) / safe_t


@dataclass(frozen=True)
class Diffusion:
    """Variance-preserving diffusion on a schedule, in the eps or v parameterisation."""

    schedule: Schedule
    target: str = "eps"

    def __post_init__(self):
        if self.target not in ("eps", "v"):
            raise ValueError(f"diffusion target must be 'eps' or 'v', got {self.target!r}")

    def alpha_bar(self, t, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar at continuous t in [0, 1] (linear between table entries)."""
        table = self.schedule.alpha_bar.to(like.device)
        pos = torch.as_tensor(t, dtype=torch.float64, device=like.device) * self.schedule.steps
        lo = pos.floor().long().clamp(0, self.schedule.steps - 1)
        frac = pos - lo
        return (table[lo] * (1 - frac) + table[lo + 1] * frac).to(like.dtype)

    def train_pair(self, x0, t, x1):
        ab = self.alpha_bar(t, x0)
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * x1
        return x_t, (x1 if self.target == "eps" else ab.sqrt() * x1 - (1 - ab).sqrt() * x0)

    def solve(self, x_t, t, pred):
        ab = self.alpha_bar(t, x_t)
        if self.target == "eps":
            return (x_t - (1 - ab).sqrt() * pred) / ab.sqrt(), pred
        return ab.sqrt() * x_t - (1 - ab).sqrt() * pred, (1 - ab).sqrt() * x_t + ab.sqrt() * pred
