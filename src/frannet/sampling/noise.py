"""Gaussian noise keyed to absolute coordinates: a pixel's noise depends on (seed, step, row,
column, channel) only, so results do not depend on chunking, batch layout or tiling.

A counter-based generator: each value is a 32-bit integer hash of its key (Wellons' lowbias32,
computed in int64 with 16-bit partial products so nothing overflows), turned into two
uniforms and then a normal sample by Box-Muller.
"""

from __future__ import annotations

import math

import torch

_MASK = 0xFFFFFFFF


def _mul32(x: torch.Tensor, m: int) -> torch.Tensor:
    """(x * m) mod 2^32 for x < 2^32, without int64 overflow."""
    lo = (x * (m & 0xFFFF)) & _MASK
    hi = ((x * (m >> 16)) & 0xFFFF) << 16
    return (lo + hi) & _MASK


def hash32(x: torch.Tensor) -> torch.Tensor:
    x = x & _MASK
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def keyed_normal(seed: int, step: int, coords: torch.Tensor, channels: int = 3) -> torch.Tensor:
    """Standard normal values (N, channels) for integer pixel coordinates ``coords`` (N, 2) = (row, col)."""
    base = hash32(torch.tensor(seed & _MASK, dtype=torch.int64) ^ hash32(torch.tensor(step & _MASK)))
    key = hash32(hash32(base ^ coords[:, 0].long()) ^ coords[:, 1].long())
    c = torch.arange(channels, dtype=torch.int64, device=coords.device)
    k = key.unsqueeze(1) * 2
    u1 = (hash32(k ^ (2 * c)).double() + 0.5) / 2**32
    u2 = (hash32(k ^ (2 * c + 1) ^ 0x9E3779B9).double() + 0.5) / 2**32
    return (torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2)).float()


def grid_coords(rows: range, cols: range) -> torch.Tensor:
    """(len(rows) * len(cols), 2) integer (row, col) pairs, row-major."""
    r = torch.arange(rows.start, rows.stop, dtype=torch.int64)
    c = torch.arange(cols.start, cols.stop, dtype=torch.int64)
    rr, cc = torch.meshgrid(r, c, indexing="ij")
    return torch.stack([rr.reshape(-1), cc.reshape(-1)], dim=1)
