"""What models say they are (issue 24, item 3): a descriptor in every model file, written by
``save_model`` (``frannet export``, ``frannet interpolate``), derived for older files from their
model card, refused when nothing says; ``frannet describe`` prints it."""

from __future__ import annotations

import json

import pytest
from tiny import older_file, tiny_model

from frannet import save_model
from frannet.checkpoint import CheckpointError, ModelDescriptor, describe, load_model
from frannet.cli import main

PLAIN = ("scale",)
TUNABLE = ("scale", "noise", "gray")
BUNDLED_FILES = {"frannet-sr": ("upscale", "single"), "frannet-denoise": ("denoise", "single"),
                 "frannet-color": ("colorize", "single"), "frannet-diffusion": ("upscale", "diffusion"),
                 "frannet-autoregressive": ("upscale", "autoregressive")}


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_bundled_models_describe_themselves():
    from frannet.pipeline import WEIGHTS

    got = {name: describe(WEIGHTS / f"{name}.safetensors") for name in BUNDLED_FILES}
    assert {name: (d.task, d.restorator) for name, d in got.items()} == BUNDLED_FILES
    assert got["frannet-denoise"].scales == (1.0, 1.0) and got["frannet-denoise"].noise == (0.0, 75.0)
    assert got["frannet-diffusion"].scales == (2.0, 4.0) and got["frannet-sr"].conditions == (*TUNABLE, "jpeg")
    assert got["frannet-color"].conditions == TUNABLE
    # frannet-sr, frannet-denoise and frannet-autoregressive were exported with their descriptors;
    # the older files get theirs derived from their cards
    declared = sorted(name for name, d in got.items() if d.declared)
    assert declared == ["frannet-autoregressive", "frannet-denoise", "frannet-sr"]


def test_save_model_writes_the_descriptor(tmp_path):
    path = tmp_path / "c.safetensors"
    written = save_model(path, tiny_model(tunable=True), task="colorize")
    assert describe(path) == written and written.declared and written.task == "colorize"
    assert written.conditions == TUNABLE and written.restorator == "single"
    path = tmp_path / "d.safetensors"
    assert save_model(path, tiny_model(restorator="diffusion")).task == "upscale"  # a plain model only upscales
    assert describe(path).restorator == "diffusion"


def test_a_tunable_model_must_say_its_task_and_a_plain_one_cannot_denoise(tmp_path):
    with pytest.raises(ValueError, match="task='denoise' or task='colorize'"):
        save_model(tmp_path / "t.safetensors", tiny_model(tunable=True))
    with pytest.raises(ValueError, match="cannot denoise"):
        save_model(tmp_path / "p.safetensors", tiny_model(), task="denoise")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("data,task", [({"gray_input": 1.0, "noise": [0, 50]}, "colorize"),
                                       ({"max_scale": 1.0, "noise": [0, 75]}, "denoise"),
                                       ({"max_scale": 4.0, "noise": [0, 75]}, "upscale"),
                                       ({}, "upscale")])
def test_an_older_file_has_its_task_derived_from_its_card(tmp_path, data, task):
    path = tmp_path / "old.safetensors"
    older_file(path, tiny_model(tunable=True), {"train_config": {"data": data}})
    described = describe(path)
    assert described.task == task and not described.declared
    assert "derived from its card" in described.summary()
    load_model(path)  # the weights load as before


def test_an_older_file_that_says_nothing_is_refused_in_one_line(tmp_path):
    path = tmp_path / "old.safetensors"
    older_file(path, tiny_model(tunable=True), {"interpolated": {"a": "x", "b": "y", "alpha": 0.5}})
    with pytest.raises(CheckpointError, match="re-export it with frannet export --task"):
        describe(path)
    plain = tmp_path / "plain.safetensors"  # a plain model without a card can only upscale: that is derivable
    older_file(plain, tiny_model(), {})
    assert describe(plain).task == "upscale"


def test_a_descriptor_that_does_not_fit_its_model_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    with pytest.raises(ValueError, match="restorator diffusion"):
        save_model(path, tiny_model(), task=ModelDescriptor("upscale", "diffusion", (1, 4), (0, 0), PLAIN))


def test_describe_command(capsys, tmp_path, tunable_path):
    code, out, _ = _run(capsys, "describe")
    assert code == 0 and out.splitlines()[0].startswith("frannet-sr: upscale, single-step, trained at x1-4")
    code, out, _ = _run(capsys, "describe", tunable_path, "frannet-diffusion", "--json")
    described = json.loads(out)
    assert described[str(tunable_path)]["task"] == "denoise" and described[str(tunable_path)]["declared"]
    assert described["frannet-diffusion"]["restorator"] == "diffusion"
    code, _, err = _run(capsys, "describe", tmp_path / "missing.safetensors")
    assert code == 2 and "no such file" in err and err.count("\n") == 1
