"""The JPEG quality of a picture: read from the file's quantization tables, or estimated from
its pixels when the tables are gone (a PNG saved from a JPEG, a frame of one).

Both answers are on libjpeg's (IJG) quality scale, 1-100: encoders that use the IJG tables
(libjpeg, libjpeg-turbo, Pillow, most cameras' "fine/normal" presets approximate them) scale
the standard luma table of Annex K by ``5000 / Q`` below 50 and ``200 - 2Q`` above.

The pixel estimate relies on what decoding leaves behind: the 8x8 DCT of a decoded JPEG's
luma, on the encoder's block grid, still sits on the multiples of each frequency's step. A
candidate table is judged only where it could be contradicted: on the AC coefficients it does
not quantize to zero (``|c| >= step / 2``), each at its distance ``r`` from the nearest
multiple, in steps. The mean of ``12 r^2`` (the ratio) is about 1 for values that have nothing
to do with the table and near 0 on its multiples. Left out:

- coefficients that round to zero: a smooth picture (an upscale, a blurred photo) is mostly
  near-zero coefficients, and zero is a multiple of every step, so any coarse table would fit;
- the DC coefficient: it follows the picture's brightness histogram, whose peaks (flat or
  clipped areas) sit on a coarse step's multiples by chance;
- repetition: a gradient repeats a few block patterns, whose coefficients can all sit near one
  multiple, so the evidence is counted in cells, distinct (frequency, multiple) pairs.

A table fits if its ratio is at most ``MAX_FIT_RATIO`` and below chance's mean (1) by
``SIGNIFICANCE`` standard errors over its cells; the fitting table with the lowest ratio is the
answer (a finer one fits too, but not where its steps differ). Pictures that were resized,
cropped off the grid or never compressed fit no table: the estimate is then None. It is None
too for a JPEG too smooth to keep non-zero AC coefficients in enough cells (a bare gradient).

Measured by ``benchmarks/jpeg_quality.py`` on the 28 held-out photos saved by Pillow at quality
10-95 in steps of 5 (504 files): 469 exact, 484 within 2, none missed (the rule this replaced,
which measured every coefficient: 439, 460 and 18). The 20 beyond 2 are of photos that were
JPEGs already, found at the earlier, coarser compression, which is the one whose artefacts
show; the 15 other misses are one or two above, a finer neighbour table fitting as well where
clipped pixels shrank coefficients. Never compressed on the grid, the photos resized by bicubic
x2, x0.5 and x1.5 and their quality-75 JPEGs resized x2 give no quality (with the previous
rule, 22, 0, 10 and 24 of 28 did); nor do their quality-75 JPEGs cropped 3 pixels in and 5
down, off the grid (previously 1 of 28 did). A 2048^2 picture takes half the CPU time it did
(0.2 s, against 0.4 s).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# The IJG (libjpeg) baseline luma table, Annex K of the JPEG standard, in row order (as
# Pillow reports tables).
IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])
MAX_FIT_RATIO = 0.8     # a table must leave its evidence this close to its multiples (chance: 1)
SIGNIFICANCE = 4.0      # ... and closer than chance by this many standard errors (of the cells)
CHANCE_SD = 0.8 ** 0.5  # the standard deviation of 12 r^2 for r uniform in [-1/2, 1/2]
MAX_BLOCKS = 16384      # blocks measured, evenly spread (a 12 MP photo has 190 000; 100 tables each)


def ijg_table(quality: int, base: np.ndarray = IJG_LUMA) -> np.ndarray:
    """libjpeg's ``jpeg_quality_scaling``: the base table scaled for ``quality``, clipped to 1-255."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


_TABLES = np.stack([ijg_table(q) for q in range(1, 101)]).astype(np.float64)


def quality_from_tables(img: Image.Image) -> int | None:
    """The IJG quality whose luma table is closest to the file's, or None for a file without
    quantization tables. Exact for files written by libjpeg with ``quality=Q``."""
    return table_quality(getattr(img, "quantization", None))


