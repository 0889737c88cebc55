"""The encoder's engines side by side: torch float32 (the reference), torch bfloat16 autocast, and
ncnn (``FranNet.set_engine("ncnn")``) with its options.

    OMP_NUM_THREADS=1 python benchmarks/engines.py [--repeats 3] [--json benchmarks/results/engines.json]

encoder: ``Encoder.forward`` of a 512^2 picture (``frannet.bench.bench_image``) with frannet-sr
(told x4) and frannet-denoise (told sigma 25; the noisy picture), each candidate's maps against
torch float32's (max abs difference). ncnn's candidates: its default here (packing layout,
Winograd with every tile size), Winograd off (im2col + sgemm), one Winograd tile size only
(23, 43, 63), packing off, sgemm off, fp16 and bf16 storage.
render: ``render_tiled`` x4 of the 512^2 picture (frannet-sr) and the sigma 25 denoising of it
(frannet-denoise) per engine, outputs against torch float32's; "+bf16" is ``set_bf16`` too.

The peak resident memory of one render above the loaded model is read in a fresh process per engine.
Times are best of ``--repeats`` rounds in which the candidates take turns (load from the machine's
other work hits them alike): CPU seconds of the thread and wall seconds; ratios are to torch float32.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import torch

from frannet.bench import bench_image
from frannet.checkpoint import load_model
from frannet.degradations import Degradation
from frannet.models.decoder import condition
from frannet.models.ncnn_encoder import NcnnEncoder
from frannet.pipeline import BUNDLED
from frannet.tiling import render_tiled

NCNN_OPTIONS = {
    "ncnn": {},
    "ncnn-no-winograd": {"use_winograd_convolution": False},
    "ncnn-winograd23": {"use_winograd43_convolution": False, "use_winograd63_convolution": False},
    "ncnn-winograd43": {"use_winograd23_convolution": False, "use_winograd63_convolution": False},
    "ncnn-winograd63": {"use_winograd23_convolution": False, "use_winograd43_convolution": False},
    "ncnn-no-packing": {"use_packing_layout": False},
    "ncnn-no-sgemm": {"use_sgemm_convolution": False},
    "ncnn-fp16-storage": {"use_fp16_storage": True, "use_fp16_packed": True},
    "ncnn-bf16-storage": {"use_bf16_storage": True, "use_bf16_packed": True},
}


def interleaved(cands: dict, repeats: int) -> dict:
    """Best CPU and wall seconds of each candidate over ``repeats`` rounds (after a warm-up), taking
    turns within a round, and its max abs difference from the first candidate's output."""
    results, ref = {}, None
    with torch.inference_mode():
        for name, fn in cands.items():
            got = fn()
            got = got if isinstance(got, list) else [got]
            ref = ref or got
            results[name] = {"max_abs_diff": max((a - b).abs().max().item() for a, b in zip(got, ref)),
                             "cpu_s": float("inf"), "wall_s": float("inf")}
        for _ in range(repeats):
            for name, fn in cands.items():
                cpu, wall = time.thread_time(), time.perf_counter()
                fn()
                r = results[name]
                r["cpu_s"] = min(r["cpu_s"], time.thread_time() - cpu)
                r["wall_s"] = min(r["wall_s"], time.perf_counter() - wall)
    base = results[next(iter(cands))]
    for name, r in results.items():
        r["speedup_cpu"], r["speedup_wall"] = base["cpu_s"] / r["cpu_s"], base["wall_s"] / r["wall_s"]
        print(f"  {name:<20} {r['cpu_s']:7.3f} s CPU ({r['speedup_cpu']:4.2f}x) {r['wall_s']:7.3f} s wall "
              f"({r['speedup_wall']:4.2f}x)  max diff {r['max_abs_diff']:.1e}", flush=True)
    return results


