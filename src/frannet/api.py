"""The Python API: ``frannet.upscale(image, scale=3.5)``, ``frannet.denoise(image, noise=25)``,
``frannet.colorize(image)``, or ``frannet.restore`` for several at once; ``frannet.inpaint(image,
mask)``, and ``frannet.sense(image, ratio=0.25)`` / ``frannet.reconstruct(measurements)``.

Images may be PIL images or numpy arrays (H, W), (H, W, 3) or (H, W, 4) of uint8, uint16 or
floats in [0, 1]; the result has the same type, mode and dtype as the input.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .checkpoint import load_model
from .framing import framed
from .inverse import DEFAULT_STEPS, inpaint_image, model_denoiser, reconstruct_image
from .io import Picture
from .measurements import Measurements, load_measurements, measure
from .models import FranNet
from .parsing import MAX_NOISE
from .pipeline import BUNDLED, Job, Models, restore_picture
from .restorators import Sampling
from .tiling import tile_problem

PACKAGE_DIR = Path(__file__).parent
BUNDLED_MODEL = BUNDLED["upscale"]
SAMPLE_IMAGE = PACKAGE_DIR / "samples" / "coffee-small.png"
DEFAULT_MAX_OUTPUT_PIXELS = 100_000_000  # the whole output is held in memory (~16 bytes/pixel)


def load(path: str | Path | None = None) -> FranNet:
    """A model from a safetensors file; the bundled super-resolution model by default
    (``frannet.checkpoint.describe(path)`` says what a file's model is, without loading it)."""
    return load_model(BUNDLED_MODEL if path is None else path)


def output_size(width: int, height: int, scale=None, size=None, max_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS,
                limit_name: str = "max_pixels") -> tuple[int, int]:
    """(out_width, out_height) for a ``scale`` (number or (sx, sy)) or an exact ``size`` (w, h);
    the error for an output over ``max_pixels`` says to raise ``limit_name``."""
    if (scale is None) == (size is None):
        raise ValueError("give exactly one of scale or size")
    if scale is not None:
        sx, sy = (scale, scale) if np.isscalar(scale) else tuple(scale)
        for s in (sx, sy):
            if not isinstance(s, (int, float, np.number)) or not math.isfinite(s) or s <= 0:
                raise ValueError(f"scale must be a finite number > 0, got {s!r}")
            if s < 1:
                raise ValueError(f"scale {s:g} would shrink the image; frannet restores at the input size or larger")
        out_w, out_h = max(1, round(width * sx)), max(1, round(height * sy))
    else:
        out_w, out_h = (int(v) for v in size)
        if out_w != size[0] or out_h != size[1] or out_w < 1 or out_h < 1:
            raise ValueError(f"size must be two positive integers, got {size!r}")
        if out_w < width or out_h < height:
            raise ValueError(f"size {out_w}x{out_h} is smaller than the input {width}x{height}")
    if out_w * out_h > max_pixels:
        raise ValueError(f"output {out_w}x{out_h} has {out_w * out_h / 1e6:.0f} megapixels, over the limit of "
                         f"{max_pixels / 1e6:.0f} (raise {limit_name} if you have the memory)")
    return out_w, out_h


def _from_numpy(arr: np.ndarray) -> Picture:
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an array (H, W), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
    if arr.dtype == np.uint8:
        x = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        x = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        x = arr.astype(np.float32)
        if not np.isfinite(x).all():
            raise ValueError("array contains NaN or infinite values")
    else:
        raise ValueError(f"unsupported array dtype {arr.dtype}")
    rgb = np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x[..., :3]
    alpha = x[..., 3] if x.shape[2] == 4 else None
    return Picture(rgb=np.clip(rgb, 0, 1), alpha=alpha, bits=16 if arr.dtype == np.uint16 else 8)


def _to_numpy(picture: Picture, like: np.ndarray) -> np.ndarray:
    x = picture.rgb if like.ndim == 3 and like.shape[2] >= 3 else picture.rgb.mean(axis=2, keepdims=True)
    if like.ndim == 3 and like.shape[2] == 4:
        x = np.dstack([x, picture.alpha])
    if like.ndim == 2:
        x = x[..., 0]
    if like.dtype == np.uint8:
        return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
    if like.dtype == np.uint16:
        return np.round(np.clip(x, 0, 1) * 65535).astype(np.uint16)
    return x.astype(like.dtype)


def _as_array(image) -> np.ndarray:
    if isinstance(image, Image.Image):
        mode = image.mode
        return np.asarray(image.convert("RGBA" if "A" in mode or "transparency" in image.info else
                                        "L" if mode in ("L", "1") else "RGB"))
    if isinstance(image, np.ndarray):
        return image
    raise TypeError(f"expected a PIL image or a numpy array, got {type(image).__name__}")


def restore(image, scale=None, size=None, noise: float | None = 0.0, colorize: bool = False,
            models: Models | None = None, consistency: bool = False,
            max_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS, restorator: str | None = None,
            steps: int | None = None, eta: float = Sampling.eta, seed: int = Sampling.seed,
            samples: int = Sampling.samples, uncertainty: bool = False, adaptive: float | None = None,
            temperature: float | None = None, region: tuple[int, int, int, int] | None = None, progressive: bool = False, ensemble: int = 1,
            tile: int | None = None, aspect: str = "stretch", jpeg: str | int = "auto", force: bool = False):
    """Restore a PIL image or numpy array: upscale by ``scale`` (a number or (sx, sy)) or to
    ``size`` (w, h) (neither: keep the size), remove noise of std ``noise`` (0-255 scale;
    None estimates it), and ``colorize`` a gray photo, in any combination (a colour image to
    colorize is a ValueError unless ``force``, which colours its luma). ``jpeg``: the input's
    JPEG quality, told to an upscaling model that reads it (which removes the artefacts, at
    scale 1 too): "auto" reads a JPEG image's quantization tables (a PIL image opened from a
    JPEG file), else estimates it from the pixels (a model that reads none is told nothing);
    "off" ignores it; a quality 1-100 is told as it is. A ``size`` of
    another aspect ratio is filled by stretching (``aspect="stretch"``), or with the aspect
    kept: ``"fit"``, the largest size inside it; ``"fill"``, covered and the centre cut out.

    The result has the input's type, mode and dtype (a colorized gray image comes back as RGB).
    ``models``: the model per stage (``Models``), each file of its stage's task. The stages are
    ``pipeline.plan``'s, refused before any work if they cannot run. ``restorator`` ("single",
    "autoregressive" or "diffusion"; None: whatever the model is) must match the last stage's
    model; an iterative one samples with ``steps``, ``eta`` (diffusion), ``seed`` and
    ``samples`` (their mean is the result) from a source of std ``temperature`` (0 to 1: lower
    is nearer the mean), and stops tiles whose estimate settles below ``adaptive``; None takes
    the restorator's default (``restorators.DEFAULT_STEPS``, ``DEFAULT_ADAPTIVE`` and
    ``DEFAULT_TEMPERATURE``: the measured best for the bundled models). ``uncertainty``: return (result, std), std the (H, W)
    float32 per-pixel standard deviation of the samples (zero for a single sample).
    ``region`` (x0, y0, x1, y1): only that window of the output; ``progressive``: upscale in
    steps of at most x2; ``ensemble``: average the restorations of that many mirror views of the
    image (1, 2, 4 or 8; slower by that factor, a little better); ``tile``: the encoder's tile side
    in input pixels (at least MIN_TILE, 64; the result does not depend on it; None: the largest
    that fits the default memory aim).
    """
    problem = None if tile is None else tile_problem(tile)
    if problem:
        raise ValueError(f"tile {problem}")
    arr = _as_array(image)
    picture = _from_numpy(arr)
    picture.quantization = getattr(image, "quantization", None)  # a PIL image read from a JPEG file has them
    window = None
    if size is not None:
        size, window = framed(*picture.size, size, aspect)
    elif aspect != "stretch":
        raise ValueError(f"aspect {aspect!r} is for an exact size: give size too")
    if window is not None and region is not None:
        raise ValueError("aspect='fill' cuts its own window of the output: give it or region, not both")
    width, height = output_size(*picture.size, scale=1 if scale is None and size is None else scale,
                                size=size, max_pixels=max_pixels)
    sampling = Sampling(steps=steps, eta=eta, seed=seed, samples=samples, adaptive=adaptive, temperature=temperature)
    job = Job(width, height, noise=noise, colorize=colorize, consistency=consistency, restorator=restorator,
              sampling=sampling, region=region, progressive=progressive, ensemble=ensemble, tile=tile, jpeg=jpeg,
              force=force)
    result = restore_picture(picture, job, models)
    if window is not None:
        result = result.crop(*window)
    like = arr if not colorize or (arr.ndim == 3 and arr.shape[2] >= 3) else np.empty((1, 1, 3), arr.dtype)
    out = _to_numpy(result, like)
    out = Image.fromarray(out) if isinstance(image, Image.Image) else out
    if not uncertainty:
        return out
    if result.std is None:
        raise ValueError("uncertainty needs an iterative restorator (autoregressive or diffusion) and its model")
    return out, result.std.astype(np.float32)


def upscale(image, scale=None, size=None, model: FranNet | str | Path | None = None,
            consistency: bool = False, max_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS, bf16: bool | None = None, **options):
    """Upscale a PIL image or numpy array by ``scale`` (a number or (sx, sy)) or to ``size`` (w, h).

    ``model``: a FranNet, or a file whose descriptor says it upscales (another task is a
    CheckpointError); the bundled frannet-sr by default.
    ``consistency``: make the output agree exactly with the input under bicubic downscaling.
    ``options``: ``restorator``, ``steps``, ``eta``, ``seed``, ``samples``, ``adaptive``, ``temperature``,
    ``uncertainty``, ``region``, ``progressive``, ``ensemble``, ``tile``, ``aspect`` and ``jpeg``, as for
    ``restore``.
    ``bf16``: True runs the model in bfloat16 where measured harmless (PSNR within 0.001 dB on the
    held-out photos; ``FranNet.set_bf16``), False in float32 (the reference); None (default): bfloat16
    on CPUs that compute it natively (AVX-512 bf16, AMX; 1.7x faster), float32 elsewhere and for a
    FranNet passed as ``model`` (``Models.precision_for``).
    """
    if scale is None and size is None:
        raise ValueError("give exactly one of scale or size")
    return restore(image, scale, size, models=Models(upscale=model, bf16=bf16), consistency=consistency,
                   max_pixels=max_pixels,
                   **options)


def denoise(image, noise: float | None = None, model: FranNet | str | Path | None = None, ensemble: int = 1,
            bf16: bool | None = None, jpeg: str | int = "auto"):
    """Remove Gaussian noise of std ``noise`` (0-255 scale; the dial, 0 to 75) from a PIL image
    or numpy array; by default the level is estimated from the image. ``ensemble`` as for
    ``restore``: 2 views gain about 0.05 dB for twice the time. ``model``: a FranNet or a file
    of a denoising model (its descriptor says so). ``bf16`` as for ``upscale`` (PSNR within
    0.003 dB at sigma 25). ``jpeg`` as for ``restore``: a JPEG found without noise goes to the
    upscaling model at scale 1 if it reads the quality."""
    if noise is not None and not (0 <= noise <= MAX_NOISE):
        raise ValueError(f"noise must be a sigma between 0 and {MAX_NOISE:g} (0-255 scale), got {noise!r}")
    return restore(image, noise=noise, models=Models(denoise=model, bf16=bf16), ensemble=ensemble, jpeg=jpeg)


def colorize(image, scale=None, size=None, noise: float | None = 0.0, model: FranNet | str | Path | None = None,
             jpeg: str | int = "auto", force: bool = False, **options):
    """Colour a gray PIL image or numpy array; it may also be denoised and upscaled (the luma is
    restored first, then coloured). The output's luma is the restored luma: without noise,
    upscaling or a JPEG quality told, the input's. An image in colour (``grayness.is_gray``: its
    channels more than 4 levels of 255 apart at over 1% of its pixels) is a ValueError unless
    ``force``, which colours its luma. ``model``: a FranNet or a file of a colorizing model (its
    descriptor says so; a diffusion one with ``restorator="diffusion"``: each ``seed`` gives one
    colouring, ``samples`` averages that many); the other stages use the bundled models.
    ``jpeg`` and ``options`` (``restorator``, ``steps``, ``eta``, ``seed``, ``samples``,
    ``adaptive``, ``uncertainty``, ``consistency`` ...) as for ``restore``."""
    return restore(image, scale, size, noise=noise, colorize=True, models=Models(colorize=model), jpeg=jpeg,
                   force=force, **options)


def _missing(mask) -> np.ndarray:
    """(H, W) bool, True where the mask is white (or True, or above half of its range)."""
    arr = _as_array(mask.convert("L") if isinstance(mask, Image.Image) else mask)
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        arr = arr[..., :3].mean(axis=2) if arr.shape[2] > 1 else arr[..., 0]
    if arr.ndim != 2:
        raise ValueError(f"expected a mask (H, W), got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    top = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(arr.dtype, 1.0)
    return arr > top / 2


def inpaint(image, mask, steps: int = DEFAULT_STEPS, model: FranNet | str | Path | None = None):
    """Fill in the pixels of a PIL image or numpy array where ``mask`` (a PIL image or array of
    the same size) is white, or True: white means missing. The other pixels come back as they
    were; the result has the input's type, mode and dtype. The denoising model is the prior
    (``steps`` rounds of projected denoising)."""
    arr = _as_array(image)
    picture = _from_numpy(arr)
    missing = torch.from_numpy(_missing(mask))
    rgb = torch.from_numpy(picture.rgb).permute(2, 0, 1)
    denoise = model_denoiser(Models(denoise=model, bf16=False).get("denoise"))  # bfloat16 unmeasured here
    out = inpaint_image(rgb, missing, denoise, steps).permute(1, 2, 0).numpy()
    result = Picture(rgb=out, alpha=picture.alpha, bits=picture.bits)
    out = _to_numpy(result, arr)
    return Image.fromarray(out) if isinstance(image, Image.Image) else out


def sense(image, ratio: float = 0.25, block: int = 32, seed: int = 0) -> Measurements:
    """Block compressed-sensing measurements of a PIL image or numpy array: ``ratio`` (0 < r <= 1)
    of the pixel count per ``block`` x ``block`` block and colour channel, by the rows of a random
    orthogonal matrix from ``seed``. ``.save(path)`` writes them as an .npz file."""
    rgb = torch.from_numpy(_from_numpy(_as_array(image)).rgb).permute(2, 0, 1)
    return measure(rgb, ratio, block, seed)


def reconstruct(measurements: Measurements | str | Path, steps: int = DEFAULT_STEPS,
                model: FranNet | str | Path | None = None) -> Image.Image:
    """The photo (an 8-bit RGB PIL image) behind measurements from ``sense`` (or their .npz file),
    with the denoising model as the prior (``steps`` rounds of projected denoising)."""
    if not isinstance(measurements, Measurements):
        measurements = load_measurements(measurements)
    denoise = model_denoiser(Models(denoise=model, bf16=False).get("denoise"))  # bfloat16 unmeasured here
    rgb = reconstruct_image(measurements, denoise, steps).permute(1, 2, 0).numpy()
    return Image.fromarray(np.round(rgb * 255).astype(np.uint8), "RGB")
