"""Frozen, validated configuration dataclasses.

A config is built from a plain dict (a TOML file, or a checkpoint's metadata); unknown
keys and out-of-range values are errors raised at construction.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class ConfigError(ValueError):
    """A configuration file or dict is invalid."""


def _from_dict(cls, data: dict[str, Any], where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(known)}")
    kwargs = {}
    for name, value in data.items():
        nested = _NESTED.get((cls, name))
        if nested is not None:
            value = _from_dict(nested, value, f"{where}.{name}")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None



def _qualities(pair, lowest: int = 1, highest: int = 100) -> bool:
    """Whether ``pair`` is a [low, high] range of whole JPEG qualities inside [lowest, highest]."""
    return len(pair) == 2 and all(isinstance(q, int) for q in pair) and lowest <= pair[0] <= pair[1] <= highest

RESTORATORS = ("single", "autoregressive", "diffusion")
ENGINES = ("torch", "ncnn")  # what runs the encoder's CNN at inference (``FranNet.set_engine``)
NORMS = ("l1", "l2", "log_l2")  # training losses (``objectives.loss``)
MAX_SCHEDULE_STEPS = 100_000


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a FranNet model."""

    channels: int = 64            # encoder width at the input resolution
    blocks: int = 10              # residual blocks at the input resolution
    coarse_blocks: int = 2        # residual blocks at each coarser level (1/2, 1/4)
    levels: int = 3               # feature maps: 1, 1/2, 1/4 of the input resolution
    latent: int = 64              # size of the global latent vector (0: none, every point decoded from local features)
    hidden: int = 128             # decoder MLP width
    decoder_layers: int = 4       # hidden layers of the decoder MLP
    fourier_bands: int = 6        # frequencies per axis for both coordinate encodings
    max_scale: float = 4.0        # scale condition is clamped here (training range)
    tunable: bool = False         # conditioned on noise level and gray input (denoise / colorize)
    max_noise: float = 75.0       # noise condition is sigma / max_noise (0-255 scale)
    jpeg: bool = False            # tunable and also conditioned on the input's JPEG quality
    unshuffle: int = 1            # 2: the trunk runs on 2x2 pixel blocks (FFDNet-style, ~4x cheaper)
    # How the decoder becomes an image (see restorators/): "single" predicts the colour in one
    # query; "autoregressive" and "diffusion" also read the current value x_t and time t and
    # predict their interpolant's target, in the residual space (target - bicubic) * residual_scale.
    restorator: str = "single"
    target: str = "eps"           # diffusion: the decoder predicts the noise ("eps") or "v"
    schedule: str = "cosine"      # diffusion: noise schedule, "cosine", "linear" or "sigmoid"
    schedule_steps: int = 1000    # diffusion: steps of the schedule's table
    residual_scale: float = 4.0   # iterative: residuals (std ~0.05) scaled towards the noise's unit scale

    def __post_init__(self):
        for name in ("channels", "blocks", "levels", "hidden", "decoder_layers", "fourier_bands"):
            _check(isinstance(getattr(self, name), int) and getattr(self, name) >= 1, f"{name} must be a positive integer")
        _check(isinstance(self.coarse_blocks, int) and self.coarse_blocks >= 0, "coarse_blocks must be >= 0")
        _check(isinstance(self.latent, int) and self.latent >= 0, "latent must be an integer >= 0")
        _check(self.max_scale >= 1.0, "max_scale must be >= 1")
        _check(isinstance(self.tunable, bool), "tunable must be true or false")
        _check(self.max_noise > 0, "max_noise must be > 0")
        _check(isinstance(self.jpeg, bool) and (self.tunable or not self.jpeg), "jpeg needs tunable = true")
        _check(self.unshuffle in (1, 2), "unshuffle must be 1 or 2")
        _check(self.unshuffle == 1 or self.levels >= 2, "unshuffle = 2 needs levels >= 2")
        _check(self.restorator in RESTORATORS, f"restorator must be one of {', '.join(RESTORATORS)}")
        _check(self.target in ("eps", "v"), "target must be 'eps' or 'v'")
        _check(self.schedule in ("cosine", "linear", "sigmoid"), "schedule must be cosine, linear or sigmoid")
        _check(isinstance(self.schedule_steps, int) and 1 <= self.schedule_steps <= MAX_SCHEDULE_STEPS,
               f"schedule_steps must be an integer in [1, {MAX_SCHEDULE_STEPS}]")
        _check(self.residual_scale > 0, "residual_scale must be > 0")

    @property
    def iterative(self) -> bool:
        return self.restorator != "single"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return _from_dict(cls, data, "model")


