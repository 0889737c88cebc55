"""The training objective, the same for every restorator: regress the interpolant's target.

For each target point of an example, a time t ~ U(0, 1) and a source x1 ~ N(0, I) are drawn
from the example's objective stream (``Batch.objective_seeds``); the answer x0 is the target colour in
the space the model predicts (``FranNet.answer``), and the model's interpolant
(``restorators.interpolant``) makes the pair (x_t, target) from (x0, t, x1):

  * single step (Constant): no state to read (x_t is None), the target is the colour itself;
  * autoregressive (Direction) and diffusion (Diffusion): x_t on the path, and the direction
    back or the noise (eps / v), in the residual space.

The decoder reads (x_t, t) when there is a state, and the loss is the mean L1 or L2 error, or
("log_l2") the mean over examples of the log of each one's mean squared error: a mean PSNR over
photos averages -10 log10(MSE), so a crop with little to get wrong (a nearly gray one, for a
colour model) weighs as much as a vivid one, not a hundred times less.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import NORMS, ModelConfig
from .data import Batch
from .models import FranNet
from .restorators import interpolant

LOG_FLOOR = 1e-5  # log_l2: MSE (colours in [0, 1]) below this (50 dB) earns nothing more


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
    """The ``norm`` ("l1", "l2" or "log_l2", see the module's docstring) error of ``net`` (a
    FranNet, or one wrapped by DistributedDataParallel) on ``batch``: what training minimises,
    for every restorator."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    x_t, t, want = training_pair(_model(net), batch)
    error = net(batch.lr, batch.degradation, batch.points, x_t, t) - want
    if norm == "log_l2":
        return (error.float().square().mean(dim=(1, 2)) + LOG_FLOOR).log().mean()
    return (error.abs() if norm == "l1" else error.square()).mean()
