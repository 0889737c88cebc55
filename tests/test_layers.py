"""The package's import graph: no circle, and no module importing one of a higher layer.

Every module of src/frannet is parsed (not imported) and every import of another frannet module
is an edge, including the imports inside functions, which a circle can otherwise hide behind.

The layers, lowest first; a module may import its own layer and the ones below it:

  base         configuration, coordinates, files and small tools that know no image model
  operations   what is done to images: degradations, consistency operators, metrics; the
               model (encoder, decoder, lookups) and the samplers (interpolants, schedules)
  rendering    tiling (encodes tiles and decodes chunks through a model; knows no restorator)
               and model files (checkpoint)
  restorators  single step, iterative, adaptive, consistent, projected denoising: they render
               through tiling; their dispatch is the package
  pipeline     the product's stages (pipeline) and the inverse problems (inverse)
  training     training examples (data), the objective, evaluation and the training loop: above
               the product's code, so inference never imports training code
  api          the Python API, the package itself and the speed benchmark (which runs the API)
  interfaces   the command line and the web page
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "frannet"

LAYERS = {
    "base": ["atomic", "codecs", "config", "coords", "dead_leaves", "distributed", "ensemble", "framing", "io",
             "memory", "parsing", "streaming", "uncertainty"],
    "operations": ["degradations", "consistency", "grayness", "jpeg_cells", "jpeg_quality", "measurements",
                   "metrics", "noise_estimate", "transparency", "models", "models.*", "sampling", "sampling.*"],
    "rendering": ["tiling", "checkpoint"],
    "restorators": ["restorators", "restorators.*"],
    "pipeline": ["pipeline", "inverse"],
    "training": ["corpus", "detail", "data", "objectives", "evaluate", "train"],
    "api": ["", "api", "bench"],
    "interfaces": ["__main__", "cli", "cli.*", "serve", "serve.*"],
}
ORDER = list(LAYERS)


def _name(path: Path) -> str:
    """'' for the package, 'restorators' for a subpackage, 'restorators.iterative' for a module."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in SRC.rglob("*.py")}


def _layer(module: str) -> str:
    for layer, members in LAYERS.items():
        for member in members:
            if module == member or (member.endswith(".*") and module.startswith(member[:-1])):
                return layer
    raise AssertionError(f"frannet.{module} is in no layer: add it to LAYERS in {__file__}")


def _imports(module: str) -> set[str]:
    """The frannet modules that ``module`` imports anywhere in its file."""
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = [p for p in package if p]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module == "frannet" or (node.module or "").startswith("frannet."):
                target = node.module.removeprefix("frannet").removeprefix(".")
            else:
                continue
            for alias in node.names:  # `from . import x` imports module x; `from .m import f`, module m
                sub = f"{target}.{alias.name}".lstrip(".")
                found.add(sub if sub in MODULES else target)
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("frannet").removeprefix(".") for a in node.names
                      if a.name == "frannet" or a.name.startswith("frannet.")}
    return found - {module}


GRAPH = {module: _imports(module) for module in MODULES}


def test_the_walk_sees_function_level_imports():
    assert "pipeline" in GRAPH["serve.app"] and "serve.app" in GRAPH["cli.tools"]  # both inside functions
    assert GRAPH["restorators"] >= {"restorators.iterative", "restorators.adaptive", "restorators.consistent"}
    assert all(target in MODULES for targets in GRAPH.values() for target in targets)


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer(module)


def test_no_module_imports_a_higher_layer():
    upward = [f"frannet.{m} ({_layer(m)}) imports frannet.{t} ({_layer(t)})"
              for m, targets in GRAPH.items() for t in targets if ORDER.index(_layer(t)) > ORDER.index(_layer(m))]
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    done, on_path, path = set(), set(), []

    def visit(module: str) -> None:
        on_path.add(module)
        path.append(module)
        for target in sorted(GRAPH[module]):
            if target in on_path:
                circle = path[path.index(target):] + [target]
                raise AssertionError("import circle: " + " -> ".join(f"frannet.{m}" for m in circle))
            if target not in done:
                visit(target)
        on_path.discard(module)
        path.pop()
        done.add(module)

    for module in sorted(GRAPH):
        if module not in done:
            visit(module)


def test_the_inference_code_imports_no_training_code():
    training = set(LAYERS["training"])
    for module, targets in GRAPH.items():
        if module.startswith("restorators") or module in ("tiling", "pipeline", "api"):
            assert not targets & training, f"frannet.{module} imports {targets & training}"