def table_quality(tables: dict | None) -> int | None:
    """``quality_from_tables`` from the tables themselves (a JPEG file's ``quantization`` as
    Pillow reads it: table number -> 64 steps in row order; None or empty: a file without)."""
    if not tables:
        return None
    luma = np.asarray(tables[0], dtype=np.float64)
    return int(np.argmin(np.abs(_TABLES - luma).sum(axis=1))) + 1


def dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)
    m = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


_DCT8 = dct_matrix(8)


def block_coefficients(rgb: np.ndarray, max_blocks: int | None = None, scale: float = 1.0) -> np.ndarray:
    """(N, 64) DCT coefficients of the 8x8 blocks of the JPEG luma (level-shifted), on the grid
    that starts at the top-left pixel. ``rgb``: (H, W, 3) values, times ``scale`` on the 0-255
    scale. ``max_blocks``: at most this many blocks, every k-th in row-major order: only they
    are read, so a large picture costs no more than a small one."""
    bh, bw = rgb.shape[0] // 8, rgb.shape[1] // 8
    picked = np.arange(0, bh * bw, max(1, -(-bh * bw // max_blocks)) if max_blocks else 1)
    offsets = np.arange(8)
    rows = (picked // bw * 8)[:, None, None] + offsets[None, :, None]
    cols = (picked % bw * 8)[:, None, None] + offsets[None, None, :]
    blocks = rgb[rows, cols, :3].astype(np.float64) @ (np.array([0.299, 0.587, 0.114]) * scale) - 128
    return np.einsum("ij,njk,lk->nil", _DCT8, blocks, _DCT8).reshape(-1, 64)


def quality_from_pixels(rgb: np.ndarray, scale: float = 1.0) -> int | None:
    """The IJG quality whose table the decoded pixels still fit best, or None if none fits
    (see the module's docstring). ``rgb``: (H, W, 3), times ``scale`` on the 0-255 scale, at
    least 8x8."""
    values, frequency = nonzero_ac(block_coefficients(rgb, MAX_BLOCKS, scale))
    best, best_ratio = None, MAX_FIT_RATIO
    for quality, table in enumerate(_TABLES, start=1):
        ratio = table_fit(values, frequency, table, below=best_ratio)
        if ratio is not None:
            best, best_ratio = quality, ratio
    return best


def nonzero_ac(coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The AC coefficients of (N, 64) blocks that could be non-zero under some table (below
    half the finest step, 1, every table quantizes them to zero), and their frequencies (1-63)."""
    blocks, frequency = np.nonzero(np.abs(coefficients[:, 1:]) >= 0.5)
    return coefficients[blocks, frequency + 1], frequency + 1


def table_fit(values: np.ndarray, frequency: np.ndarray, table: np.ndarray, below: float = MAX_FIT_RATIO) -> float | None:
    """How well the AC ``values`` (at ``frequency``, from ``nonzero_ac``) sit on the multiples of
    ``table`` (64 steps): the ratio (see the module's docstring), if it is under ``below`` and
    significantly under chance's 1; else None."""
    u = values / table[frequency]
    evidence = np.abs(u) >= 0.5  # not quantized to zero: the table can be contradicted here
    if not evidence.any():
        return None
    u, multiple = u[evidence], np.round(u[evidence])
    ratio = 12 * np.mean(np.square(u - multiple))  # ~1 by chance, ~0 on the table's multiples
    if ratio >= below:
        return None
    cells = len(np.unique(64 * multiple + frequency[evidence]))  # distinct (frequency, multiple)
    return ratio if ratio <= 1 - SIGNIFICANCE * CHANCE_SD / np.sqrt(cells) else None


def jpeg_quality(img: Image.Image) -> tuple[int | None, str]:
    """(quality, how): read from the tables ("tables"), estimated from the pixels ("pixels"),
    or (None, "none") when the picture shows no JPEG compression."""
    quality = quality_from_tables(img)
    if quality is not None:
        return quality, "tables"
    quality = quality_from_pixels(np.asarray(img.convert("RGB")))
    return (quality, "pixels") if quality is not None else (None, "none")
