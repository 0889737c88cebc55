"""Linear degradation operators and range-null-space data consistency (RND / DDNM).

Each operator A maps an image x (..., C, H, W) to an observation y and has a pseudo-inverse
A+ with A A+ A = A and A+ A A+ = A+. The projection

    x_hat = x + A+ (y - A x)

replaces the part of x that A can see (its range) with what was observed, and keeps the
rest (the null space, where the network's detail lives): A x_hat = y exactly, and projecting
twice is projecting once. Operators are frozen dataclasses.

Callers: the pipeline's ``--consistency`` (bicubic downscaling, luma), the DDNM restorator's
``Observation`` (any operator), inpainting (mask) and compressed sensing (block measurements).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch

from .degradations import resize_band


class Operator:
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def pinv(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def project(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x + A+(y - A x): agrees with y exactly, keeps x's null-space part."""
        return x + self.pinv(y - self(x))

    def project_valid(self, x: torch.Tensor, y: torch.Tensor, tol: float = 0.1 / 255,
                      max_rounds: int = 200) -> torch.Tensor:
        """A valid image (in [0, 1]) that agrees with y within ``tol`` (colour units) where
        clipping allows.

        Alternates the projection with clipping (POCS): both sets are convex and the true image
        lies in both, so the clipped result's disagreement shrinks with every round (on x4
        photos: 0.7/255 after 20 rounds, 0.17/255 after 50); it stops once within ``tol``.
        """
        x = x.clamp(0.0, 1.0)
        for _ in range(max_rounds):
            residual = y - self(x)
            if residual.abs().max() <= tol:
                break
            x = (x + self.pinv(residual)).clamp(0.0, 1.0)
        return x


@dataclass(frozen=True)
class Gray(Operator):
    """Weighted channel sum (channel mean by default, or luma); y keeps a channel axis of 1."""

    weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)

    def _w(self, ref: torch.Tensor) -> torch.Tensor:
        return ref.new_tensor(self.weights).reshape(3, 1, 1)

    def __call__(self, x):
        return (x * self._w(x)).sum(dim=-3, keepdim=True)

    def pinv(self, y):
        w = self._w(y)
        return y * w / (w * w).sum()

    def project_valid(self, x, y, **_):
        """Exact and in [0, 1], in one step (no rounds to tune): the projection p, with each pixel that leaves
        [0, 1] pulled toward the gray pixel g = y / sum(w) of the same luma, g + t (p - g) with
        the largest t <= 1 that fits. Every point on that segment has luma y (for y in [0, 1])."""
        p = self.project(x, y)
        g = (y / sum(self.weights)).expand_as(p)
        d = p - g
        room = torch.where(d > 0, (1 - g) / d, torch.where(d < 0, -g / d, torch.ones_like(d)))
        t = room.amin(dim=-3, keepdim=True).clamp(0.0, 1.0)
        return (g + t * d).clamp(0.0, 1.0)


@dataclass(frozen=True)
class Mask(Operator):
    """Keeps the pixels where ``mask`` is 1 (inpainting); A+ = A, a diagonal 0/1 projector."""

    mask: torch.Tensor  # (H, W) or broadcastable, values 0 or 1

    def __call__(self, x):
        return x * self.mask.to(x)

    def pinv(self, y):
        return y * self.mask.to(y)


