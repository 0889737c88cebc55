"""Killing training (kill -9), even mid-write, loses nothing: resuming reproduces the straight run."""

import os
import signal
import subprocess
import sys
import time

import torch

from frannet.checkpoint import load_training
from frannet.config import TrainConfig
from frannet.train import latest_checkpoint, train


def _config(path, root, out, steps):
    path.write_text("\n".join([
        f'out_dir = "{out}"', f"steps = {steps}", "batch = 2", "warmup = 1", "val_every = 1000",
        "ckpt_every = 5", "keep = 2",
        "[model]", "channels = 8", "blocks = 1", "coarse_blocks = 1", "latent = 8", "hidden = 16",
        "decoder_layers = 2",
        "[data]", f'train = ["{root / "train"}"]', "val = []", "patch = 12", "target_points = 32",
    ]) + "\n")
    return path


def _start(cfg):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "frannet", "train", str(cfg), "--resume", "auto", "--quiet"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_after_checkpoint(cfg, out, newer_than: int) -> None:
    proc = _start(cfg)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        ckpts = sorted(out.glob("ckpt_*.safetensors"))
        if ckpts and int(ckpts[-1].stem.split("_")[1]) > newer_than:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_kill_minus_nine_then_resume_matches_straight_run(image_folder, tmp_path):
    steps = 60
    straight = train(TrainConfig.load(_config(tmp_path / "a.toml", image_folder, tmp_path / "a", steps)),
                     progress=False)
    out = tmp_path / "b"
    cfg = _config(tmp_path / "b.toml", image_folder, out, steps)
    _kill_after_checkpoint(cfg, out, 0)
    first = latest_checkpoint(out)
    assert first is not None and load_training(first)["step"] < steps
    _kill_after_checkpoint(cfg, out, load_training(first)["step"])
    # a kill during a checkpoint write leaves at most a temporary file, never a bad checkpoint
    (out / ".ckpt_9999999.safetensors.x.part").write_bytes(b"half written")
    done = subprocess.run([sys.executable, "-m", "frannet", "train", str(cfg), "--resume", "auto", "--quiet"],
                          capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = load_training(straight), load_training(latest_checkpoint(out))
    assert b["step"] == steps
    for part in ("model", "ema"):
        for k in a[part]:
            torch.testing.assert_close(a[part][k], b[part][k], rtol=0, atol=1e-6)


def test_resume_falls_back_past_a_corrupt_checkpoint(image_folder, tmp_path, capsys):
    out = tmp_path / "c"
    cfg = TrainConfig.load(_config(tmp_path / "c.toml", image_folder, out, 10))
    train(cfg, progress=False)
    newest = sorted(out.glob("ckpt_*.safetensors"))[-1]
    newest.write_bytes(newest.read_bytes()[:-100])  # truncated, as by a full disk
    good = latest_checkpoint(out)
    assert good is not None and good != newest and load_training(good)["step"] == 5
    assert "truncated or corrupt" in capsys.readouterr().err


def test_killed_batch_restore_finishes_on_rerun(tmp_path, photo, model_path):
    from PIL import Image

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    big = Image.open(photo).resize((120, 110))
    for i in range(12):
        big.save(src / f"{i:02d}.png")
    cmd = [sys.executable, "-m", "frannet", "restore", str(src), "-o", str(out), "--scale", "3",
           "--model", str(model_path), "--skip-existing", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and len(list(out.glob("*.png"))) < 2:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob("*.png")))
    assert done_before < 12
    (out / ".05.png.abc.part").write_bytes(b"half")  # as a kill mid-write leaves behind
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"skipped {done_before}" in rerun.stdout or done_before == 0
    outputs = sorted(out.iterdir())
    assert [p.name for p in outputs] == [f"{i:02d}.png" for i in range(12)]  # no temporary files left
    for p in outputs:
        with Image.open(p) as img:
            img.load()  # complete, decodable
            assert img.size == (360, 330)


def test_atomic_writes_get_ordinary_permissions(tmp_path, model):
    from frannet.checkpoint import save_model

    path = tmp_path / "m.safetensors"
    save_model(path, model)
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
