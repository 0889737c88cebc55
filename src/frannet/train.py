"""Training loop for FranNet super-resolution; reads top to bottom.

Every model regresses its interpolant's target (``objectives``): a single-step model the target
colours, an iterative one (autoregressive, diffusion) its path's target at a random time per point.

    frannet train CONFIG.toml [--resume CKPT|DIR|auto]
    torchrun --nproc-per-node N -m frannet train CONFIG.toml --resume auto

Under torchrun each rank computes its share of every global batch (gradients are averaged by
DistributedDataParallel), so N processes follow the same trajectory as one. Rank 0 alone logs,
validates and writes checkpoints.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .checkpoint import CheckpointError, load_model, load_training, save_training
from .config import ConfigError, TrainConfig
from .data import load_images, training_batch, training_images
from .degradations import validation_degradations
from .distributed import Distributed
from .evaluate import validate
from .models import FranNet
from .models.encoder import deepen
from .objectives import loss as objective


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
    """The newest checkpoint in ``folder`` that loads and passes its hash check."""
    for path in sorted(folder.glob("ckpt_*.safetensors"), reverse=True):
        try:
            load_training(path)
            return path
        except CheckpointError as exc:
            print(f"frannet: skipping {exc}", file=sys.stderr)
    return None


def _compatible(saved: TrainConfig, cfg: TrainConfig) -> None:
    """Resuming may extend or re-schedule bookkeeping, not change what is learned."""
    free = {"steps", "val_every", "ckpt_every", "keep", "out_dir", "threads", "micro_batch", "init", "bf16"}
    a, b = json.loads(saved.to_json()), json.loads(cfg.to_json())
    changed = sorted(k for k in a if k not in free and a[k] != b[k])
    if changed:
        raise ConfigError(f"cannot resume: the config differs from the checkpoint's in {', '.join(changed)}")


def _resume_path(resume: str | Path | None, out: Path) -> Path | None:
    """'auto': the newest good checkpoint in out_dir, if any; a folder: its newest good one."""
    if resume is None:
        return None
    if str(resume) == "auto":
        return latest_checkpoint(out) if out.is_dir() else None
    resume = Path(resume)
    if resume.is_dir():
        found = latest_checkpoint(resume)
        if found is None:
            raise CheckpointError(f"{resume}: no usable checkpoint to resume from")
        return found
    return resume


def _start_from(model: FranNet, trained: FranNet, cfg: TrainConfig) -> None:
    """Copy ``trained``'s weights; an iterative model may start from a single-step one of the same
    architecture (its new input layer for x_t and t keeps its fresh initialisation), a model may
    start from one with fewer trunk blocks (the extra blocks start as the identity), and a tunable
    or JPEG-aware model from one told less (its modulation starts as the identity, and the decoder
    reads the new condition entries with zero weights), and a model conditioned on a wider scale
    range from a narrower one (the log-scale entries, log s / log max_scale, are read with weights
    grown by the ratio of the logs): each computes what the trained one did, within its range."""
    own = {f: getattr(cfg.model, f) for f in ("restorator", "target", "schedule", "schedule_steps", "residual_scale")}
    deeper = trained.cfg.blocks < cfg.model.blocks
    if deeper:
        own["blocks"] = cfg.model.blocks
    wider = trained.cfg.max_scale < cfg.model.max_scale
    if wider:
        own["max_scale"] = cfg.model.max_scale
    told_more = (trained.cfg.tunable, trained.cfg.jpeg) != (cfg.model.tunable, cfg.model.jpeg)
    if told_more:
        if (trained.cfg.tunable and not cfg.model.tunable) or (trained.cfg.jpeg and not cfg.model.jpeg):
            raise ConfigError(f"init {cfg.init}: a model cannot be told less about its inputs than it was")
        own.update(tunable=cfg.model.tunable, jpeg=cfg.model.jpeg)
    if dataclasses.replace(trained.cfg, **own) != cfg.model:
        raise ConfigError(f"init {cfg.init}: its model config differs from this config's [model]")
    state = trained.state_dict()
    if deeper:  # the deeper encoder's keys include all of the shallower one's
        state.update({f"encoder.{k}": v for k, v in deepen(trained.encoder, model.encoder).items()})
    if told_more:  # the condition's new entries come last: zero weights read them
        own_state = model.state_dict()
        for key in ("decoder.image.weight", "encoder.modulation.net.0.weight"):
            if key in state and state[key].shape != own_state[key].shape:
                wide = torch.zeros_like(own_state[key])
                wide[:, :state[key].shape[1]] = state[key]
                state[key] = wide
    if wider:  # columns 2 and 3 of the condition (after the latent, for the decoder) are log sx, log sy
        grow = math.log(max(cfg.model.max_scale, 2.0)) / math.log(max(trained.cfg.max_scale, 2.0))
        for key, first in (("decoder.image.weight", cfg.model.latent), ("encoder.modulation.net.0.weight", 0)):
            if key in state:
                state[key] = state[key].clone()
                state[key][:, first + 2:first + 4] *= grow
    missing, unexpected = model.load_state_dict(state, strict=False)
    allowed = ("decoder.state.", "encoder.modulation.") if told_more else ("decoder.state.",)
    if unexpected or any(not k.startswith(allowed) for k in missing):
        raise ConfigError(f"init {cfg.init}: a {trained.cfg.restorator} model cannot start a "
                          f"{cfg.model.restorator} one")


def _micro_batches(indices: range, size: int) -> list[range]:
    size = size or len(indices)
    return [indices[i:i + size] for i in range(0, len(indices), size)]


def train(cfg: TrainConfig, resume: str | Path | None = None, progress: bool = True,
          until: int | None = None) -> Path | None:
    """Run (or continue) training; returns the last checkpoint's path (on rank 0).

    ``resume`` is a checkpoint, a folder of them or 'auto' (out_dir's newest, else a fresh
    start). ``until`` stops after that step, as an interruption would (the schedule still
    spans ``cfg.steps``); a checkpoint is written there.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dist = Distributed.from_env()
    if cfg.batch % dist.world:
        raise ConfigError(f"batch {cfg.batch} does not split evenly over {dist.world} processes")
    out = Path(cfg.out_dir)
    torch.manual_seed(cfg.seed)
    model = FranNet(cfg.model).to(dist.device)
    if cfg.freeze_encoder:  # the decoder alone learns; the encoders keep init's (or the checkpoint's) weights
        model.encoder.requires_grad_(False)
        if model.global_encoder is not None:
            model.global_encoder.requires_grad_(False)
    ema = copy.deepcopy(model).requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    start_from = _resume_path(resume, out)
    if start_from is None and cfg.init:  # a new phase from trained weights (an EMA, if a checkpoint)
        _start_from(model, load_model(cfg.init), cfg)
        ema.load_state_dict(model.state_dict())
    if start_from is not None:
        state = load_training(start_from)
        _compatible(state["config"], cfg)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
    net = DistributedDataParallel(model) if dist.world > 1 else model

    images = training_images(cfg.data)
    val_images = load_images(cfg.data.val) if cfg.data.val and dist.is_main else []
    share = cfg.batch // dist.world
    mine = range(dist.rank * share, (dist.rank + 1) * share)  # this rank's examples of each batch
    log = None
    if dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(cfg.to_json())
        log = (out / "log.jsonl").open("a")
    bar = tqdm(total=cfg.steps, initial=step, disable=not (progress and dist.is_main), desc="train", unit="it",
               dynamic_ncols=True)
    last = latest_checkpoint(out) if dist.is_main and out.is_dir() else None
    stop = cfg.steps if until is None else min(until, cfg.steps)
    started = time.time()
    while step < stop:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        optimizer.zero_grad(set_to_none=True)
        loss_sum = 0.0
        micro = _micro_batches(mine, cfg.micro_batch)
        for i, part in enumerate(micro):
            batch = training_batch(images, cfg.data, cfg.seed, step, part).to(dist.device)
            with dist.no_sync(net, skip=i < len(micro) - 1):  # all-reduce once, after the last part
                with torch.autocast(dist.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                    loss = objective(net, batch, norm=cfg.loss) * (len(part) / share)
                loss.backward()
            loss_sum += loss.item()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
        optimizer.step()
        update_ema(ema, model, cfg.ema, step)
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss_sum:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.1e}")
        if not dist.is_main:
            continue
        record = {"step": step, "loss": loss_sum, "elapsed": round(time.time() - started, 1)}
        if step % cfg.ckpt_every == 0 or step == stop:
            last = out / f"ckpt_{step:07d}.safetensors"
            save_training(last, model, ema, optimizer, step, cfg)
            for old in sorted(out.glob("ckpt_*.safetensors"))[: -cfg.keep]:
                old.unlink()
        if val_images and (step % cfg.val_every == 0 or step == cfg.steps):
            record["val"] = validate(ema, val_images, validation_degradations(cfg.data), crop=cfg.data.val_crop)
            bar.write(f"step {step}: " + "  ".join(f"{k}: {v['model']:.2f} dB (baseline {v['bicubic']:.2f})"
                                                   for k, v in record["val"].items()))
        if step % 10 == 0 or "val" in record:
            log.write(json.dumps(record) + "\n")
            log.flush()
    bar.close()
    if log is not None:
        log.close()
    dist.close()
    return last
