"""Adaptive refinement: tiles of the output stop early once their estimate settles (tiny random models)."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image
from tiny import tiny_model

from frannet import save_model
from frannet.cli import main
from frannet.consistency import BicubicDown
from frannet.restorators import Observation, Sampling, render_counted, render_iterative

ITERATIVE = ["autoregressive", "diffusion"]
OUT = (70, 81)  # not a multiple of the adaptive tile: the right and bottom tiles are cut
SAMPLING = Sampling(steps=5, eta=0.5, seed=3, samples=2)


def _lr():
    return torch.rand(3, 23, 31, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_no_tile_stopping_is_the_uniform_result_exactly(restorator):
    model = tiny_model(restorator=restorator)
    uniform = render_counted(model, _lr(), OUT, SAMPLING)
    assert uniform.total == 2 * 5 * OUT[0] * OUT[1]
    for threshold in (0.0, 1e-12):  # off, and on with no update that small
        out = render_counted(model, _lr(), OUT, dataclasses.replace(SAMPLING, adaptive=threshold))
        assert torch.equal(out.mean, uniform.mean) and torch.equal(out.std, uniform.std)
        assert torch.equal(out.evaluations, uniform.evaluations)


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_a_huge_threshold_stops_every_tile_after_the_first_step(restorator):
    model = tiny_model(restorator=restorator)
    out = render_counted(model, _lr(), OUT, Sampling(steps=5, seed=3, adaptive=1e9))
    assert torch.equal(out.evaluations, torch.ones(OUT)) and out.total == OUT[0] * OUT[1]
    one_step = render_counted(model, _lr(), OUT, Sampling(steps=1, seed=3))
    if restorator == "autoregressive":  # a stopped walk keeps its value: after 1 of 5 steps, not 1 of 1
        assert (out.mean - one_step.mean).abs().max() > 1e-3
    else:  # DDIM keeps the first step's clean estimate, which one DDIM step returns as well
        torch.testing.assert_close(out.mean, one_step.mean, atol=1e-6, rtol=0)


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_the_result_does_not_depend_on_chunks_or_tiles(restorator):
    model = tiny_model(restorator=restorator)
    threshold = {"autoregressive": 2.0, "diffusion": 20.0}[restorator]  # where the tiny models' tiles differ
    sampling = dataclasses.replace(SAMPLING, adaptive=threshold, adaptive_tile=16)
    ref = render_counted(model, _lr(), OUT, sampling)
    assert ref.total < render_counted(model, _lr(), OUT, SAMPLING).total  # some tiles stopped early ...
    assert ref.evaluations.min() < ref.evaluations.max()  # ... and not all at once
    for tile, chunk in ((7, 37), (13, 1000), (512, 1)):
        out = render_counted(model, _lr(), OUT, sampling, tile=tile, chunk=chunk)
        assert torch.equal(out.evaluations, ref.evaluations)
        assert (out.mean - ref.mean).abs().max() <= 1e-5 and (out.std - ref.std).abs().max() <= 1e-5
    # each tile of each sample stops as a whole: evaluations are constant over every 16 x 16 tile
    tiles = ref.evaluations[:64, :80].reshape(4, 16, 5, 16)
    assert torch.equal(tiles.amin(dim=(1, 3)), tiles.amax(dim=(1, 3)))


def test_options_that_cannot_go_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        Sampling(tol=1e-3, adaptive=1.0)
    for bad in ({"adaptive": -1.0}, {"adaptive": float("nan")}, {"adaptive_tile": 2}):
        with pytest.raises(ValueError):
            Sampling(**bad)
    with pytest.raises(ValueError, match="tiles cannot stop early"):
        render_iterative(tiny_model(restorator="diffusion"), _lr(), OUT, Sampling(adaptive=1.0),
                         observation=Observation(BicubicDown(OUT, (23, 31)), _lr()))


def test_cli_writes_the_steps_map_and_counts_evaluations(capsys, tmp_path, photo):
    model, out, steps = tmp_path / "diffusion.safetensors", tmp_path / "out.png", tmp_path / "steps.png"
    save_model(model, tiny_model(restorator="diffusion"))
    code = main([str(a) for a in ("restore", photo, "-o", out, "--scale", "2", "--model", model, "--steps", "4",
                                  "--adaptive", "1e9", "--steps-map", steps, "--tile", "64")])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert Image.open(out).size == Image.open(steps).size == (74, 80)
    assert "steps map" in stdout and f"{74 * 80:,} of {4 * 74 * 80:,}" in stdout
    colours = np.asarray(Image.open(steps)).reshape(-1, 3)
    assert (colours == colours[0]).all()  # every tile took one step


def test_cli_refuses_adaptive_with_consistency(capsys, tmp_path, photo):
    model = tmp_path / "diffusion.safetensors"
    save_model(model, tiny_model(restorator="diffusion"))
    code = main([str(a) for a in ("restore", photo, "-o", tmp_path / "o.png", "--scale", "2", "--model", model,
                                  "--adaptive", "2", "--consistency")])
    assert code != 0 and "tiles cannot stop early" in capsys.readouterr().err