@dataclass(frozen=True)
class BlockCS(Operator):
    """Block compressed sensing: each block x block patch (per channel) is measured by the
    first round(ratio * block^2) rows of a random orthogonal matrix. Rows are orthonormal, so
    A+ = A^T. Observations are (..., C, blocks_y, blocks_x, m)."""

    ratio: float
    block: int = 32
    seed: int = 0
    phi: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not 0 < self.ratio <= 1:
            raise ValueError(f"sampling ratio must be in (0, 1], got {self.ratio}")
        n = self.block * self.block
        m = max(1, round(self.ratio * n))
        g = torch.Generator().manual_seed(self.seed)
        q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
        object.__setattr__(self, "phi", q[:m].contiguous())

    def _blocks(self, x):
        b = self.block
        h, w = x.shape[-2:]
        if h % b or w % b:
            raise ValueError(f"image {(h, w)} is not a multiple of the block size {b}")
        x = x.reshape(*x.shape[:-2], h // b, b, w // b, b).transpose(-3, -2)
        return x.reshape(*x.shape[:-2], b * b)

    def __call__(self, x):
        return self._blocks(x) @ self.phi.to(x).T

    def pinv(self, y):
        b = self.block
        patches = (y @ self.phi.to(y)).reshape(*y.shape[:-1], b, b)  # (..., by, bx, b, b)
        by, bx = y.shape[-3:-1]
        return patches.transpose(-3, -2).reshape(*y.shape[:-3], by * b, bx * b)


@dataclass(frozen=True)
class BicubicDown(Operator):
    """Pillow-exact antialiased bicubic downscaling from ``hr`` = (H, W) to ``lr`` = (h, w).

    A = Mh (.) Mw^T is separable, so its pseudo-inverse is too: A+ y = Mh+ y Mw+^T with
    M+ = M^T (M M^T)^-1, the exact least-squares solution. Each M is a sparse band (a few taps
    per low-resolution pixel) and (M M^T)^-1 is only as large as the low-resolution side, so
    A+ y solves on the small image and then spreads the result with M^T: memory and time grow
    with the image, not with its square, and no tiles are needed.
    """

    hr: tuple[int, int]
    lr: tuple[int, int]
    axes: tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "axes", tuple(_axis(n, m) for n, m in zip(self.hr, self.lr)))

    def __call__(self, x):
        if tuple(x.shape[-2:]) != tuple(self.hr):
            raise ValueError(f"image {tuple(x.shape[-2:])} is not the operator's size {tuple(self.hr)}")
        (mh, _, _), (mw, _, _) = self.axes
        return _along(mw, _along(mh, x, -2), -1)

    def adjoint(self, y):
        """A^T y (<A x, y> = <x, A^T y>): what A+ spreads its small solve with."""
        (_, mh_t, _), (_, mw_t, _) = self.axes
        return _along(mw_t, _along(mh_t, y, -2), -1)

    def pinv(self, y):
        gh, gw = self.axes[0][2].to(y), self.axes[1][2].to(y)
        return self.adjoint(gh @ y @ gw)  # (M M^T)^-1 is symmetric


def _axis(n: int, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The n -> m resize matrix M and M^T (sparse) and (M M^T)^-1 (dense, m x m), in float64."""
    index, weight = resize_band(n, m)
    gram = torch.zeros(m, m, dtype=torch.float64)
    for d in range(m):  # diagonal d of M M^T: rows i and i + d share input pixels (windows move right)
        same = index[:m - d, :, None] == index[d:, None, :]
        if not same.any():
            break
        band = (weight[:m - d, :, None] * weight[d:, None, :] * same).sum(dim=(1, 2))
        gram.diagonal(d).copy_(band)
        gram.diagonal(-d).copy_(band)
    rows = torch.arange(m).repeat_interleave(index.shape[1])
    coo = torch.sparse_coo_tensor(torch.stack([rows, index.flatten()]), weight.flatten(), (m, n),
                                  check_invariants=True).coalesce()
    with warnings.catch_warnings():  # torch calls its sparse CSR support beta; sparse @ dense is all we use
        warnings.simplefilter("ignore", UserWarning)
        mat, mat_t = coo.to_sparse_csr(), coo.t().coalesce().to_sparse_csr()
    return mat, mat_t, torch.cholesky_inverse(torch.linalg.cholesky(gram))


def _along(mat: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
    """The sparse matrix ``mat`` applied along axis ``dim`` (-2 or -1) of x."""
    mat = mat.to(x.dtype)
    if dim == -2:
        moved = x.movedim(-2, 0)
        out = mat @ moved.reshape(moved.shape[0], -1)
        return out.reshape(out.shape[0], *moved.shape[1:]).movedim(0, -2)
    out = mat @ x.reshape(-1, x.shape[-1]).T
    return out.T.reshape(*x.shape[:-1], out.shape[0])