@dataclass(frozen=True)
class DataConfig:
    """Where training images come from, how examples are cut from them and the ranges their
    degradations are drawn from (``degradations.draw_degradation``)."""

    train: tuple[str, ...] = ("data/train",)
    exclude: tuple[str, ...] = ()     # file-name patterns ("retina.*") of train images left out
    max_side: int = 0                 # train images larger than this are first shrunk to it (0: as they are):
    #                                   a wallpaper's crops then frame as much of a scene as a photo's
    detail_target_db: float = 0.0     # train images smoother than this (detail.detail_db, dB; 0: off) are
    detail_min_side: int = 384        # shrunk until they are not, but not below this shorter side
    val: tuple[str, ...] = ("data/val",)
    patch: int = 48                   # low-resolution patch side fed to the encoder
    min_scale: float = 1.0
    max_scale: float = 4.0
    scale_focus: tuple[float, float] = (1.0, 1.0)  # a sub-range drawn from instead, for a share of examples:
    scale_focus_share: float = 0.0    # a wide range (x8) trained while most practice stays where most use is
    anisotropic: float = 0.2          # share of examples with different x and y factors
    target_points: int = 2304         # supervised target pixels per example (FranNet's knob)
    noise: tuple[float, float] = (0.0, 0.0)  # Gaussian noise sigma range (0-255 scale) added to inputs
    noise_focus: tuple[float, float] = (0.0, 0.0)  # a sub-range drawn from instead, for a share of examples:
    noise_focus_share: float = 0.0    # more practice where the levels matter most, the whole range kept
    gray_input: float = 0.0           # share of examples whose input is gray and target colour (colorize)
    gray_photos: float = 0.0          # share of examples that are gray photos (gray input and target)
    val_scales: tuple[float, ...] = (2.0, 4.0)
    val_noise: tuple[float, ...] = (0.0,)  # validation noise levels (sigma, 0-255)
    val_gray: bool = False            # validation inputs are gray (colorization)
    jpeg_share: float = 0.0           # share of examples whose input is saved as a JPEG, then:
    jpeg_quality: tuple[int, int] = (10, 95)  # its quality, uniform in this range (libjpeg's scale)
    jpeg_focus: tuple[int, int] = (0, 0)  # a sub-range drawn from instead, for a share of those JPEGs:
    jpeg_focus_share: float = 0.0     # cameras and the web save at high qualities, the low ones still trained
    jpeg_full_chroma: float = 0.25    # share of those kept at 4:4:4 (the rest 4:2:0, cameras' usual)
    jpeg_twice: float = 0.1           # share of those compressed before too, at a quality from the same range
    jpeg_twice_quality: tuple[int, int] = (0, 0)  # or from this one: a camera's original, saved again after an
    #                                   edit, was better than the last save ((0, 0): jpeg_quality)
    val_jpeg: tuple[int, ...] = ()    # validation also measures inputs saved at these qualities
    blur_share: float = 0.0           # share of examples blurred before the downscale (a lens's softness):
    blur: tuple[float, float] = (0.3, 1.0)  # its Gaussian std in output pixels, uniform in this range
    shot_share: float = 0.0           # share of examples given shot noise (a sensor's, signal-dependent):
    shot: tuple[float, float] = (0.0, 10.0)  # its std at mid-gray (0-255 scale), uniform in this range
    val_crop: int = 256               # validation uses a centre crop of each photo

    def __post_init__(self):
        _check(self.patch >= 8, "patch must be >= 8")
        _check(1.0 <= self.min_scale <= self.max_scale, "need 1 <= min_scale <= max_scale")
        _check(0.0 <= self.anisotropic <= 1.0, "anisotropic must be in [0, 1]")
        _check(len(self.scale_focus) == 2 and (self.scale_focus_share == 0 or
               self.min_scale <= self.scale_focus[0] <= self.scale_focus[1] <= self.max_scale),
               "scale_focus must be [low, high] inside [min_scale, max_scale]")
        _check(0.0 <= self.scale_focus_share <= 1.0, "scale_focus_share must be in [0, 1]")
        _check(self.target_points >= 1, "target_points must be >= 1")
        _check(self.detail_target_db == 0 or self.detail_target_db >= 10,
               "detail_target_db must be 0 (off) or a PSNR in dB >= 10 (photos score 25-35)")
        _check(self.detail_target_db == 0 or isinstance(self.detail_min_side, int)
               and self.detail_min_side >= self.patch * self.max_scale,
               "detail_min_side must be a whole number of pixels >= patch * max_scale (the largest crop)")
        _check(isinstance(self.max_side, int) and (self.max_side == 0 or self.max_side >= self.patch * self.max_scale),
               "max_side must be 0 or a whole number of pixels >= patch * max_scale (the largest crop)")
        _check(len(self.train) >= 1, "train needs at least one folder")
        _check(len(self.noise) == 2 and 0.0 <= self.noise[0] <= self.noise[1], "noise must be [low, high] with 0 <= low <= high")
        _check(len(self.noise_focus) == 2 and (self.noise_focus_share == 0 or
               self.noise[0] <= self.noise_focus[0] <= self.noise_focus[1] <= self.noise[1]),
               "noise_focus must be [low, high] inside noise")
        _check(0.0 <= self.noise_focus_share <= 1.0, "noise_focus_share must be in [0, 1]")
        _check(0.0 <= self.gray_input <= 1.0 and 0.0 <= self.gray_photos <= 1.0, "gray_input and gray_photos must be in [0, 1]")
        _check(all(s >= 0 for s in self.val_noise) and len(self.val_noise) >= 1, "val_noise needs levels >= 0")
        _check(all(0.0 <= getattr(self, n) <= 1.0 for n in ("jpeg_share", "jpeg_full_chroma", "jpeg_twice")),
               "jpeg_share, jpeg_full_chroma and jpeg_twice must be in [0, 1]")
        _check(_qualities(self.jpeg_quality), "jpeg_quality must be [low, high] in 1-100")
        _check(self.jpeg_focus_share == 0 or _qualities(self.jpeg_focus, *self.jpeg_quality),
               "jpeg_focus must be [low, high] inside jpeg_quality")
        _check(0.0 <= self.jpeg_focus_share <= 1.0, "jpeg_focus_share must be in [0, 1]")
        _check(self.jpeg_twice_quality == (0, 0) or _qualities(self.jpeg_twice_quality),
               "jpeg_twice_quality must be [low, high] in 1-100 (or [0, 0]: jpeg_quality's range)")
        _check(all(isinstance(q, int) and 1 <= q <= 100 for q in self.val_jpeg), "val_jpeg needs qualities in 1-100")
        for name in ("blur", "shot"):
            lo_hi = getattr(self, name)
            _check(len(lo_hi) == 2 and 0.0 <= lo_hi[0] <= lo_hi[1], f"{name} must be [low, high] with 0 <= low <= high")
            _check(0.0 <= getattr(self, f"{name}_share") <= 1.0, f"{name}_share must be in [0, 1]")


