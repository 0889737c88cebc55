"""Checkpoints and model files, in safetensors only (no pickle is ever loaded).

* A **training checkpoint** holds the model, its EMA, the optimizer state, the step and the
  whole training config; resuming from it continues the same run.
* A **model file** holds only the (EMA) weights and the model config: ``load_model(path)``
  rebuilds the network with nothing else. Its metadata also says what the model is, a
  ``ModelDescriptor`` (its task, restorator, trained scales and noise, the conditions it
  reads): ``describe(path)`` reads it without loading the weights. Files saved before
  descriptors were written have theirs derived from their model card's training config.
Both are written atomically (temporary file, flushed, then renamed) and carry a sha256 of
their tensors, checked on load: a truncated or corrupted file is a clear error.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .atomic import atomic_write
from .config import RESTORATORS, DataConfig, ModelConfig, TrainConfig
from .models import FranNet

MODEL_FORMAT = "frannet-model-1"
TRAIN_FORMAT = "frannet-train-1"


class CheckpointError(ValueError):
    """A checkpoint or model file that cannot be used."""


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _atomic_save(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata={**metadata, "sha256": _digest(tensors)})


def _metadata(path: str | Path) -> dict[str, str]:
    """A frannet file's metadata, read from its header alone (the weights stay on disk)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file, truncated or corrupt ({exc})") from None
    if metadata.get("format") not in (MODEL_FORMAT, TRAIN_FORMAT):
        raise CheckpointError(f"{path}: not a frannet checkpoint (format {metadata.get('format')!r})")
    return metadata


