"""Tiled rendering: any image size with bounded encoder memory, identical to the untiled result.

The input is cut into tiles of ``tile`` x ``tile`` pixels. Each tile is encoded together with
a margin that covers the encoder's receptive field and the decoder's sampling reach, so every
feature the decoder reads inside the tile equals the one computed on the whole image. The
global latent is computed once from the whole image and the condition is the whole image's
(``Degradation.condition``), so each output pixel is decoded from exactly the same numbers as
without tiling. This module knows the model only; the restorators render through it.
Tile origins are multiples of 2^(levels-1), so the coarse maps line up with the whole image's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from .config import ModelConfig
from .coords import pixel_centers
from .degradations import Degradation
from .memory import DEFAULT_MAX_MEMORY, release_freed_memory
from .models import Encoding, FranNet
from .sampling import grid_coords

# decode(encoding, positions (1, N, 2) in the tile's input pixels, output pixels (N, 2) as (row, col))
Decode = Callable[[Encoding, torch.Tensor, torch.Tensor], torch.Tensor]

DEFAULT_TILE = 512  # input pixels per tile side (about 100 MB per feature map with its margin)
DEFAULT_CHUNK = 1 << 16  # output pixels decoded at once
# The smallest tile a user may ask for. Each tile is encoded with a margin of 55 to 93 input pixels
# (the bundled models), so smaller tiles spend most of their time on margins. Measured, x2 of a
# 300x200 photo on one thread: 2 s in one tile, 8 s in tiles of 64, 21 s of 32, 88 s of 16.
MIN_TILE = 64
BAND_BYTES = 16  # per output pixel of a band: float32 colour, and its 8-bit copy waiting to be written


def tile_problem(tile: int) -> str | None:
    """Why a tile side asked for by a user is refused, or None."""
    if tile < MIN_TILE:
        return (f"must be at least {MIN_TILE} input pixels, got {tile}: each tile is encoded with a margin around "
                "it (55 to 93 pixels for the bundled models), so smaller tiles spend most of their time on margins")
    return None


def encoder_bytes_per_pixel(cfg: ModelConfig, engine: str = "torch") -> int:
    """Peak bytes per input pixel (margin included) while a tile is encoded: a few live maps of
    the trunk's width and the projected decoder maps (hidden wide at 1, 1/4, 1/16 ... of the
    pixels). Measured peaks (channels-last inference): 1.29 KB per pixel for every bundled
    model, against these estimates of 2.1 KB (frannet-sr) and 1.8 KB (frannet-denoise). ncnn's
    Winograd buffers about double it (measured on the sr encoder: 2.6 KB against torch's 1.36)."""
    trunk_maps = 4 if cfg.unshuffle == 1 else 2  # the unshuffled trunk's maps are a quarter size
    torch_bytes = 4 * (trunk_maps * cfg.channels + cfg.hidden * 4 // 3) * 5 // 4  # float32, a quarter spare
    return torch_bytes * (2 if engine == "ncnn" else 1)


def auto_tile(cfg: ModelConfig, in_size: tuple[int, int], out_size: tuple[int, int],
              max_memory: int = DEFAULT_MAX_MEMORY, engine: str = "torch") -> int:
    """The largest tile (input pixels a side) whose encoding (by ``engine``) plus one band of
    output rows fits in ``max_memory`` bytes; at least the alignment, so a tiny budget still
    makes progress."""
    margin, align = receptive_margin(cfg), tile_alignment(cfg)
    per_pixel = encoder_bytes_per_pixel(cfg, engine)
    rows_per_input_row = out_size[0] / in_size[0]
    tile = max(in_size) + align  # one tile is the whole image: the most that can help
    tile -= tile % align
    while tile > align:
        window = [min(n, tile + 2 * margin + align) for n in in_size]  # windows stop at the image's edges
        encoding = window[0] * window[1] * per_pixel
        band = tile * rows_per_input_row * out_size[1] * BAND_BYTES
        if encoding + band <= max_memory:
            break
        tile -= max(align, tile // 8 - tile // 8 % align)
    return max(tile, align)


def receptive_margin(cfg: ModelConfig) -> int:
    """Input pixels around a tile that the decoder's values inside it depend on."""
    reach = 2 + 2 * cfg.blocks  # head, the trunk's convolutions and tail, in trunk pixels
    if cfg.unshuffle > 1:  # trunk pixels are 2x2 blocks, and a block's pixels share its features
        reach = 2 * reach + 1
    for level in range(cfg.unshuffle, cfg.levels):
        reach += (1 << (level - 1)) + 2 * cfg.coarse_blocks * (1 << level)  # stride conv + blocks at level
    reach += 1 << (cfg.levels - 1)  # bilinear sampling of the coarsest map reaches one of its pixels
    return max(reach, 2) + 2  # at least the bicubic base's reach, plus one pixel of rounding


def tile_alignment(cfg: ModelConfig) -> int:
    """Tile origins are multiples of this, so every map's pixel grid lines up with the whole image's."""
    return max(cfg.unshuffle, 1 << (cfg.levels - 1))


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _spans(start: int, stop: int, step: int) -> Iterator[tuple[int, int]]:
    for a in range(start, stop, step):
        yield a, min(stop, a + step)


def _input_window(first: int, last: int, out_size: int, in_size: int, margin: int, align: int) -> tuple[int, int]:
    """Input pixels [lo, hi) needed to decode output pixels first..last (inclusive) along one axis."""
    u_lo = (first + 0.5) * in_size / out_size
    u_hi = (last + 0.5) * in_size / out_size
    lo = max(0, math.floor(u_lo) - margin)
    return lo - lo % align, min(in_size, math.ceil(u_hi) + margin)


@dataclass(frozen=True)
class Tile:
    """Output pixels ``rows`` x ``cols`` (ranges), decoded from the input window
    (top, bottom, left, right) that is encoded with its margin."""

    rows: range
    cols: range
    window: tuple[int, int, int, int]

    def chunks(self, chunk: int, block: int = 1) -> Iterator[range]:
        """Spans of whole rows of the tile, about ``chunk`` output pixels each (a multiple of
        ``block`` rows)."""
        step = _round_up(max(1, chunk // len(self.cols)), block)
        return (range(a, b) for a, b in _spans(self.rows.start, self.rows.stop, step))

    def points(self, rows: range, in_size: tuple[int, int], size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions (1, N, 2) in the window's input pixels and output pixels (N, 2) as (row, col)
        of ``rows`` x ``cols``, row-major."""
        (h, w), (out_h, out_w) = in_size, size
        top, _, left, _ = self.window
        pts = pixel_centers(out_h, out_w, rows=slice(rows.start, rows.stop), cols=slice(self.cols.start, self.cols.stop),
                            dtype=torch.float64)
        pos = pts * pts.new_tensor([w, h]) - pts.new_tensor([left, top])
        return pos[None], grid_coords(rows, self.cols)

    def axes(self, rows: range, in_size: tuple[int, int], size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The y positions of ``rows`` and the x positions of the tile's columns, (R,) and (C,), in
        the window's input pixels: the grid that ``points`` lists (the same float64 values)."""
        (h, w), (out_h, out_w) = in_size, size
        top, _, left, _ = self.window
        ys = (torch.arange(rows.start, rows.stop, dtype=torch.float64) + 0.5) / out_h * h - top
        xs = (torch.arange(self.cols.start, self.cols.stop, dtype=torch.float64) + 0.5) / out_w * w - left
        return ys, xs


def tile_bands(cfg: ModelConfig, in_size: tuple[int, int], size: tuple[int, int], *, tile: int = DEFAULT_TILE,
               region: tuple[int, int, int, int] | None = None, block: int = 1) -> Iterator[list[Tile]]:
    """The tiles that cover ``region`` (x0, y0, x1, y1) of the output (default all), band by band:
    output tiles follow the input tiles, about tile * scale output pixels a side (a multiple of
    ``block``, so from the origin, tiles never split a ``block`` x ``block`` square of the output)."""
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    (h, w), (out_h, out_w) = in_size, size
    x0, y0, x1, y1 = region or (0, 0, out_w, out_h)
    if not (0 <= x0 < x1 <= out_w and 0 <= y0 < y1 <= out_h):
        raise ValueError(f"region {(x0, y0, x1, y1)} is not inside the {out_w}x{out_h} output")
    margin, align = receptive_margin(cfg), tile_alignment(cfg)
    step_x, step_y = (_round_up(max(1, round(tile * n / i)), block) for n, i in ((out_w, w), (out_h, h)))
    for r0, r1 in _spans(y0, y1, step_y):
        top, bottom = _input_window(r0, r1 - 1, out_h, h, margin, align)
        yield [Tile(range(r0, r1), range(q0, q1), (top, bottom, *_input_window(q0, q1 - 1, out_w, w, margin, align)))
               for q0, q1 in _spans(x0, x1, step_x)]


def tile_encoder(model: FranNet, lr: torch.Tensor, size: tuple[int, int], *,
                 degradation: Degradation = Degradation()) -> Callable[[Tile], Encoding]:
    """Encodes a tile's window of (3, h, w) or (1, 3, h, w) ``lr`` with the whole image's global
    latent and condition (``degradation`` at the scale from the input's size to ``size``), so its
    features equal the untiled ones."""
    lr = lr.unsqueeze(0) if lr.dim() == 3 else lr
    condition = degradation.for_sizes(tuple(lr.shape[-2:]), size).condition(lr.dtype, lr.device)[None]
    latent = model.global_latent(lr)

    def encode(tile: Tile) -> Encoding:
        top, bottom, left, right = tile.window
        return model.encode(lr[..., top:bottom, left:right], condition, latent=latent)

    return encode


def _out_of_memory(exc: BaseException) -> bool:
    """An allocation failure (torch's CPU allocator raises RuntimeError), not some other error."""
    return isinstance(exc, MemoryError) or "can't allocate memory" in str(exc) or "out of memory" in str(exc)


def tile_borders(cfg: ModelConfig, in_size: tuple[int, int], size: tuple[int, int],
                 tile: int = DEFAULT_TILE) -> tuple[list[int], list[int]]:
    """The output rows and columns where a tile other than the first begins (where a seam would show)."""
    tiles = [t for band in tile_bands(cfg, in_size, size, tile=tile) for t in band]
    return sorted({t.rows.start for t in tiles} - {0}), sorted({t.cols.start for t in tiles} - {0})


@torch.no_grad()
def render_bands(model: FranNet, lr: torch.Tensor, size: tuple[int, int], *,
                 degradation: Degradation = Degradation(), tile: int = DEFAULT_TILE,
                 region: tuple[int, int, int, int] | None = None, chunk: int = DEFAULT_CHUNK,
                 progress: Callable[[int], None] | None = None, decode: Decode | None = None,
                 channels: int = 3, block: int = 1) -> Iterator[tuple[int, torch.Tensor]]:
    """``render_tiled`` one band of output rows at a time, top to bottom: yields (first row,
    (channels, rows, width) band). Only one band and one encoded tile are held at once, so an
    output of any size can be written as it comes. A tile that runs out of memory is redone in
    smaller tiles (the same values), down to the smallest aligned size."""
    in_size = tuple(lr.shape[-2:])
    x0, _, x1, _ = region or (0, 0, size[1], size[0])
    encode = tile_encoder(model, lr, size, degradation=degradation)
    grid = decode is None and not model.cfg.iterative  # the default decode of a grid: once per row and column
    if decode is None:
        decode = lambda enc, pos, pixels: model.query_pixels(enc, pos)[0]  # noqa: E731

    def values_of(enc: Encoding, t: Tile, span: range) -> torch.Tensor:
        if grid:
            return model.query_grid(enc, *t.axes(span, in_size, size))
        pos, pixels = t.points(span, in_size, size)
        return decode(enc, pos, pixels)

    def fill(band: torch.Tensor, t: Tile, tile_side: int) -> None:
        done = 0
        try:
            enc = encode(t)
            for span in t.chunks(chunk, block):
                values = values_of(enc, t, span)
                band[:, span.start - rows.start:span.stop - rows.start, t.cols.start - x0:t.cols.stop - x0] = \
                    values.T.reshape(channels, len(span), len(t.cols))
                if progress is not None:
                    progress(len(span) * len(t.cols))
                done += len(span) * len(t.cols)
            del enc
            release_freed_memory()
        except (MemoryError, RuntimeError) as exc:
            smaller = tile_side // 2
            if not _out_of_memory(exc) or smaller < tile_alignment(model.cfg):
                raise
            del exc  # its traceback holds the tile's big tensors
            if progress is not None and done:
                progress(-done)
            # Any tile size gives the same values, so the tile is redone as four smaller ones.
            window = (t.cols.start, t.rows.start, t.cols.stop, t.rows.stop)
            for sub_band in tile_bands(model.cfg, in_size, size, tile=smaller, region=window, block=block):
                for sub in sub_band:
                    fill(band, sub, smaller)

    for band_tiles in tile_bands(model.cfg, in_size, size, tile=tile, region=region, block=block):
        rows = band_tiles[0].rows
        band = lr.new_empty(channels, len(rows), x1 - x0)
        for t in band_tiles:
            fill(band, t, tile)
        yield rows.start, band
        del band  # the consumer has it; holding it too would keep two bands alive while the next is filled


def render_tiled(model: FranNet, lr: torch.Tensor, size: tuple[int, int], *,
                 degradation: Degradation = Degradation(), tile: int = DEFAULT_TILE,
                 region: tuple[int, int, int, int] | None = None, chunk: int = DEFAULT_CHUNK,
                 progress: Callable[[int], None] | None = None, decode: Decode | None = None, channels: int = 3,
                 block: int = 1) -> torch.Tensor:
    """Restore (3, h, w) ``lr`` to ``size`` = (H, W), one input tile at a time.

    ``degradation`` is what the input suffered besides the resize (its noise sigma, gray); the
    scale is the sizes'. ``decode`` turns a
    chunk of points into (N, ``channels``) values (an iterative restorator's sampler); by default
    one query of the model.
    ``region`` = (x0, y0, x1, y1) renders only that window of the output (equal to the same
    crop of the full render). ``progress`` is called with the output pixels finished. With
    ``block``, every chunk ``decode`` sees holds whole ``block`` x ``block`` squares of the output.
    """
    out_h, out_w = size
    x0, y0, x1, y1 = region or (0, 0, out_w, out_h)
    bands = render_bands(model, lr, size, degradation=degradation, tile=tile, region=region, chunk=chunk,
                         progress=progress, decode=decode, channels=channels, block=block)
    out = None
    for r0, band in bands:
        if out is None:
            out = band.new_empty(channels, y1 - y0, x1 - x0)
        out[:, r0 - y0:r0 - y0 + band.shape[1]] = band
    return out