@dataclass(frozen=True)
class TrainConfig:
    """A training run: model, data, optimisation and bookkeeping."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    out_dir: str = "runs/sr"
    init: str = ""                    # model file or checkpoint whose weights a fresh run starts from
    seed: int = 0
    steps: int = 10000
    batch: int = 16                   # global batch, split over processes under torchrun
    micro_batch: int = 0              # examples per forward pass (gradient accumulation); 0: all at once
    lr: float = 4e-4
    min_lr: float = 1e-5
    warmup: int = 200
    weight_decay: float = 1e-4
    ema: float = 0.999
    grad_clip: float = 1.0
    loss: str = "l1"                  # "l1", "l2" (the conditional mean: best PSNR where answers are ambiguous) or
                                      # "log_l2" (per example: the mean PSNR over photos; objectives.py)
    val_every: int = 500
    ckpt_every: int = 250
    keep: int = 3                     # checkpoints kept on disk
    threads: int = 0                  # torch intra-op threads (0: torch's default)
    bf16: bool = False                # forward passes under bfloat16 autocast (weights, optimizer and EMA stay float32)
    freeze_encoder: bool = False      # train the decoder only; the encoders keep init's weights

    def __post_init__(self):
        _check(isinstance(self.model, ModelConfig), "model must be a ModelConfig (use from_dict for plain dicts)")
        _check(isinstance(self.data, DataConfig), "data must be a DataConfig (use from_dict for plain dicts)")
        _check(self.steps >= 1 and self.batch >= 1, "steps and batch must be >= 1")
        _check(self.micro_batch >= 0, "micro_batch must be >= 0")
        _check(self.lr > 0 and 0 <= self.min_lr <= self.lr, "need 0 <= min_lr <= lr, lr > 0")
        _check(0.0 <= self.ema < 1.0, "ema must be in [0, 1)")
        _check(self.loss in NORMS, f"loss must be one of {', '.join(NORMS)}")
        _check(self.val_every >= 1 and self.ckpt_every >= 1 and self.keep >= 1, "val_every, ckpt_every, keep must be >= 1")
        _check(not self.freeze_encoder or bool(self.init), "freeze_encoder needs init (the trained encoder to keep)")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _from_dict(cls, data, "config")

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        return _from_dict(cls, data, str(path))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


_NESTED = {(TrainConfig, "model"): ModelConfig, (TrainConfig, "data"): DataConfig}
