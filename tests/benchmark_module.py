"""What the benchmark scripts' tests share: a script of benchmarks/ imported as a module, and a
folder of held-out photos made from one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from PIL import Image

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(script: str, name: str):
    """benchmarks/``script`` imported as the module ``name`` (registered in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def held_out(tmp_path: Path, photo: Path, **variants) -> Path:
    """tmp_path/"held-out" holding NAME.png for each NAME=function of the photo's image."""
    folder = tmp_path / "held-out"
    folder.mkdir()
    for name, make in variants.items():
        make(Image.open(photo)).save(folder / f"{name}.png")
    return folder
