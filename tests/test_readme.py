"""The README's commands are the product's front door: keep them working."""

import re
import shlex
from pathlib import Path

from PIL import Image

from frannet.cli import main

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def _command(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\s*```sh\n(.+?)\n```", README)
    assert match, f"README has no {marker}"
    return match.group(1)


def test_ci_runs_the_readme_test_command():
    assert "pytest" in _command("test-command")
    assert "test-command" in (ROOT / ".ci" / "run").read_text()


def test_both_commands_pin_torch():
    for marker in ("main-command", "test-command"):
        assert "torch==2.13.0" in _command(marker)


def test_main_command_upscales_the_bundled_sample(tmp_path, monkeypatch):
    """Run the README's `frannet restore ...` step with the bundled model."""
    step = next(part for part in _command("main-command").split("&&") if "frannet restore" in part)
    args = shlex.split(step)[1:]
    out_index = args.index("-o") + 1
    expected_name = args[out_index]
    args[out_index] = str(tmp_path / expected_name)
    monkeypatch.chdir(ROOT)
    assert main(args) == 0
    scale = float(args[args.index("--scale") + 1])
    w, h = Image.open(ROOT / args[1]).size
    assert Image.open(tmp_path / expected_name).size == (round(w * scale), round(h * scale))
