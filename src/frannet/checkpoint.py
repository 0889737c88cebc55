"""Checkpoints and model files, in safetensors only (no pickle is ever loaded).

* A **training checkpoint** holds the model, its EMA, the optimizer state, the step and the
  whole training config; resuming from it continues the same run.
* A **model file** holds only the (EMA) weights and the model config: ``load_model(path)``
  rebuilds the network with nothing else.
Both are written atomically (temporary file, flushed, then renamed) and carry a sha256 of
their tensors, checked on load: a truncated or corrupted file is a clear error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .atomic import atomic_write
from .config import ModelConfig, TrainConfig
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


def _read(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file, truncated or corrupt ({exc})") from None
    if metadata.get("format") not in (MODEL_FORMAT, TRAIN_FORMAT):
        raise CheckpointError(f"{path}: not a frannet checkpoint (format {metadata.get('format')!r})")
    if "sha256" in metadata and _digest(tensors) != metadata["sha256"]:
        raise CheckpointError(f"{path}: corrupt (its contents do not match the sha256 recorded in it)")
    return tensors, metadata


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def save_model(path: str | Path, model: FranNet, card: dict | None = None, half: bool = False) -> None:
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    meta = {"format": MODEL_FORMAT, "model": json.dumps(model.cfg.__dict__, sort_keys=True),
            "card": json.dumps(card or {}, sort_keys=True)}
    _atomic_save(state, Path(path), meta)


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
    try:
        cfg = ModelConfig.from_dict(json.loads(meta["model"]))
    except (KeyError, json.JSONDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: model config missing or invalid ({exc})") from None
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

    A and B must share one architecture (the same model config), e.g. two fine-tunings of one
    model. alpha = 0 and 1 give A and B exactly.
    """
    if not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    model_a, model_b = load_model(a), load_model(b)
    if model_a.cfg != model_b.cfg:
        fa, fb = model_a.cfg.__dict__, model_b.cfg.__dict__
        diff = ", ".join(f"{k} ({fa[k]} vs {fb[k]})" for k in fa if fa[k] != fb[k])
        raise CheckpointError(f"cannot interpolate {a} and {b}: their architectures differ in {diff}")
    state_b = model_b.state_dict()
    with torch.no_grad():
        for name, value in model_a.state_dict().items():
            if value.is_floating_point():
                value.copy_(torch.lerp(value, state_b[name], alpha))  # exact at alpha = 0 and 1
    return model_a
