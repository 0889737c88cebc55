"""Outputs too large to hold in memory, written as they are restored.

``pipeline.restore_bands`` gives the output as bands of rows; here they are converted to
8 or 16 bits and cut into square tiles of a BigTIFF, which tifffile writes one at a time. Memory
holds one band and one row of tiles, whatever the output size. Only TIFF can be written this
way: Pillow writes PNG and JPEG from a whole image.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .codecs import tiff_options
from .io import Picture, to_samples

TIFF_TILE = 256          # tile side in output pixels (TIFF tiles are multiples of 16)
CONVERTED_ROWS = 64      # rows of a band converted to samples at a time
STREAMED_SUFFIXES = (".tif", ".tiff")
STREAMED_MAX_PIXELS = 4_000_000_000  # a TIFF output is never held whole: this guards against absurd scales only
WHOLE_BYTES_PER_PIXEL = 40  # an output held whole: float colour, its clamped copy, 8-bit samples, the encoder's copy


def needs_streaming(width: int, height: int, max_memory: int) -> bool:
    """Whether an output of this size is too large to hold whole within ``max_memory`` bytes."""
    return width * height * WHOLE_BYTES_PER_PIXEL > max_memory


def _tiles(bands: Iterable[tuple[np.ndarray, np.ndarray | None]], header: Picture, dtype) -> Iterator[np.ndarray]:
    """Tiles in TIFF order (left to right, then down) from bands of any height; edge tiles are padded."""
    pending = None  # rows short of a whole row of tiles, carried to the next band
    for rgb, alpha in bands:
        samples = _band_samples(pending, rgb, alpha, header.gray, dtype)
        del rgb, alpha  # the band is not needed while the next one is restored
        done = len(samples) - len(samples) % TIFF_TILE
        for top in range(0, done, TIFF_TILE):
            yield from _row_of_tiles(samples[top:top + TIFF_TILE])
        pending = samples[done:].copy()  # a view would keep the whole band's samples alive
        del samples
    if pending is not None and len(pending):
        yield from _row_of_tiles(pending)


def _band_samples(pending: np.ndarray | None, rgb: np.ndarray, alpha: np.ndarray | None, gray: bool,
                  dtype) -> np.ndarray:
    """The pending rows, then the band's as integer samples, in one array. The band is converted
    a few rows at a time: whole, its float temporaries would take twice the band's memory."""
    carried = 0 if pending is None else len(pending)
    out = np.empty((carried + len(rgb), rgb.shape[1], (1 if gray else 3) + (alpha is not None)), dtype)
    if carried:
        out[:carried] = pending
    for r in range(0, len(rgb), CONVERTED_ROWS):
        rows = slice(r, r + CONVERTED_ROWS)
        out[carried + r:carried + r + CONVERTED_ROWS] = to_samples(rgb[rows], None if alpha is None else alpha[rows],
                                                                  gray, dtype)
    return out


def _row_of_tiles(rows: np.ndarray) -> Iterator[np.ndarray]:
    for left in range(0, rows.shape[1], TIFF_TILE):
        tile = rows[:, left:left + TIFF_TILE]
        pad = ((0, TIFF_TILE - tile.shape[0]), (0, TIFF_TILE - tile.shape[1]), (0, 0))
        yield np.pad(tile, pad) if any(p[1] for p in pad) else np.ascontiguousarray(tile)


def write_streamed_tiff(path: str | Path, header: Picture, width: int, height: int,
                        bands: Iterable[tuple[np.ndarray, np.ndarray | None]], alpha: bool) -> None:
    """Write the bands (see ``pipeline.restore_bands``) atomically as a tiled, deflated BigTIFF,
    16-bit if the source was. ``alpha`` says whether the bands carry alpha."""
    path = Path(path)
    if path.suffix.lower() not in STREAMED_SUFFIXES:
        raise ValueError(f"{path}: an output this large is written tile by tile, which only TIFF (.tif) allows")
    dtype = np.uint16 if header.bits == 16 else np.uint8
    channels = (1 if header.gray else 3) + int(alpha)
    import tifffile  # on first use: it is slow to import

    with atomic_write(path) as tmp:
        tifffile.imwrite(tmp, data=_tiles(bands, header, dtype), shape=(height, width, channels), dtype=dtype,
                         tile=(TIFF_TILE, TIFF_TILE), bigtiff=True, **tiff_options(channels, header.info))