def cases(size: int):
    """(name, model file, input (3, size, size), told degradation, output size)."""
    clean = bench_image(size)
    noisy = Degradation(sigma=25.0).apply(clean, torch.Generator().manual_seed(0))
    yield "x4 frannet-sr", BUNDLED["upscale"], clean, Degradation(), (4 * size, 4 * size)
    yield "sigma 25 frannet-denoise", BUNDLED["denoise"], noisy, Degradation(sigma=25.0), (size, size)


def encoder_candidates(model, lr: torch.Tensor, told: Degradation, out_size) -> dict:
    enc = model.encoder.eval()
    lr = lr[None]
    cond = condition(told.for_sizes(tuple(lr.shape[-2:]), out_size).condition()[None], model.cfg)

    def bf16():
        with torch.autocast("cpu", torch.bfloat16):
            return [m.float() for m in enc(lr, cond)]

    cands = {"torch": lambda: enc(lr, cond), "torch-bf16": bf16}
    for name, options in NCNN_OPTIONS.items():
        runner = NcnnEncoder(enc, options)
        cands[name] = lambda runner=runner: runner(lr, cond)
    return cands


def render_candidates(path, lr: torch.Tensor, told: Degradation, out_size) -> dict:
    """A model per candidate, so each keeps its ncnn network (built in the warm-up round) as a
    loaded model does for the tiles and later pictures of its condition."""
    def run(engine: str, bf16: bool):
        model = load_model(path).set_engine(engine).set_bf16(bf16)
        return lambda: render_tiled(model, lr, out_size, degradation=told)

    return {"torch": run("torch", False), "torch+bf16": run("torch", True),
            "ncnn": run("ncnn", False), "ncnn+bf16": run("ncnn", True)}


def build_seconds(model, lr: torch.Tensor, told: Degradation, out_size, repeats: int) -> float:
    """Wall seconds to fold the weights and load an ncnn network (once per model and condition)."""
    cond = condition(told.for_sizes(tuple(lr.shape[-2:]), out_size).condition()[None], model.cfg)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        NcnnEncoder(model.encoder).net(cond)
        best = min(best, time.perf_counter() - start)
    print(f"  building the ncnn network: {best:.3f} s", flush=True)
    return best


def peak_memory_mb(path, engine: str, lr: torch.Tensor, told: Degradation, out_size) -> float:
    """Peak resident memory of one ``render_tiled`` above the loaded model, in a fresh process."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_peak_memory, (str(path), engine, lr, told, out_size))


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def _peak_memory(path: str, engine: str, lr: torch.Tensor, told: Degradation, out_size) -> float:
    torch.set_num_threads(1)
    model = load_model(path).set_engine(engine)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # resets the peak (VmHWM) to the current resident memory (Linux)
    base = _status_kb("VmRSS")
    with torch.inference_mode():
        render_tiled(model, lr, out_size, degradation=told)
    return (_status_kb("VmHWM") - base) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.manual_seed(0)
    out = {"threads": torch.get_num_threads(), "size": args.size, "repeats": args.repeats,
           "torch": torch.__version__, "build_s": {}, "encoder": {}, "render": {}}
    import ncnn
    out["ncnn"] = ncnn.__version__
    for name, path, lr, told, out_size in cases(args.size):
        print(f"encoder, {name}, {args.size}^2:", flush=True)
        model = load_model(path)
        out["build_s"][name] = build_seconds(model, lr, told, out_size, args.repeats)
        out["encoder"][name] = interleaved(encoder_candidates(model, lr, told, out_size), args.repeats)
        print(f"render_tiled, {name}, {args.size}^2:", flush=True)
        out["render"][name] = interleaved(render_candidates(path, lr, told, out_size), args.repeats)
        for engine in ("torch", "ncnn"):
            mb = peak_memory_mb(path, engine, lr, told, out_size)
            out["render"][name][engine]["peak_mb"] = mb
            print(f"  {engine}: peak memory of a render above the loaded model {mb:.0f} MB", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
