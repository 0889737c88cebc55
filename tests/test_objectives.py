"""The training losses (objectives.loss): log_l2 is the mean over examples of log(MSE + floor)."""

import pytest
import torch
from frannet.data import training_batch
from frannet.objectives import LOG_FLOOR, loss
from tiny import tiny_model
from test_training_golden import _cfg, _images


def _batch():
    return training_batch(_images(), _cfg("color"), 5, 9, range(3))


def test_log_l2_is_the_mean_log_of_each_examples_squared_error():
    model = tiny_model(tunable=True).train()
    batch = _batch()
    torch.manual_seed(0)
    got = loss(model, batch, norm="log_l2")
    error = model(batch.lr, batch.degradation, batch.points) - batch.target
    per_example = error.square().mean(dim=(1, 2))
    assert per_example.shape == (3,) and per_example.min() < per_example.max()
    assert got.item() == pytest.approx((per_example + LOG_FLOOR).log().mean().item(), rel=1e-5)
    # l2 is the same errors' plain mean: log_l2 weighs each example by 1 / its own error instead
    assert loss(model, batch, norm="l2").item() == pytest.approx(per_example.mean().item(), rel=1e-5)


def test_an_unknown_norm_is_refused():
    with pytest.raises(ValueError, match="log_l2"):
        loss(tiny_model(), _batch(), norm="l3")
