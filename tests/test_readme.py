"""The README's commands are the product's front door: keep them working."""

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

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


def test_the_test_command_sets_up_the_machine_itself():
    """A newcomer pastes one line: it installs what the tests need, so CI does nothing more."""
    assert _command("test-command").startswith("sh scripts/setup_test_machine.sh && ")
    assert "apt-get" not in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("uid, present, expected", [
    ("0", False, ["apt-get update",
                  "apt-get install -y --no-install-recommends chromium"]),
    ("1000", False, ["sudo apt-get update",
                     "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium"]),
    ("1000", True, []),
])
def test_setup_script_installs_chromium_only_when_missing(tmp_path, uid, present, expected):
    """scripts/setup_test_machine.sh against stand-ins for id, sudo and apt-get that log their calls."""
    log, bin_dir = tmp_path / "calls.log", tmp_path / "bin"
    bin_dir.mkdir()
    stubs = {"id": f"echo {uid}", "sudo": f'echo "sudo $*" >> {log}', "apt-get": f'echo "apt-get $*" >> {log}'}
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    chromium = tmp_path / "chromium"
    if present:
        chromium.write_text("#!/bin/sh\n")
        chromium.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "CHROMIUM": str(chromium)}
    subprocess.run(["sh", str(ROOT / "scripts" / "setup_test_machine.sh")], env=env, check=True, capture_output=True)
    assert (log.read_text().splitlines() if log.exists() else []) == expected


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
