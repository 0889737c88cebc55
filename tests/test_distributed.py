"""DDP with two gloo processes follows the same trajectory as one process."""

import os
import subprocess
import sys

import pytest
import torch

from frannet.checkpoint import load_training
from frannet.config import TrainConfig
from frannet.train import train


def _write_config(path, root, out, **extra):
    lines = [f'out_dir = "{out}"', "steps = 3", "batch = 4", "warmup = 1", "val_every = 100", "ckpt_every = 3",
             *(f"{k} = {v}" for k, v in extra.items()),
             "[model]", "channels = 8", "blocks = 1", "coarse_blocks = 1", "latent = 8", "hidden = 16",
             "decoder_layers = 2",
             "[data]", f'train = ["{root / "train"}"]', "val = []", "patch = 12", "target_points = 32"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _weights(ckpt):
    return load_training(ckpt)["model"]


def test_two_gloo_processes_match_one(image_folder, tmp_path):
    single = train(TrainConfig.load(_write_config(tmp_path / "one.toml", image_folder, tmp_path / "one")),
                   progress=False)
    cfg = _write_config(tmp_path / "two.toml", image_folder, tmp_path / "two")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "--master-port", "29613", "-m", "frannet", "train", str(cfg), "--quiet"],
                         capture_output=True, text=True, env=env, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    a, b = _weights(single), _weights(tmp_path / "two" / "ckpt_0000003.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("micro", [1, 3])
def test_gradient_accumulation_matches_one_pass(image_folder, tmp_path, micro):
    whole = train(TrainConfig.load(_write_config(tmp_path / "a.toml", image_folder, tmp_path / "a")),
                  progress=False)
    parts = train(TrainConfig.load(_write_config(tmp_path / "b.toml", image_folder, tmp_path / "b",
                                                 micro_batch=micro)), progress=False)
    a, b = _weights(whole), _weights(parts)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-5, rtol=1e-4)
