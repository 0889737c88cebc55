"""Range-null-space identities for every operator, on random shapes."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from frannet.consistency import BicubicDown, BlockCS, Gray, Mask
from frannet.degradations import LUMA, resize_matrix

SETTINGS = settings(max_examples=15, deadline=None)


@st.composite
def case(draw):
    """(operator, image) with a shape that suits the operator."""
    kind = draw(st.sampled_from(["gray", "luma", "mask", "cs", "bicubic"]))
    seed = draw(st.integers(0, 1000))
    g = torch.Generator().manual_seed(seed)
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    if kind == "cs":
        b = draw(st.sampled_from([2, 4, 8]))
        h, w = draw(st.integers(1, 3)) * b, draw(st.integers(1, 3)) * b
        op = BlockCS(draw(st.floats(0.05, 1.0)), block=b, seed=seed)
    elif kind == "bicubic":
        s = draw(st.floats(1.0, 4.0))
        h, w = draw(st.integers(4, 40)), draw(st.integers(4, 40))
        lr = (max(1, round(h / s)), max(1, round(w / s)))
        op = BicubicDown((h, w), lr)
    else:
        op = {"gray": Gray(), "luma": Gray(LUMA), "mask": Mask((torch.rand(h, w, generator=g) < 0.5).float())}[kind]
    batch = draw(st.integers(1, 2))
    return op, torch.rand(batch, 3, h, w, generator=g, dtype=torch.float64)


@SETTINGS
@given(case())
def test_a_pinv_a_is_a(c):
    op, x = c
    torch.testing.assert_close(op(op.pinv(op(x))), op(x), atol=1e-9, rtol=0)


@SETTINGS
@given(case())
def test_pinv_a_pinv_is_pinv(c):
    op, x = c
    y = op(torch.rand_like(x))
    torch.testing.assert_close(op.pinv(op(op.pinv(y))), op.pinv(y), atol=1e-9, rtol=0)


@SETTINGS
@given(case())
def test_projecting_twice_is_projecting_once(c):
    op, x = c
    y = op(torch.rand_like(x))
    once = op.project(x, y)
    torch.testing.assert_close(op.project(once, y), once, atol=1e-9, rtol=0)


@SETTINGS
@given(case())
def test_projection_agrees_with_the_observation_in_float32(c):
    op, x = c
    x = x.float()
    y = op(torch.rand_like(x))
    assert (op(op.project(x, y)) - y).abs().max() <= 1e-5


@SETTINGS
@given(st.integers(4, 40), st.integers(4, 40), st.floats(1.0, 4.0))
def test_bicubic_adjoint_is_the_transpose(h, w, s):
    """<A x, y> = <x, A^T y>: the transpose that the bicubic A+ spreads its small solve with."""
    op = BicubicDown((h, w), (max(1, round(h / s)), max(1, round(w / s))))
    x = torch.rand(2, 3, h, w, dtype=torch.float64)
    y = op(torch.rand_like(x))
    torch.testing.assert_close((op(x) * y).sum(), (x * op.adjoint(y)).sum(), atol=1e-9, rtol=1e-9)


@SETTINGS
@given(st.integers(1, 300), st.integers(1, 300))
def test_bicubic_operator_is_pillow_resize(n, m):
    """The sparse band equals the dense Pillow-exact resize matrix, in both directions."""
    n, m = max(n, m), min(n, m)
    x = torch.rand(2, n, 3, dtype=torch.float64)
    op = BicubicDown((n, 3), (m, 3))
    torch.testing.assert_close(op(x), resize_matrix(n, m) @ x @ resize_matrix(3, 3).T, atol=1e-12, rtol=0)


def test_projection_keeps_the_null_space_part():
    """Only the range changes: x_hat - x lies in the range of A+ (A+ A leaves it as it is)."""
    op = BicubicDown((8, 8), (4, 4))
    x, y = torch.rand(1, 3, 8, 8, dtype=torch.float64), torch.rand(1, 3, 4, 4, dtype=torch.float64)
    delta = op.project(x, y) - x
    torch.testing.assert_close(delta, op.pinv(op(delta)), atol=1e-9, rtol=0)


def test_project_valid_stays_in_range_and_nearly_consistent():
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(3, 24, 30, generator=g)
    op = BicubicDown((24, 30), (8, 10))
    y = op(truth)
    guess = (truth + 0.3 * torch.randn(3, 24, 30, generator=g)).clamp(0, 1)
    clipped_once = op.project(guess, y).clamp(0, 1)
    out = op.project_valid(guess, y)
    assert out.min() >= 0 and out.max() <= 1
    assert (op(out) - y).abs().max() < 0.25 * (op(clipped_once) - y).abs().max()


def test_gray_projection_is_exact_and_in_range_in_one_step():
    luma = Gray(LUMA)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 24, generator=g) * 1.6 - 0.3  # far out of range
    y = luma(torch.rand(2, 3, 24, 24, generator=g))
    p = luma.project_valid(x, y)
    assert (luma(p) - y).abs().max() <= 1e-6 and p.min() >= 0 and p.max() <= 1
    inside = torch.rand(2, 3, 24, 24, generator=g) * 0.2 + 0.4
    torch.testing.assert_close(luma.project_valid(inside, luma(inside)), inside)  # nothing to change
