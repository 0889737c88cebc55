"""Reading and writing image files.

Reading applies the EXIF orientation, refuses animations and decompression bombs with a
clear message, and keeps the alpha channel apart. Writing is atomic: the file appears
complete or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic import atomic_write

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".j2k", ".ppm", ".pgm"}
DEFAULT_MAX_PIXELS = 200_000_000


class ImageReadError(ValueError):
    """A file that cannot be read as an image."""


@dataclass
class Picture:
    rgb: np.ndarray                     # (H, W, 3) float32 in [0, 1]
    alpha: np.ndarray | None = None     # (H, W) float32 in [0, 1], or None
    bits: int = 8                       # bit depth of the source (8 or 16)
    info: dict = field(default_factory=dict)  # icc_profile / exif carried to the output
    gray: bool = False                  # a gray source: written back as a gray file
    std: np.ndarray | None = None       # (H, W) per-pixel std of an iterative restorator's samples

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.rgb.shape[1], self.rgb.shape[0]


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    path = Path(path)
    try:
        with Image.open(path) as img:
            if getattr(img, "n_frames", 1) > 1:
                raise ImageReadError(f"{path}: animated images are not supported")
            if img.width * img.height > max_pixels:
                raise ImageReadError(f"{path}: {img.width}x{img.height} exceeds the limit of {max_pixels} pixels")
            img = ImageOps.exif_transpose(img)
            img.load()
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a directory") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not a readable image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, ImageReadError):
            raise
        raise ImageReadError(f"{path}: corrupt or truncated image ({exc})") from None
    info = {k: img.info[k] for k in ("icc_profile", "exif") if img.info.get(k)}
    gray = img.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L")
    return Picture(*_to_float(img), info=info, gray=gray)


def _to_float(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        gray = np.asarray(img, dtype=np.float32) / 65535.0
        return np.repeat(np.clip(gray, 0, 1)[..., None], 3, axis=2), None, 16
    alpha = None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        alpha = np.asarray(img.getchannel("A"), dtype=np.float32) / 255.0
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return rgb, alpha, 8


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None, gray: bool = False) -> Image.Image:
    """Float (H, W, 3) in [0, 1] (and optional alpha) to an 8-bit PIL image; ``gray`` keeps
    one channel (their mean)."""
    arr = np.round(np.clip(rgb.mean(axis=2) if gray else rgb, 0.0, 1.0) * 255.0).astype(np.uint8)
    if alpha is not None:
        a = np.round(np.clip(alpha, 0.0, 1.0) * 255.0).astype(np.uint8)
        return Image.fromarray(np.dstack([arr, a]), "LA" if gray else "RGBA")
    return Image.fromarray(arr, "L" if gray else "RGB")


def write_image(path: str | Path, picture: Picture) -> None:
    """Write atomically (see ``atomic_write``)."""
    path = Path(path)
    img = to_pil(picture.rgb, picture.alpha, picture.gray)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image format {path.suffix!r}")
    if fmt == "JPEG" and img.mode in ("RGBA", "LA"):
        img = img.convert(img.mode[0] if img.mode == "LA" else "RGB")
    extra = {k: v for k, v in picture.info.items() if fmt in ("PNG", "JPEG", "TIFF", "WEBP")}
    with atomic_write(path) as tmp:
        img.save(tmp, format=fmt, **extra)
