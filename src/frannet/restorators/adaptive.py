"""Adaptive refinement (Diff2X): square tiles of the output stop early once their estimate has settled.

After every sampler step, each tile's update (the change of its clean estimate x0_hat since
the previous step, in colour on the 0-255 scale; the first step's is from the bicubic base) is
measured with Immerkaer's noise estimate. Its mask cancels smooth changes, so what it sees is
detail still being redrawn. A tile of one sample whose update has a sigma below
``Sampling.adaptive`` is done: it keeps its current clean estimate (DDIM's predicted x0, the
walk's current value) and the decoder is no longer queried for its pixels. Tiles are
``Sampling.adaptive_tile`` output pixels a side from the origin (cut at the right and bottom
edges), and every chunk holds whole tiles (``render_tiled``'s ``block``), so with the noise keyed
to pixels the result does not depend on the chunk or encoder tile size.
"""

from __future__ import annotations

import torch

from ..models import FranNet
from ..noise_estimate import immerkaer
from ..sampling import Diffusion, ddim_step, timesteps, walk_step
from .common import Sampling, interpolant, keyed_noise, summarize, x0_range


def _edges(start: int, length: int, side: int) -> list[int]:
    """Cuts of [start, start + length) at the multiples of ``side``, ends included."""
    return [start, *range(start - start % side + side, start + length, side), start + length]


def _tiles(pixels: torch.Tensor, side: int) -> tuple[int, int, list[tuple[slice, slice]], torch.Tensor]:
    """For a chunk's output pixels (N, 2), whole rows of a rectangle: its height and width, its
    tiles (row and column slices of the rectangle) and each pixel's tile (N,)."""
    (r0, c0), width = pixels[0].tolist(), int(pixels[:, 1].max()) - int(pixels[0, 1]) + 1
    height = pixels.shape[0] // width
    rows, cols = _edges(r0, height, side), _edges(c0, width, side)
    tiles = [(slice(a - r0, b - r0), slice(p - c0, q - c0)) for a, b in zip(rows, rows[1:])
             for p, q in zip(cols, cols[1:])]
    tile_of = torch.empty(height, width, dtype=torch.int64)
    for k, (rs, cs) in enumerate(tiles):
        tile_of[rs, cs] = k
    return height, width, tiles, tile_of.flatten()


def _update_sigmas(update: torch.Tensor, tiles: list[tuple[slice, slice]]) -> torch.Tensor:
    """(samples, tiles) noise sigma of each tile of (samples, H, W, 3) ``update``; a tile under
    3 pixels a side (at an edge) takes its RMS, an upper bound."""
    sigmas = []
    for rs, cs in tiles:
        part = update[:, rs, cs].permute(0, 3, 1, 2)
        small = min(part.shape[-2:]) < 3
        sigmas.append(part.double().square().mean(dim=(1, 2, 3)).sqrt() if small else immerkaer(part))
    return torch.stack(sigmas, dim=1)


def sample_adaptive(model: FranNet, enc, pos: torch.Tensor, pixels: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """``iterative.sample_pixels`` (same arguments and (N, 7) result) with tiles stopping early;
    ``pixels`` must be whole rows of whole tiles."""
    cfg, count = model.cfg, sampling.samples
    interp = interpolant(cfg)
    base = model.base(enc, pos)[0]
    pos_all = pos.repeat(1, count, 1)
    height, width, tiles, tile_of = _tiles(pixels, sampling.adaptive_tile)
    owner = torch.cat([tile_of + k * len(tiles) for k in range(count)])  # the (sample, tile) of each state row

    def noise(step: int) -> torch.Tensor:  # as in sample_pixels: keyed (seed, sample, step, pixel)
        return keyed_noise(sampling, pixels, step).to(base)

    x = noise(0)
    out, x0_prev = torch.empty_like(x), torch.zeros_like(x)
    evals = torch.zeros(x.shape[0], dtype=torch.int64)
    live = torch.ones(count, len(tiles), dtype=torch.bool)
    active = torch.arange(x.shape[0])
    diffusion = isinstance(interp, Diffusion)
    if diffusion:  # x0 estimates are clipped to the residuals of valid colours, as in sample_pixels
        low, high = x0_range(cfg, base, count)
        ts = timesteps(interp.schedule.steps, sampling.steps, sampling.skip)
        steps = list(zip(ts[:-1], ts[1:]))
    else:
        steps = range(sampling.steps)
    for i, step in enumerate(steps):
        idx = active

        def model_fn(v, t):
            return model.query_pixels(enc, pos_all[:, idx], v[None], t)[0]

        if diffusion:
            x[idx], x0 = ddim_step(model_fn, interp, x[idx], *step, lambda t, like: noise(t)[idx],
                                   eta=sampling.eta, clip=(low[idx], high[idx]))
            kept = x0
        else:
            move, x0 = walk_step(model_fn, x[idx], i, sampling.steps)
            x[idx] += move
            kept = x[idx]
        evals[idx] += 1
        if i == len(steps) - 1:
            out[idx] = x[idx]
            break
        update = torch.zeros_like(x)
        update[idx] = (x0 - x0_prev[idx]) * (255.0 / cfg.residual_scale)
        x0_prev[idx] = x0
        done = live & (_update_sigmas(update.view(count, height, width, 3), tiles) < sampling.adaptive)
        live &= ~done
        stops = done.flatten()[owner[idx]]
        out[idx[stops]] = kept[stops]
        active = idx[~stops]
        if active.numel() == 0:
            break
    return summarize(base.repeat(count, 1) + out / cfg.residual_scale, evals, count)
