"""The bundled denoising model's dial: more sigma, more smoothing, with no jumps."""

import numpy as np
import torch

from frannet.checkpoint import load_model
from frannet.dead_leaves import dead_leaves
from frannet.degradations import Degradation, add_noise
from frannet.pipeline import BUNDLED
from frannet.restorators import render


def test_turning_the_dial_up_removes_more_and_changes_smoothly():
    model = load_model(BUNDLED["denoise"])
    clean = torch.from_numpy(dead_leaves(48, np.random.default_rng(0), r_min=3, max_discs=300).copy())
    clean = clean.permute(2, 0, 1).float() / 255
    noisy = add_noise(clean, 25, torch.Generator().manual_seed(0))
    levels = list(range(0, 80, 10))
    outs = [render(model, noisy, (48, 48), degradation=Degradation(sigma=float(s))) for s in levels]
    removed = [float((out - noisy).abs().mean()) * 255 for out in outs]
    assert all(b > a for a, b in zip(removed, removed[1:])), removed
    steps = [float((b - a).abs().mean()) * 255 for a, b in zip(outs, outs[1:])]
    assert max(steps) < 4 * (sum(steps) / len(steps)), steps  # no single notch jumps
    error = [float((out - clean).pow(2).mean()) for out in outs]
    assert error[levels.index(20)] < error[0] / 3  # near the true level it really denoises
