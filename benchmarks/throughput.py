"""Throughput with 1 and 2 processes on this machine: training samples/s and batch-restore images/s.

    python benchmarks/throughput.py [--config configs/sr.toml] [--json OUT]

Training runs the given config for a few steps (validation off) once as a single process and
once under ``torchrun --nproc-per-node 2``; the rate is taken between the log records at steps
10 and 20, so start-up is excluded. Batch restore upscales a folder of copies of the bundled
sample (x2) with 1 and 2 processes; its rate includes start-up, as a user would see it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from frannet.api import SAMPLE_IMAGE
from frannet.config import TrainConfig

STEPS = 20
RESTORE_IMAGES = 16


def _launcher(procs: int) -> list[str]:
    if procs == 1:
        return [sys.executable, "-m", "frannet"]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(procs), "-m", "frannet"]


def _env(procs: int) -> dict:
    threads = max(1, (os.cpu_count() or 1) // procs)
    return {**os.environ, "OMP_NUM_THREADS": str(threads)}


def train_rate(config: Path, procs: int, tmp: Path) -> float:
    cfg = json.loads(TrainConfig.load(config).to_json())
    out = tmp / f"train{procs}"
    cfg.update(out_dir=str(out), steps=STEPS, val_every=10**9, ckpt_every=10**9)
    cfg["data"]["val"] = []
    toml = tmp / f"train{procs}.toml"
    toml.write_text(_to_toml(cfg))
    subprocess.run(_launcher(procs) + ["train", str(toml), "--quiet"], check=True, env=_env(procs),
                   stdout=subprocess.DEVNULL)
    log = {r["step"]: r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())}
    return 10 * cfg["batch"] / (log[20]["elapsed"] - log[10]["elapsed"])


def restore_rate(procs: int, tmp: Path) -> float:
    src = tmp / "restore_in"
    if not src.exists():
        src.mkdir()
        for i in range(RESTORE_IMAGES):
            shutil.copy(SAMPLE_IMAGE, src / f"{i:02d}.png")
    out = tmp / f"restore_out{procs}"
    start = time.perf_counter()
    subprocess.run(_launcher(procs) + ["restore", str(src), "-o", str(out), "--scale", "2", "--quiet"], check=True,
                   env=_env(procs), stdout=subprocess.DEVNULL)
    return RESTORE_IMAGES / (time.perf_counter() - start)


def _to_toml(cfg: dict) -> str:
    def value(v):
        return json.dumps(list(v)) if isinstance(v, (list, tuple)) else json.dumps(v)

    top = [f"{k} = {value(v)}" for k, v in cfg.items() if not isinstance(v, dict)]
    tables = [f"[{k}]\n" + "\n".join(f"{kk} = {value(vv)}" for kk, vv in v.items())
              for k, v in cfg.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n" + "\n".join(tables) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/sr.toml")
    parser.add_argument("--json")
    args = parser.parse_args()
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for procs in (1, 2):
            result[f"train_samples_per_s_{procs}proc"] = train_rate(Path(args.config), procs, Path(tmp))
            result[f"restore_images_per_s_{procs}proc"] = restore_rate(procs, Path(tmp))
    for key, v in result.items():
        print(f"{key:32s} {v:8.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