def _read(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    metadata = _metadata(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file, truncated or corrupt ({exc})") from None
    if "sha256" in metadata and _digest(tensors) != metadata["sha256"]:
        raise CheckpointError(f"{path}: corrupt (its contents do not match the sha256 recorded in it)")
    return tensors, metadata


def _model_config(path: str | Path, metadata: dict[str, str]) -> ModelConfig:
    try:
        return ModelConfig.from_dict(json.loads(metadata["model"]))
    except (KeyError, json.JSONDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: model config missing or invalid ({exc})") from None


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


# What a model is --------------------------------------------------------------------------------

TASKS = ("upscale", "denoise", "colorize")
CONDITIONS = ("scale", "noise", "gray", "jpeg")  # the condition row's parts a model may read
TASK_NOUNS = {"upscale": "upscaling", "denoise": "denoising", "colorize": "colorizing"}


def _pair(value, name: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not (0 <= lo <= hi):
        raise ValueError(f"{name} must be [low, high] with 0 <= low <= high, got {list(value)}")
    return lo, hi


@dataclass(frozen=True)
class ModelDescriptor:
    """What a model is, as its file says (in the manner of a spandrel descriptor), read without
    loading its weights: the pipeline routes a model to the stage of its ``task`` and checks the
    rest against the job before anything runs.

    ``task``: "upscale", "denoise" or "colorize". ``restorator``: the model config's ("single",
    "autoregressive" or "diffusion"). ``scales`` and ``noise``: the ranges (low, high) it was
    trained on, of the output/input factor and of the noise sigma (0-255 scale); outside them it
    extrapolates. ``conditions``: what it reads of the condition row, "scale" always and, for a
    tunable model, "noise" and "gray", for a JPEG-aware one "jpeg" (a model refuses what it does not read).
    ``declared``: written in the file; False when derived from an older file's card or config."""

    task: str
    restorator: str
    scales: tuple[float, float]
    noise: tuple[float, float]
    conditions: tuple[str, ...]
    declared: bool = True

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.restorator not in RESTORATORS:
            raise ValueError(f"restorator must be one of {', '.join(RESTORATORS)}, got {self.restorator!r}")
        object.__setattr__(self, "scales", _pair(self.scales, "scales"))
        object.__setattr__(self, "noise", _pair(self.noise, "noise"))
        object.__setattr__(self, "conditions", tuple(self.conditions))
        if "scale" not in self.conditions or not set(self.conditions) <= set(CONDITIONS):
            raise ValueError(f"conditions must include scale and be among {', '.join(CONDITIONS)}, "
                             f"got {list(self.conditions)}")

    def to_json(self) -> str:
        fields = asdict(self)
        del fields["declared"]
        return json.dumps(fields, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelDescriptor":
        fields = json.loads(text)
        if not isinstance(fields, dict):
            raise ValueError("expected a JSON object")
        return cls(**fields)

    def summary(self) -> str:
        """One line: 'upscale, single-step, trained at x1-4, noise 0, reads scale'."""
        kind = "single-step" if self.restorator == "single" else self.restorator
        span = lambda lo, hi: f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"  # noqa: E731
        return (f"{self.task}, {kind}, trained at x{span(*self.scales)}, noise {span(*self.noise)}, "
                f"reads {', '.join(self.conditions)}" + ("" if self.declared else " (derived from its card)"))


def _conditions(cfg: ModelConfig) -> tuple[str, ...]:
    told = {"noise": cfg.tunable, "gray": cfg.tunable, "jpeg": cfg.jpeg}
    return ("scale",) + tuple(part for part, read in told.items() if read)


def derive_descriptor(cfg: ModelConfig, train: dict | None = None, task: str | None = None) -> ModelDescriptor | None:
    """The descriptor of a model of ``cfg``: its ``task`` as given, else from the training config
    ``train`` (a dict, as in a model card: ``data.gray_input`` > 0 colorizes; ``data.max_scale``
    <= 1 with noise denoises; else it upscales), else "upscale" for a plain model (the only task
    it can do). None when nothing says: a tunable model without a training config. The ranges
    come from the training config, else from the model config."""
    data = train.get("data") if isinstance(train, dict) else None
    if isinstance(data, dict):
        get = lambda name: data.get(name, getattr(DataConfig, name))  # noqa: E731  (older cards lack newer keys)
        scales, noise = (get("min_scale"), get("max_scale")), tuple(get("noise"))
        derived = ("colorize" if get("gray_input") > 0 else
                   "denoise" if get("max_scale") <= 1 and noise[1] > 0 else "upscale")
    else:
        derived = None if cfg.tunable else "upscale"
        scales = (1.0, cfg.max_scale) if (task or derived) == "upscale" else (1.0, 1.0)
        noise = (0.0, cfg.max_noise) if cfg.tunable else (0.0, 0.0)
    task = task or derived
    if task is None:
        return None
    return ModelDescriptor(task=task, restorator=cfg.restorator, scales=scales, noise=noise,
                           conditions=_conditions(cfg))


def _misfit(descriptor: ModelDescriptor, cfg: ModelConfig) -> str | None:
    """Why a descriptor cannot describe a model of ``cfg`` (None: it can)."""
    if descriptor.restorator != cfg.restorator:
        return f"it says restorator {descriptor.restorator}, but its model config says {cfg.restorator}"
    if descriptor.conditions != _conditions(cfg):
        return f"it says the model reads {', '.join(descriptor.conditions)}, but its model config " \
               f"(tunable = {str(cfg.tunable).lower()}) reads {', '.join(_conditions(cfg))}"
    if descriptor.task != "upscale" and not cfg.tunable:
        return f"a plain model (tunable = false) reads no noise level or gray flag, so it cannot {descriptor.task}"
    return None


def describe(path: str | Path) -> ModelDescriptor:
    """What the model in a model file or training checkpoint is, from its header alone: the
    descriptor written in it, or for a file saved before descriptors, derived from its card's
    (or checkpoint's) training config, or from a plain model's config. A file that says nothing
    derivable is a one-line CheckpointError saying to re-export it."""
    metadata = _metadata(path)
    cfg = _model_config(path, metadata)
    if "descriptor" in metadata:
        try:
            descriptor = ModelDescriptor.from_json(metadata["descriptor"])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: its descriptor is invalid ({exc})") from None
        problem = _misfit(descriptor, cfg)
        if problem:
            raise CheckpointError(f"{path}: its descriptor does not fit its model: {problem}")
        return descriptor
    try:
        if metadata["format"] == TRAIN_FORMAT:
            train = json.loads(metadata.get("config", "{}"))
        else:
            train = json.loads(metadata.get("card", "{}")).get("train_config")
    except (json.JSONDecodeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: its card is not valid JSON ({exc})") from None
    try:
        descriptor = derive_descriptor(cfg, train)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its card's training config cannot say what the model is ({exc})") from None
    if descriptor is None:
        raise CheckpointError(f"{path}: the file does not say which task its model does (a tunable model with no "
                              f"training config in its card): re-export it with frannet export --task")
    return replace(descriptor, declared=False)


def save_model(path: str | Path, model: FranNet, card: dict | None = None, half: bool = False,
               task: str | ModelDescriptor | None = None) -> ModelDescriptor:
    """Write a model file: the weights (float16 with ``half``), the model config, the ``card`` and
    the model's descriptor: ``task`` itself if it is one, else derived (``derive_descriptor``)
    from the task named, the card's ``train_config`` or the model config. A tunable model with
    none of them is a ValueError: it could denoise or colorize, and the file must say which.
    Returns the descriptor written."""
    descriptor = task if isinstance(task, ModelDescriptor) else \
        derive_descriptor(model.cfg, (card or {}).get("train_config"), task)
    if descriptor is None:
        raise ValueError("a tunable model may denoise or colorize: say which with task='denoise' or "
                         "task='colorize' (or give a card with its train_config)")
    problem = _misfit(descriptor, model.cfg)
    if problem:
        raise ValueError(f"the descriptor does not fit the model: {problem}")
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    meta = {"format": MODEL_FORMAT, "model": json.dumps(model.cfg.__dict__, sort_keys=True),
            "card": json.dumps(card or {}, sort_keys=True), "descriptor": descriptor.to_json()}
    _atomic_save(state, Path(path), meta)
    return descriptor


def save_training(path: str | Path, model: FranNet, ema: FranNet, optimizer: torch.optim.Optimizer,
                  step: int, config: TrainConfig) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    opt = optimizer.state_dict()
    for idx, slots in opt["state"].items():
        for name, value in slots.items():
            tensors[f"optim.{idx}.{name}"] = torch.as_tensor(value)
    meta = {"format": TRAIN_FORMAT, "config": config.to_json(), "step": str(step),
            "model": json.dumps(config.model.__dict__, sort_keys=True),
            "optim_groups": json.dumps(opt["param_groups"])}
    _atomic_save(tensors, Path(path), meta)


def load_training(path: str | Path) -> dict:
    """{'config', 'step', 'model', 'ema', 'optimizer'} from a training checkpoint."""
    tensors, meta = _read(path)
    if meta["format"] != TRAIN_FORMAT:
        raise CheckpointError(f"{path}: a model file, not a training checkpoint; it cannot be resumed")
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in _prefixed(tensors, "optim.").items():
        idx, name = key.split(".", 1)
        slots.setdefault(int(idx), {})[name] = value
    return {
        "config": TrainConfig.from_dict(json.loads(meta["config"])),
        "step": int(meta["step"]),
        "model": _prefixed(tensors, "model."),
        "ema": _prefixed(tensors, "ema."),
        "optimizer": {"state": dict(sorted(slots.items())), "param_groups": json.loads(meta["optim_groups"])},
    }


def load_model(path: str | Path) -> FranNet:
    """Rebuild a FranNet in eval mode from a model file or a training checkpoint (its EMA)."""
    tensors, meta = _read(path)
    cfg = _model_config(path, meta)
    state = tensors if meta["format"] == MODEL_FORMAT else _prefixed(tensors, "ema.")
    model = FranNet(cfg)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the model config ({exc})") from None
    return model.eval()


def model_card(path: str | Path) -> dict:
    _, meta = _read(path)
    return json.loads(meta.get("card", "{}"))


def interpolate_models(a: str | Path, b: str | Path, alpha: float) -> FranNet:
    """Deep network interpolation (DNI): every parameter (1 - alpha) * A + alpha * B.

    A and B must share one architecture (the same model config) and one task, e.g. two
    fine-tunings of one model; ``blend_descriptor`` describes the blend. alpha = 0 and 1 give
    A and B exactly.
    """
    if not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    model_a, model_b = load_model(a), load_model(b)
    if model_a.cfg != model_b.cfg:
        fa, fb = model_a.cfg.__dict__, model_b.cfg.__dict__
        diff = ", ".join(f"{k} ({fa[k]} vs {fb[k]})" for k in fa if fa[k] != fb[k])
        raise CheckpointError(f"cannot interpolate {a} and {b}: their architectures differ in {diff}")
    blend_descriptor(a, b)  # refuses two tasks
    state_b = model_b.state_dict()
    with torch.no_grad():
        for name, value in model_a.state_dict().items():
            if value.is_floating_point():
                value.copy_(torch.lerp(value, state_b[name], alpha))  # exact at alpha = 0 and 1
    return model_a


def blend_descriptor(a: str | Path, b: str | Path) -> ModelDescriptor:
    """The descriptor of a blend of the models in files A and B: their shared task, trained on the
    span of both their ranges. Models of two tasks are a CheckpointError."""
    da, db = describe(a), describe(b)
    if da.task != db.task:
        raise CheckpointError(f"cannot interpolate {a} and {b}: one is a {TASK_NOUNS[da.task]} model, the other a "
                              f"{TASK_NOUNS[db.task]} one (a blend mixes two models of one task)")
    span = lambda x, y: (min(x[0], y[0]), max(x[1], y[1]))  # noqa: E731
    return ModelDescriptor(task=da.task, restorator=da.restorator, scales=span(da.scales, db.scales),
                           noise=span(da.noise, db.noise), conditions=da.conditions)
