"""Reading and writing image files.

Reading turns the picture upright (EXIF orientation), refuses animations and decompression
bombs with a clear message, keeps the alpha channel apart, keeps 16-bit PNG and TIFF at 16
bits (``codecs``) and converts CMYK to RGB with a notice. The ICC profile and EXIF (its
orientation reset to 1) are carried to the output; a JPEG's quantization tables are kept
apart (they tell its quality, ``jpeg_quality``, and are not written). Writing is atomic: the file
appears complete or not at all.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from .atomic import atomic_write
from .codecs import DEEP_FORMATS, read_deep, write_deep

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".j2k", ".ppm", ".pgm"}
DEFAULT_MAX_PIXELS = 200_000_000
DEFAULT_QUALITY = 95  # JPEG and WebP
WHITE = (1.0, 1.0, 1.0)
NO_ALPHA = ("JPEG", "PPM")  # formats without transparency: a picture with alpha is composited over a background
ORIENTATION = ExifTags.Base.Orientation
GRAY_MODES = ("1", "L", "LA", "La")
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}  # by number of channels
# How the stored pixels turn upright, by EXIF orientation (as Pillow's exif_transpose does).
UPRIGHT = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
           7: lambda a: a.swapaxes(0, 1)[::-1, ::-1], 8: lambda a: np.rot90(a, 1)}


class ImageReadError(ValueError):
    """A file that cannot be read as an image."""


class ConversionWarning(UserWarning):
    """A file was changed on the way in (e.g. CMYK to RGB): the user should know."""


@dataclass
class Picture:
    rgb: np.ndarray                     # (H, W, 3) float32 in [0, 1]
    alpha: np.ndarray | None = None     # (H, W) float32 in [0, 1], or None
    bits: int = 8                       # bit depth of the source (8 or 16)
    info: dict = field(default_factory=dict)  # icc_profile / exif carried to the output
    gray: bool = False                  # a gray source: written back as a gray file
    std: np.ndarray | None = None       # (H, W) per-pixel std of an iterative restorator's samples
    evaluations: np.ndarray | None = None  # (H, W) an iterative restorator's decoder evaluations per pixel
    quantization: dict | None = None    # a JPEG source's quantization tables (Pillow's), for its quality

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.rgb.shape[1], self.rgb.shape[0]

    def crop(self, x0: int, y0: int, x1: int, y1: int) -> Picture:
        """The window [x0, x1) x [y0, y1) of the picture and of its per-pixel maps."""
        def cut(a):
            return None if a is None else a[y0:y1, x0:x1]

        return replace(self, rgb=cut(self.rgb), alpha=cut(self.alpha), std=cut(self.std),
                       evaluations=cut(self.evaluations))


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, limit_name: str | None = None) -> Picture:
    """The picture in a file of at most ``max_pixels`` pixels (Pillow's own limit is raised to it);
    the error for a larger one says to raise ``limit_name``, if given."""
    path = Path(path)
    raise_it = f" (raise {limit_name} to allow more)" if limit_name else ""
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow refuses twice its limit before the check below
    try:
        with Image.open(path) as img:
            if getattr(img, "n_frames", 1) > 1:
                raise ImageReadError(f"{path}: animated images are not supported")
            if img.width * img.height > max_pixels:
                raise ImageReadError(f"{path}: {img.width}x{img.height} exceeds the limit of {max_pixels} pixels"
                                     + raise_it)
            info, orientation = _metadata(img)
            quantization = getattr(img, "quantization", None) or None  # a JPEG's; read with its header
            samples = read_deep(path, img.format)
            if samples is None:
                if img.mode == "CMYK":
                    img = _cmyk_to_rgb(img, info.pop("icc_profile", None), path)
                samples = _pillow_samples(img)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a directory") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not a readable image") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{path}: too many pixels ({exc}){raise_it}") from None
    except (OSError, SyntaxError, ValueError, RuntimeError) as exc:  # RuntimeError: imagecodecs
        if isinstance(exc, ImageReadError):
            raise
        raise ImageReadError(f"{path}: corrupt or truncated image ({exc})") from None
    return replace(_to_picture(UPRIGHT.get(orientation, np.asarray)(samples), info), quantization=quantization)


def _metadata(img: Image.Image) -> tuple[dict, int]:
    """The ICC profile and EXIF to carry, and the EXIF orientation. The pixels are turned
    upright, so the carried EXIF says orientation 1."""
    exif = img.getexif()  # first: for a PNG it may load the file to find a late eXIf chunk
    orientation = exif.get(ORIENTATION, 1)
    info = {k: img.info[k] for k in ("icc_profile", "exif") if img.info.get(k)}
    if "exif" in info and orientation != 1:
        exif[ORIENTATION] = 1
        info["exif"] = exif.tobytes()
    return info, orientation


def _cmyk_to_rgb(img: Image.Image, icc: bytes | None, path: Path) -> Image.Image:
    """sRGB through the file's own ICC profile when it has a usable one, else Pillow's
    plain conversion. The CMYK profile is not carried: the result is sRGB."""
    if icc:
        try:
            rgb = ImageCms.profileToProfile(img, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                            ImageCms.createProfile("sRGB"), outputMode="RGB")
            warnings.warn(f"{path}: CMYK converted to sRGB with its ICC profile", ConversionWarning, stacklevel=3)
            return rgb
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken or non-CMYK profile: the plain conversion below
    warnings.warn(f"{path}: CMYK converted to RGB without a usable ICC profile (colours are approximate)",
                  ConversionWarning, stacklevel=3)
    return img.convert("RGB")


def _pillow_samples(img: Image.Image) -> np.ndarray:
    """(H, W, C) uint8 samples (uint16 for Pillow's 16-bit gray modes)."""
    if img.mode.startswith("I"):  # 16-bit gray (PGM, some TIFFs)
        return np.clip(np.asarray(img), 0, 65535).astype(np.uint16)[..., None]
    alpha = "A" in img.mode or "a" in img.mode or "transparency" in img.info
    mode = ("LA" if alpha else "L") if img.mode in GRAY_MODES else ("RGBA" if alpha else "RGB")
    samples = np.asarray(img.convert(mode))
    return samples[..., None] if samples.ndim == 2 else samples


def _to_picture(samples: np.ndarray, info: dict) -> Picture:
    x = samples.astype(np.float32)
    x /= np.iinfo(samples.dtype).max  # in place: a large photo's float copy is 12 bytes a pixel
    channels = x.shape[2]
    rgb = x[..., :3] if channels >= 3 else np.repeat(x[..., :1], 3, axis=2)
    alpha = np.ascontiguousarray(x[..., -1]) if channels in (2, 4) else None
    return Picture(np.ascontiguousarray(rgb), alpha, bits=8 * samples.dtype.itemsize, info=info, gray=channels < 3)


def to_samples(rgb: np.ndarray, alpha: np.ndarray | None, gray: bool, dtype=np.uint8) -> np.ndarray:
    """(H, W, C) integer samples: gray (the channels' mean) or RGB, then alpha if any."""
    x = rgb.mean(axis=2, keepdims=True) if gray else rgb
    if alpha is not None:
        x = np.dstack([x, alpha])
    return np.round(np.clip(x, 0.0, 1.0) * np.iinfo(dtype).max).astype(dtype)


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None, gray: bool = False) -> Image.Image:
    """Float (H, W, 3) in [0, 1] (and optional alpha) to an 8-bit PIL image; ``gray`` keeps
    one channel (their mean)."""
    samples = to_samples(rgb, alpha, gray)
    return Image.fromarray(samples[..., 0] if samples.shape[2] == 1 else samples, MODES[samples.shape[2]])


def keeps_alpha(path: str | Path) -> bool:
    """Whether the format of ``path`` (by its suffix) can hold transparency."""
    return Image.registered_extensions().get(Path(path).suffix.lower()) not in NO_ALPHA


def flatten(picture: Picture, background: tuple[float, float, float] = WHITE) -> Picture:
    """The picture composited over an opaque ``background`` (r, g, b in [0, 1]), without alpha."""
    alpha = picture.alpha[..., None]
    rgb = picture.rgb * alpha + np.asarray(background, np.float32) * (1 - alpha)
    return replace(picture, rgb=rgb, alpha=None, gray=picture.gray and len(set(background)) == 1)


def write_image(path: str | Path, picture: Picture, quality: int = DEFAULT_QUALITY,
                background: tuple[float, float, float] = WHITE) -> None:
    """Write atomically (see ``atomic_write``); a 16-bit source stays 16-bit in PNG and TIFF.
    ``quality`` (1-100) is for JPEG and WebP; a format without transparency gets the picture
    composited over ``background`` (r, g, b in [0, 1])."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image format {path.suffix!r}")
    if picture.alpha is not None and fmt in NO_ALPHA:
        picture = flatten(picture, background)
    with atomic_write(path) as tmp:
        if picture.bits == 16 and fmt in DEEP_FORMATS:
            write_deep(tmp, fmt, to_samples(picture.rgb, picture.alpha, picture.gray, np.uint16), picture.info)
        else:
            _save_pillow(tmp, fmt, picture, quality)


def _save_pillow(path: Path, fmt: str, picture: Picture, quality: int) -> None:
    img = to_pil(picture.rgb, picture.alpha, picture.gray)
    options = dict(picture.info) if fmt in ("PNG", "JPEG", "TIFF", "WEBP") else {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    img.save(path, format=fmt, **options)
