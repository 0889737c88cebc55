"""CPU speed and memory of x4 upscaling: frannet against Real-ESRGAN's RRDBNet.

Each network is timed in its own fresh (spawned) process, so that the peak resident memory read
there (``ru_maxrss``) belongs to that network alone. RRDBNet (64 features, 23 RRDB blocks, growth
32, random weights: only the speed matters) comes from the optional ``spandrel`` package, installed
with ``pip install --no-deps spandrel``. Only its architecture file is loaded: importing ``spandrel``
itself would pull in the whole library and torchvision.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .api import SAMPLE_IMAGE
from .checkpoint import load_model, save_model
from .models import FranNet
from .tiling import render_tiled

SPANDREL_HINT = "the RRDBNet comparison needs spandrel: pip install --no-deps spandrel"
RRDB_FILE = "architectures/ESRGAN/__arch/RRDB.py"


def load_rrdbnet_class() -> type[torch.nn.Module]:
    """spandrel's RRDBNet class, without running ``spandrel/__init__.py`` (nor importing torchvision).

    RRDB.py imports ``spandrel.util`` and ``spandrel.architectures.__arch_helpers`` (plain torch
    code). A bare ``spandrel`` package (its path, its ``__init__`` not executed) is put in
    ``sys.modules`` while the file runs, so that those imports resolve; it is removed afterwards.
    """
    spec = importlib.util.find_spec("spandrel")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(SPANDREL_HINT)
    path = Path(spec.submodule_search_locations[0]) / RRDB_FILE
    if not path.is_file():
        raise ImportError(f"{path} not found: this spandrel version is not supported ({SPANDREL_HINT})")
    stub = "spandrel" not in sys.modules
    if stub:
        sys.modules["spandrel"] = importlib.util.module_from_spec(spec)
    try:
        file_spec = importlib.util.spec_from_file_location("spandrel.architectures.ESRGAN.__arch.RRDB", path)
        module = importlib.util.module_from_spec(file_spec)
        file_spec.loader.exec_module(module)
    finally:
        if stub:
            for name in [n for n in sys.modules if n == "spandrel" or n.startswith("spandrel.")]:
                del sys.modules[name]
    return module.RRDBNet


def bench_image(size: int) -> torch.Tensor:
    """(3, size, size) in [0, 1]: the bundled sample photo, resized."""
    img = Image.open(SAMPLE_IMAGE).convert("RGB").resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def _time_one(net: str, model_path: str | None, image: torch.Tensor, scale: int, repeats: int,
              threads: int) -> dict:
    """Runs in a fresh process: build the network, then time it on ``image``."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    torch.set_flush_denormal(True)  # random RRDB weights must not hit slow denormal arithmetic
    size = (image.shape[1] * scale, image.shape[2] * scale)
    if net == "frannet":
        model = load_model(model_path)

        def run():
            return render_tiled(model, image, size)  # what `frannet restore` runs
    else:
        model = load_rrdbnet_class()(num_filters=64, num_blocks=23, scale=scale).eval()

        def run():
            return model(image[None])[0]
    base = _peak_rss_mb()
    times = []
    with torch.inference_mode():
        if repeats > 1:
            run()  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            out = run()
            times.append(time.perf_counter() - start)
    seconds = min(times)
    return {"seconds": seconds, "output": list(out.shape[-2:]),
            "mpix_per_s": out.shape[-2] * out.shape[-1] / 1e6 / seconds,
            "peak_mem_mb": _peak_rss_mb() - base}


def _in_child(*args) -> dict:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_time_one, args)


def run_bench(model: FranNet | str | Path, size: int = 512, scale: int = 4, repeats: int = 1,
              compare_rrdb: bool = True, image: torch.Tensor | None = None,
              threads: int | None = None) -> dict:
    """Time ``scale``x upscaling of a ``size``x``size`` photo on CPU, by ``model`` and by RRDBNet.

    ``model`` is a FranNet or the path of its model file; ``image`` (3, H, W) in [0, 1] replaces the
    default photo (``size`` is then ignored); ``threads`` defaults to torch's own choice. Times are
    the best of ``repeats`` runs, after one warm-up run when ``repeats`` > 1; ``peak_mem_mb`` is how
    far a run raised the peak resident memory above what the loaded network already used.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if compare_rrdb:
        load_rrdbnet_class()  # fail now, with the pip hint, rather than after timing frannet
    image = bench_image(size) if image is None else image.float()
    threads = threads or torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(model, FranNet):  # the child process loads the model from a file
            path = Path(tmp) / "model.safetensors"
            save_model(path, model)
            model = path
        ours = _in_child("frannet", str(model), image, scale, repeats, threads)
    rrdb = _in_child("rrdbnet", None, image, scale, repeats, threads) if compare_rrdb else None
    return {"input": list(image.shape[1:]), "scale": scale, "repeats": repeats, "threads": threads,
            "frannet": ours, "rrdbnet": rrdb,
            "ratio": ours["seconds"] / rrdb["seconds"] if rrdb else None}


def format_report(result: dict) -> str:
    """A small text table of a ``run_bench`` result."""
    (h, w), s = result["input"], result["scale"]
    lines = [f"x{s} upscaling of {w}x{h} -> {w * s}x{h * s} on CPU, {result['threads']} thread(s), "
             f"best of {result['repeats']}",
             f"{'network':<10}{'seconds':>10}{'Mpix/s':>10}{'peak MB':>10}"]
    for key, label in (("frannet", "frannet"), ("rrdbnet", "RRDBNet")):
        row = result[key]
        if row is not None:
            lines.append(f"{label:<10}{row['seconds']:>10.3f}{row['mpix_per_s']:>10.3f}"
                         f"{row['peak_mem_mb']:>10.0f}")
    if result["ratio"] is not None:
        lines.append(f"frannet time / RRDBNet time: {result['ratio']:.3f}")
    return "\n".join(lines)
