"""16-bit PNG and TIFF, both ways.

Pillow reads 16-bit colour PNG and TIFF as 8-bit, so these files go through imagecodecs (PNG)
and tifffile (TIFF) instead. Samples are (H, W, C) uint16 arrays: C is 1 (gray), 2 (gray and
alpha), 3 (RGB) or 4 (RGBA). Both libraries are imported when a 16-bit file is met: tifffile
alone took ~90 ms of the ~0.25 s that ``import frannet`` adds to ``import torch``.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

DEEP_FORMATS = ("PNG", "TIFF")  # Pillow's format names of the files kept at 16 bits
ICC_TAG = 34675                 # TIFF tag of an embedded ICC profile
EXIF_HEADER = b"Exif\x00\x00"   # how Pillow starts EXIF bytes; a PNG eXIf chunk holds what follows


def read_deep(path: str | Path, fmt: str) -> np.ndarray | None:
    """The samples of a 16-bit PNG or TIFF; None for any other file (Pillow reads those)."""
    if fmt == "PNG":
        return _read_png(Path(path))
    if fmt == "TIFF":
        return _read_tiff(Path(path))
    return None


def _read_png(path: Path) -> np.ndarray | None:
    with open(path, "rb") as fh:
        head = fh.read(25)
    if len(head) < 25 or head[24] != 16:  # IHDR's bit depth, at a fixed offset
        return None
    import imagecodecs

    samples = imagecodecs.png_decode(path.read_bytes())
    return samples[..., None] if samples.ndim == 2 else samples


def _read_tiff(path: Path) -> np.ndarray | None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        photometric = tifffile.PHOTOMETRIC
        if (page.bitspersample != 16 or page.sampleformat != tifffile.SAMPLEFORMAT.UINT
                or page.photometric not in (photometric.MINISBLACK, photometric.RGB)):
            return None
        samples = page.asarray()
    if page.samplesperpixel > 1 and page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
        samples = np.moveaxis(samples, 0, -1)
    samples = samples[..., None] if samples.ndim == 2 else samples
    # Colour (or gray) then alpha; further extra samples have no place in the output.
    return samples[..., :4 if page.photometric == photometric.RGB else 2]


def write_deep(path: str | Path, fmt: str, samples: np.ndarray, info: dict) -> None:
    """Write uint16 samples as a 16-bit ``fmt`` (one of DEEP_FORMATS) with the ICC profile
    (and, in a PNG, the EXIF) of ``info``."""
    samples = np.ascontiguousarray(samples[..., 0] if samples.shape[2] == 1 else samples)
    if fmt == "PNG":
        _write_png(Path(path), samples, info)
    else:
        _write_tiff(path, samples, info)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _write_png(path: Path, samples: np.ndarray, info: dict) -> None:
    import imagecodecs

    data = imagecodecs.png_encode(samples)
    # imagecodecs cannot write iCCP or eXIf chunks: they go in right after IHDR (33 bytes in).
    extra = b""
    if info.get("icc_profile"):
        extra += _chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(info["icc_profile"]))
    if info.get("exif"):
        exif = info["exif"]
        extra += _chunk(b"eXIf", exif[len(EXIF_HEADER):] if exif.startswith(EXIF_HEADER) else exif)
    path.write_bytes(data[:33] + extra + data[33:])


def _write_tiff(path: str | Path, samples: np.ndarray, info: dict) -> None:
    import tifffile

    tifffile.imwrite(path, samples, **tiff_options(1 if samples.ndim == 2 else samples.shape[2], info))


def tiff_options(channels: int, info: dict) -> dict:
    """tifffile.imwrite options for ``channels`` samples (gray, gray + alpha, RGB, RGBA) with the
    ICC profile of ``info``. EXIF is not carried: that would mean rebuilding Pillow's EXIF bytes
    as a TIFF EXIF directory."""
    icc = info.get("icc_profile")
    return dict(photometric="rgb" if channels >= 3 else "minisblack", planarconfig="contig" if channels > 1 else None,
                extrasamples=("unassalpha",) if channels in (2, 4) else None, compression="zlib",
                extratags=[(ICC_TAG, "B", len(icc), icc, True)] if icc else [])
