"""Training loop for FranNet super-resolution; reads top to bottom.

    frannet train CONFIG.toml [--resume CKPT]
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from .checkpoint import load_training, save_training
from .config import ConfigError, TrainConfig
from .data import load_images, sample_batch, step_generator
from .evaluate import validate
from .models import FranNet


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay from lr to min_lr over the run."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(1.0, t)))


@torch.no_grad()
def update_ema(ema: FranNet, model: FranNet, decay: float, step: int) -> None:
    decay = min(decay, (1 + step) / (10 + step))  # short memory while the weights move fast
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1.0 - decay)


def latest_checkpoint(folder: Path) -> Path | None:
    ckpts = sorted(folder.glob("ckpt_*.safetensors"))
    return ckpts[-1] if ckpts else None


def _compatible(saved: TrainConfig, cfg: TrainConfig) -> None:
    """Resuming may extend or re-schedule bookkeeping, not change what is learned."""
    free = {"steps", "val_every", "ckpt_every", "keep", "out_dir", "threads"}
    a, b = json.loads(saved.to_json()), json.loads(cfg.to_json())
    changed = sorted(k for k in a if k not in free and a[k] != b[k])
    if changed:
        raise ConfigError(f"cannot resume: the config differs from the checkpoint's in {', '.join(changed)}")


def train(cfg: TrainConfig, resume: str | Path | None = None, progress: bool = True,
          until: int | None = None) -> Path:
    """Run (or continue) training; returns the last checkpoint's path.

    ``until`` stops after that step, as an interruption would (the schedule still spans
    ``cfg.steps``); a checkpoint is written there.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    model = FranNet(cfg.model)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    if resume is not None:
        resume = Path(resume)
        if resume.is_dir():
            resume = latest_checkpoint(resume) or resume
        state = load_training(resume)
        _compatible(state["config"], cfg)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]

    images = load_images(cfg.data.train, min_side=math.ceil(cfg.data.patch * cfg.data.max_scale))
    val_images = load_images(cfg.data.val) if cfg.data.val else []
    (out / "config.json").write_text(cfg.to_json())
    log = (out / "log.jsonl").open("a")
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc="train", unit="it", dynamic_ncols=True)
    last = latest_checkpoint(out)
    started = time.time()
    stop = cfg.steps if until is None else min(until, cfg.steps)
    while step < stop:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        batch = sample_batch(images, cfg.data, cfg.batch, step_generator(cfg.seed, step))
        pred = model(batch.lr, batch.scale, batch.points)
        loss = (pred - batch.target).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        update_ema(ema, model, cfg.ema, step)
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{optimizer.param_groups[0]['lr']:.1e}")
        record = {"step": step, "loss": loss.item(), "elapsed": round(time.time() - started, 1)}
        if step % cfg.ckpt_every == 0 or step == stop:
            last = out / f"ckpt_{step:07d}.safetensors"
            save_training(last, model, ema, optimizer, step, cfg)
            for old in sorted(out.glob("ckpt_*.safetensors"))[: -cfg.keep]:
                old.unlink()
        if val_images and (step % cfg.val_every == 0 or step == cfg.steps):
            record["val"] = validate(ema, val_images, cfg.data.val_scales, cfg.data.val_crop)
            bar.write(f"step {step}: " + "  ".join(f"x{s}: {v['model']:.2f} dB (bicubic {v['bicubic']:.2f})"
                                                   for s, v in record["val"].items()))
        if step % 10 == 0 or "val" in record:
            log.write(json.dumps(record) + "\n")
            log.flush()
    bar.close()
    log.close()
    return last
