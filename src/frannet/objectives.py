"""The training objective, the same for every restorator: regress the interpolant's target.

For each target point of an example, a time t ~ U(0, 1) and a source x1 ~ N(0, I) are drawn
from the example's objective stream (``Batch.objective_seeds``); the answer x0 is the target colour in
the space the model predicts (``FranNet.answer``), and the model's interpolant
(``restorators.interpolant``) makes the pair (x_t, target) from (x0, t, x1):

  * single step (Constant): no state to read (x_t is None), the target is the colour itself;
  * autoregressive (Direction) and diffusion (Diffusion): x_t on the path, and the direction
    back or the noise (eps / v), in the residual space.

The decoder reads (x_t, t) when there is a state, and the loss is the mean L1 or L2 error.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .data import Batch
from .models import FranNet
from .restorators import interpolant


def _model(net: nn.Module) -> FranNet:
    return getattr(net, "module", net)  # DistributedDataParallel keeps the model as .module


def training_pair(model: FranNet, batch: Batch) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """(x_t, t, target) for a batch: t (B, N) and the sources drawn from each example's stream
    (a pure function of the batch)."""
    cfg: ModelConfig = model.cfg
    x0 = model.answer(batch.lr, batch.points, batch.target)
    n = x0.shape[1]
    streams = [torch.Generator().manual_seed(seed) for seed in batch.objective_seeds]
    t = torch.stack([torch.rand(n, generator=g) for g in streams]).to(x0)
    x1 = torch.stack([torch.randn(n, 3, generator=g) for g in streams]).to(x0)
    x_t, target = interpolant(cfg).train_pair(x0, t[..., None], x1)
    return x_t, t, target


def loss(net: nn.Module, batch: Batch, *, norm: str = "l1") -> torch.Tensor:
    """The mean ``norm`` ("l1" or "l2") error of ``net`` (a FranNet, or one wrapped by
    DistributedDataParallel) on ``batch``: what training minimises, for every restorator."""
    if norm not in ("l1", "l2"):
        raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
    x_t, t, want = training_pair(_model(net), batch)
    error = net(batch.lr, batch.degradation, batch.points, x_t, t) - want
    return (error.abs() if norm == "l1" else error.square()).mean()
