"""Block compressed-sensing measurements of a photo, and their .npz file.

The file holds the measurements and everything needed to rebuild the operator that took
them (sampling ratio, block size, seed) and the photo's size; it is plain arrays, read with
``allow_pickle=False``. The photo is padded (edge pixels repeated) to whole blocks before
measuring; a reconstruction is cropped back to ``height`` x ``width``.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .atomic import atomic_write
from .consistency import BlockCS

FORMAT = "frannet-block-cs-1"


class MeasurementError(ValueError):
    """A file that is not a readable set of frannet measurements."""


@dataclass(frozen=True)
class Measurements:
    values: torch.Tensor  # (3, blocks_y, blocks_x, m) float32, m = round(ratio * block^2)
    ratio: float
    block: int
    seed: int
    height: int
    width: int

    def __post_init__(self):
        if self.height < 1 or self.width < 1:
            raise MeasurementError(f"photo size must be positive, got {self.width}x{self.height}")
        expected = (3, math.ceil(self.height / self.block), math.ceil(self.width / self.block), self.operator.phi.shape[0])
        if tuple(self.values.shape) != expected:
            raise MeasurementError(f"measurements of shape {tuple(self.values.shape)} do not fit a "
                                   f"{self.width}x{self.height} photo at ratio {self.ratio:g} in blocks of {self.block} "
                                   f"(expected {expected})")

    @cached_property
    def operator(self) -> BlockCS:
        return BlockCS(self.ratio, block=self.block, seed=self.seed)

    def save(self, path: str | Path) -> None:
        """Write the .npz file atomically."""
        with atomic_write(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, format=np.array(FORMAT), values=self.values.numpy().astype(np.float32),
                     ratio=np.float64(self.ratio), block=np.int64(self.block), seed=np.int64(self.seed),
                     height=np.int64(self.height), width=np.int64(self.width))


def measure(rgb: torch.Tensor, ratio: float = 0.25, block: int = 32, seed: int = 0) -> Measurements:
    """Measure a (3, H, W) photo in [0, 1] with ``BlockCS(ratio, block, seed)``."""
    if not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    op = BlockCS(ratio, block=block, seed=seed)
    height, width = rgb.shape[-2:]
    padded = F.pad(rgb[None], (0, -width % block, 0, -height % block), mode="replicate")[0]
    return Measurements(op(padded.double()).float(), float(ratio), block, int(seed), height, width)


def load_measurements(path: str | Path) -> Measurements:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data or str(data["format"]) != FORMAT:
                raise MeasurementError(f"{path}: not a frannet measurement file (made by 'frannet sense')")
            fields = {k: data[k] for k in ("values", "ratio", "block", "seed", "height", "width")}
    except FileNotFoundError:
        raise MeasurementError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, MeasurementError):
            raise
        raise MeasurementError(f"{path}: not a readable frannet measurement file ({exc})") from None
    values = torch.from_numpy(np.ascontiguousarray(fields.pop("values"), dtype=np.float32))
    if not torch.isfinite(values).all():
        raise MeasurementError(f"{path}: measurements contain NaN or infinite values")
    try:
        return Measurements(values, float(fields["ratio"]), int(fields["block"]), int(fields["seed"]),
                            int(fields["height"]), int(fields["width"]))
    except MeasurementError as exc:
        raise MeasurementError(f"{path}: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise MeasurementError(f"{path}: invalid measurement settings ({exc})") from None
