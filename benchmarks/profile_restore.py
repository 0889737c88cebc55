"""Where the time of a restoration goes, part by part, with each part's achieved GFLOP/s.

    OMP_NUM_THREADS=1 python benchmarks/profile_restore.py [--size 512] [--tasks x2 x4 x8 denoise25]
        [--repeats 3] [--threads 1] [--json OUT]

For each task (``xS``: upscale a ``size``-square crop of the bundled sample photo S times with
frannet-sr; ``denoiseN``: remove noise of sigma N with frannet-denoise at the input size) the
parts are timed inside one ``render_tiled`` run (what ``frannet restore`` and ``frannet.upscale``
run), the best of ``--repeats`` runs per part, in CPU seconds of the thread (``now``):

  encoder      the CNN encoder and the global latent, per tile (``model.encode`` less the projection)
  project      the decoder's 1x1 projection of the maps to its width (``decoder.prepare``)
  positions    output pixel positions of each chunk (``Tile.points``; ``Tile.axes`` for the grid decode)
  coords       the first layer's coordinate term (Fourier features and their linear layer; in the
               grid decode only the per-axis Fourier features)
  sampling     bilinear sampling of the projected maps at every output pixel (the grid decode: its
               ``embedding_bag`` lookups)
  first-layer  the grid decode's own glue: row and column terms, tap offsets and weights, adds
  mlp          the decoder's hidden layers and head
  bicubic      the bicubic base the residual is added to
  tiling       the rest of ``render_tiled``: band assembly, chunk loop

``--path fast`` (the default) times ``render_tiled`` as it runs (``query_grid``), its functions
wrapped with timers; ``--path reference`` re-runs the per-point decode (``query_pixels``) part by
part. Either way the profiled output is checked against ``render_tiled``'s. The same run also times I/O (reading the input
PNG, writing the output PNG), ``frannet.upscale``/``frannet.denoise`` as a whole, the model load,
and in fresh processes ``python -c 'import frannet'`` and the CLI end to end. The machine's GEMM
rate (a 4096^3 float32 and bfloat16 matmul, and the decoder's own 128-wide layer) is the yardstick.
FLOPs count a multiply-add as two.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import frannet
from frannet import tiling
from frannet.api import SAMPLE_IMAGE
from frannet.checkpoint import load_model
from frannet.degradations import Degradation
from frannet.models.decoder import fourier_features
from frannet.models.lookup import bilinear_lookup
from frannet.pipeline import BUNDLED

PARTS = ("encoder", "project", "positions", "coords", "sampling", "first-layer", "mlp", "bicubic", "tiling")


def machine_gemm(repeats: int = 3) -> dict:
    """GFLOP/s of a 4096^3 matmul (float32 and bfloat16) and of a (4096 x 128) @ (128 x 128) one."""
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        for label, (m, k, n) in (("4096^3", (4096, 4096, 4096)), ("4096x128x128", (4096, 128, 128))):
            a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            loops = 1 if m * k * n > 1e9 else 200
            best = _best(lambda: [torch.mm(a, b) for _ in range(loops)], repeats)
            out[f"{name} {label}"] = 2 * m * k * n * loops / best / 1e9
    return out


def _best(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = now()
        fn()
        times.append(now() - start)
    return min(times)


def photo(size: int) -> torch.Tensor:
    img = Image.open(SAMPLE_IMAGE).convert("RGB").resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


def conv_flops(model, lr: torch.Tensor, degradation: torch.Tensor) -> float:
    """FLOPs of the encoder's convolutions and linear layers (and the global encoder's) on ``lr``."""
    total = [0.0]

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            total[0] += 2.0 * k * out.numel() / out.shape[0] * out.shape[0]
        elif isinstance(mod, torch.nn.Linear):
            total[0] += 2.0 * mod.in_features * out.numel()

    handles = [m.register_forward_hook(hook) for m in list(model.encoder.modules()) +
               (list(model.global_encoder.modules()) if model.global_encoder is not None else [])
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model.encoder(lr[None], torch.zeros(1, 6 if model.cfg.tunable else 4))
        if model.global_encoder is not None:
            model.global_encoder(lr[None])
    for h in handles:
        h.remove()
    return total[0]


class Clock:
    def __init__(self):
        self.seconds = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, part: str):
        start = now()
        yield
        self.seconds[part] += now() - start


def now() -> float:
    """CPU seconds of this thread: with one thread, the run's own work, not the time the core spent
    on other processes (this machine shares its cores with a training run)."""
    return time.thread_time()


class _TimedFunctional:
    """``torch.nn.functional`` for the decoder module, its ``embedding_bag`` timed as sampling."""

    def __init__(self, clock: Clock):
        self.clock = clock

    def embedding_bag(self, *args, **kwargs):
        with self.clock("sampling"):
            return F.embedding_bag(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(F, name)


def profiled_render(model, lr: torch.Tensor, size, noise: float, clock: Clock, chunk: int,
                    path: str = "fast") -> torch.Tensor:
    """``render_tiled`` with every part timed into ``clock``; returns its output. ``path`` "fast"
    times render_tiled's own grid decode (``query_grid``), its functions wrapped with timers;
    "reference" re-runs the per-point decode (``query_pixels``) part by part."""
    if path == "fast":
        return _profiled_fast(model, lr, size, noise, clock, chunk)
    dec = model.decoder
    real_encode, real_prepare, real_points = model.encode, dec.prepare, tiling.Tile.points

    def encode(*args, **kwargs):
        with clock("encoder"):
            return real_encode(*args, **kwargs)

    def prepare(*args, **kwargs):
        start = now()
        out = real_prepare(*args, **kwargs)
        clock.seconds["project"] += now() - start
        clock.seconds["encoder"] -= now() - start  # prepare runs inside encode
        return out

    def points(self, *args, **kwargs):
        with clock("positions"):
            return real_points(self, *args, **kwargs)

    def decode(enc, pos, pixels):
        with clock("bicubic"):
            base = model.base(enc, pos)
        with clock("coords"):
            h = enc.bias.unsqueeze(1) + dec.coords(fourier_features(pos, dec.cfg.fourier_bands).to(enc.bias.dtype))
        with clock("sampling"):
            for level, m in enumerate(enc.projected):
                h += bilinear_lookup(m, pos / (1 << level) - 0.5)
        with clock("mlp"):
            out = dec.mlp(F.relu_(h))
        with clock("tiling"):  # the add is the decode's own; counted with the glue
            return (base + out)[0]

    model.encode, dec.prepare, tiling.Tile.points = encode, prepare, points
    try:
        start = now()
        out = tiling.render_tiled(model, lr, size, degradation=Degradation(sigma=noise), decode=decode, chunk=chunk)
        total = now() - start
    finally:
        del model.encode, dec.prepare
        tiling.Tile.points = real_points
    # Project time was taken out of encoder; the calls' own overhead and the band writes are the rest.
    clock.seconds["tiling"] += total - sum(clock.seconds[p] for p in PARTS)
    clock.seconds["total"] = total
    return out


def _timed(clock: Clock, part: str, fn):
    def run(*args, **kwargs):
        with clock(part):
            return fn(*args, **kwargs)
    return run


def _profiled_fast(model, lr: torch.Tensor, size, noise: float, clock: Clock, chunk: int) -> torch.Tensor:
    """The grid decode's parts: coords (the per-axis Fourier features), sampling (the level
    lookups), first-layer (the rest of ``forward_grid``: row and column terms, taps, weights),
    mlp, bicubic; positions are ``Tile.axes``."""
    from frannet.models import decoder as decoder_module
    from frannet.models import frannet as frannet_module
    dec = model.decoder
    real = (model.encode, dec.prepare, tiling.Tile.axes, decoder_module.axis_fourier, decoder_module.F,
            frannet_module.bicubic_grid_lookup, dec.forward_grid)

    def prepare(*args, **kwargs):
        start = now()
        out = real[1](*args, **kwargs)
        clock.seconds["project"] += now() - start
        clock.seconds["encoder"] -= now() - start
        return out

    model.encode = _timed(clock, "encoder", real[0])
    dec.prepare = prepare
    tiling.Tile.axes = _timed(clock, "positions", real[2])
    decoder_module.axis_fourier = _timed(clock, "coords", real[3])
    decoder_module.F = _TimedFunctional(clock)
    frannet_module.bicubic_grid_lookup = _timed(clock, "bicubic", real[5])
    dec.run_mlp = _timed(clock, "mlp", dec.run_mlp)
    dec.forward_grid = _timed(clock, "first-layer", real[6])
    try:
        start = now()
        out = tiling.render_tiled(model, lr, size, degradation=Degradation(sigma=noise), chunk=chunk)
        total = now() - start
    finally:
        del model.encode, dec.prepare, dec.run_mlp, dec.forward_grid
        tiling.Tile.axes, decoder_module.axis_fourier, decoder_module.F = real[2], real[3], real[4]
        frannet_module.bicubic_grid_lookup = real[5]
    # forward_grid's time holds its coords, sampling and mlp: what is left is its own glue
    clock.seconds["first-layer"] -= clock.seconds["coords"] + clock.seconds["sampling"] + clock.seconds["mlp"]
    clock.seconds["tiling"] += total - sum(clock.seconds[p] for p in PARTS)
    clock.seconds["total"] = total
    return out


def profile_task(task: str, size: int, repeats: int, chunk: int, path: str = "fast") -> dict:
    if task.startswith("x"):
        scale, noise, model_path = float(task[1:]), 0.0, BUNDLED["upscale"]
    elif task.startswith("denoise"):
        scale, noise, model_path = 1.0, float(task[len("denoise"):]), BUNDLED["denoise"]
    else:
        raise ValueError(f"unknown task {task!r}")
    model = load_model(model_path)
    clean = photo(size)
    lr = clean
    if noise:
        gen = torch.Generator().manual_seed(0)
        lr = (clean + torch.randn(clean.shape, generator=gen) * noise / 255).clamp(0, 1)
        lr = (lr * 255).round() / 255
    out_size = (round(size * scale), round(size * scale))
    n = out_size[0] * out_size[1]
    runs = []
    for _ in range(repeats):
        clock = Clock()
        out = profiled_render(model, lr, out_size, noise, clock, chunk, path)
        runs.append(dict(clock.seconds))
    ref = tiling.render_tiled(model, lr, out_size, degradation=Degradation(sigma=noise), chunk=chunk)
    assert torch.allclose(out, ref, atol=1e-4), "the profiled decode drifted from the model's"
    best = {p: min(r[p] for r in runs) for p in (*PARTS, "total")}
    real = min(_best(lambda: tiling.render_tiled(model, lr, out_size, degradation=Degradation(sigma=noise), chunk=chunk), 1)
               for _ in range(max(1, repeats - 1)))
    cfg = model.cfg
    h, levels = cfg.hidden, cfg.levels
    degradation = torch.zeros(1, 4)
    flops = {
        "encoder": conv_flops(model, lr, degradation),
        "project": 2.0 * cfg.channels * h * size * size * sum(4.0 ** -lvl for lvl in range(levels)),
        "coords": 2.0 * n * 4 * cfg.fourier_bands * h if path == "reference" else None,
        "sampling": 2.0 * n * levels * 4 * h,
        "mlp": 2.0 * n * (h * h * (cfg.decoder_layers - 1) + 3 * h),
        "bicubic": 2.0 * n * 16 * 3,
    }
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.png"
        Image.fromarray((lr.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(src)
        read = _best(lambda: frannet.io.read_image(src), repeats)
        picture = frannet.io.read_image(src)
        big = np.clip(ref.permute(1, 2, 0).numpy(), 0, 1)
        write = _best(lambda: frannet.io.write_image(dst, frannet.io.Picture(rgb=big, alpha=None, bits=8)), repeats)
    pil = Image.fromarray((lr.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    if noise:
        api = min(_best(lambda: frannet.denoise(pil, noise=noise, model=model), 1) for _ in range(max(1, repeats - 1)))
    else:
        api = min(_best(lambda: frannet.upscale(pil, scale=scale, model=model), 1) for _ in range(max(1, repeats - 1)))
    load = _best(lambda: load_model(model_path), repeats)
    del picture
    return {"task": task, "input": [size, size], "output": list(out_size), "model": Path(model_path).name,
            "seconds": best, "render_tiled": real, "api": api, "read_png": read, "write_png": write,
            "model_load": load, "gflop": {k: v / 1e9 for k, v in flops.items() if v},
            "path": path, "gflops_per_s": {k: flops[k] / 1e9 / best[k] for k in flops if flops[k] and best[k] > 0}}


def process_times(repeats: int, threads: int) -> dict:
    """Seconds of fresh processes: ``import torch``, ``import frannet``, the CLI's x4 of a 128^2 photo
    (start-up and model load, little work) and of the 512^2 photo (the issue's task, PNG in and out)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(frannet.__file__).parents[1]), env.get("PYTHONPATH")]))

    def run(args):
        """Best wall seconds and best CPU seconds (user + system) of the process, over ``repeats`` runs."""
        walls, cpus = [], []
        for _ in range(repeats):
            before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            walls.append(time.perf_counter() - start)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        return {"wall": min(walls), "cpu": min(cpus)}

    out = {"python": run([sys.executable, "-c", "pass"]),
           "import torch": run([sys.executable, "-c", "import torch"]),
           "import frannet": run([sys.executable, "-c", "import frannet"])}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.png"
        Image.fromarray((photo(128).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(src)
        out["cli x4 of 128^2"] = run([sys.executable, "-m", "frannet", "restore", str(src), "-o", str(Path(tmp) / "o.png"),
                                      "--scale", "4", "--quiet", "--overwrite"])
        Image.fromarray((photo(512).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(src)
        out["cli x4 of 512^2"] = run([sys.executable, "-m", "frannet", "restore", str(src), "-o", str(Path(tmp) / "o.png"),
                                      "--scale", "4", "--quiet", "--overwrite"])
    return out


def format_table(result: dict) -> str:
    lines = [f"{result['threads']} thread(s), best of {result['repeats']}; machine GEMM GFLOP/s: " +
             ", ".join(f"{k} {v:.0f}" for k, v in result["machine"].items())]
    for t in result["tasks"]:
        total = t["seconds"]["total"]
        lines.append(f"\n{t['task']} ({t.get('path', 'reference')} decode): {t['input'][1]}x{t['input'][0]} -> {t['output'][1]}x{t['output'][0]} "
                     f"({t['model']}); render_tiled {t['render_tiled']:.2f} s (profiled {total:.2f} s), "
                     f"API {t['api']:.2f} s")
        lines.append(f"  {'part':<10}{'seconds':>9}{'share':>8}{'GFLOP':>9}{'GFLOP/s':>9}")
        for p in PARTS:
            s = t["seconds"][p]
            g = t["gflop"].get(p)
            rate = t["gflops_per_s"].get(p)
            lines.append(f"  {p:<10}{s:>9.3f}{s / total:>8.1%}" + (f"{g:>9.1f}{rate:>9.1f}" if g is not None else ""))
        lines.append(f"  read PNG {t['read_png']:.3f} s, write PNG {t['write_png']:.3f} s, model load {t['model_load']:.3f} s")
    if result.get("process"):
        lines.append("\nfresh processes (wall / CPU s): " +
                     ", ".join(f"{k} {v['wall']:.2f} / {v['cpu']:.2f}" for k, v in result["process"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="input side in pixels (default 512)")
    parser.add_argument("--tasks", nargs="+", default=["x2", "x4", "x8", "denoise25"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=tiling.DEFAULT_CHUNK, help="output pixels per decoder call")
    parser.add_argument("--path", choices=("fast", "reference"), default="fast",
                        help="profile render_tiled's grid decode (default) or the per-point reference decode")
    parser.add_argument("--no-process", action="store_true", help="skip the fresh-process timings")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {"threads": args.threads, "repeats": args.repeats, "chunk": args.chunk, "machine": machine_gemm(args.repeats),
              "path": args.path,
              "tasks": [profile_task(t, args.size, args.repeats, args.chunk, args.path) for t in args.tasks],
              "process": None if args.no_process else process_times(args.repeats, args.threads)}
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
