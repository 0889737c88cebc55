"""Autoregressive and diffusion restorators: tiny random iterative models, CLI, API and training.

(DDIM with eta = 1 over the full schedule equals DDPM: tests/test_samplers.py.)
"""

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image
from tiny import TINY, tiny_model

from frannet import ModelConfig, load_model, save_model, upscale
from frannet.checkpoint import load_training
from frannet.cli import main
from frannet.config import ConfigError, TrainConfig
from frannet.data import load_images, training_batch
from frannet.restorators import render
from frannet.models import FranNet
from frannet.objectives import training_pair
from frannet.restorators import Sampling, interpolant, render_iterative
from frannet.train import train
from frannet.uncertainty import RAMP, heatmap

ITERATIVE = ["autoregressive", "diffusion"]


def _lr(seed=0, size=(23, 31)):
    return torch.rand(3, *size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_same_seed_same_image_whatever_the_tiles_and_chunks(restorator):
    model = tiny_model(restorator=restorator)
    sampling = Sampling(steps=4, eta=0.7, seed=3, samples=2, tol=1e-3)
    mean, std = render_iterative(model, _lr(), (50, 61), sampling)
    for tile, chunk in ((7, 37), (13, 1000), (512, 1)):
        m, s = render_iterative(model, _lr(), (50, 61), sampling, tile=tile, chunk=chunk)
        assert (m - mean).abs().max() <= 1e-5 and (s - std).abs().max() <= 1e-5
    other, _ = render_iterative(model, _lr(), (50, 61), dataclasses.replace(sampling, seed=4))
    assert (other - mean).abs().max() > 1e-3
    assert mean.shape == std.shape == (3, 50, 61) and std.min() >= 0 and std.mean() > 0


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_the_temperature_scales_the_source_alone(restorator):
    """The source (step 0's noise) is the temperature times the seed's; at temperature 0 the
    walk and DDIM (eta 0) start from zero, so every seed gives the same image."""
    from frannet.restorators.common import keyed_noise

    pixels = torch.tensor([[0, 0], [3, 5], [7, 2]])
    hot, cool = (Sampling(seed=2, samples=2, temperature=t) for t in (1.0, 0.4))
    torch.testing.assert_close(keyed_noise(cool, pixels, 0), 0.4 * keyed_noise(hot, pixels, 0))
    assert torch.equal(keyed_noise(cool, pixels, 3), keyed_noise(hot, pixels, 3))
    model = tiny_model(restorator=restorator)
    frozen = [render_iterative(model, _lr(), (30, 40), Sampling(steps=3, seed=seed, temperature=0.0))[0]
              for seed in (1, 2)]
    assert torch.equal(*frozen)
    warm = render_iterative(model, _lr(), (30, 40), Sampling(steps=3, seed=1, temperature=0.5))[0]
    assert (warm - frozen[0]).abs().max() > 1e-4


def test_the_mean_of_samples_and_their_std():
    """Sample 0 of a batch is the single sample with that seed; with two samples a and b the
    result is their mean and std |a - b| / sqrt(2), so |a - mean| = std / sqrt(2)."""
    model = tiny_model(restorator="diffusion")
    single, zero = render_iterative(model, _lr(), (30, 40), Sampling(steps=3, eta=1.0, seed=5))
    mean, std = render_iterative(model, _lr(), (30, 40), Sampling(steps=3, eta=1.0, seed=5, samples=2))
    assert torch.equal(zero, torch.zeros_like(zero)) and std.mean() > 0
    torch.testing.assert_close((single - mean).abs(), std / 2**0.5, atol=1e-5, rtol=0)
    assert ((0 <= mean) & (mean <= 1)).all()  # diffusion clips its x0 estimates to valid colours


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_an_oracle_decoder_gives_back_the_answer(restorator):
    """A stand-in decoder that knows the answer (residual 0: plain bicubic) and answers in the
    interpolant's terms at each (x_t, t) makes the sampler land on it: the conventions of
    training (times, residual space, targets) and sampling agree."""
    model = tiny_model(restorator=restorator)
    interp = interpolant(model.cfg)

    def oracle(enc, pos, x_t, t):
        spread = t if restorator == "autoregressive" else (1 - interp.alpha_bar(t, x_t)).sqrt()
        return interp.train_pair(torch.zeros_like(x_t), t, x_t / spread)[1]

    model.query_pixels = oracle
    bicubic = render(tiny_model(randomize_head=False), _lr(), (40, 50))
    out, _ = render_iterative(model, _lr(), (40, 50), Sampling(steps=5, eta=0.5, samples=2))
    if restorator == "diffusion":  # which clips its answers to valid colours
        bicubic = bicubic.clamp(0, 1)
    torch.testing.assert_close(out, bicubic, atol=1e-5, rtol=0)


def test_iterative_models_need_their_inputs():
    model = tiny_model(restorator="diffusion")
    enc = model.encode(_lr()[None], torch.tensor([[2.0, 2.0]]))
    pos = torch.rand(1, 5, 2, dtype=torch.float64) * 20
    assert model.query_pixels(enc, pos, torch.zeros(1, 5, 3), 0.5).shape == (1, 5, 3)
    with pytest.raises(ValueError, match="x_t"):
        model.query_pixels(enc, pos)
    with pytest.raises(ValueError, match="single-step"):
        render_iterative(tiny_model(), _lr(), (40, 40))


@pytest.mark.parametrize("bad", [{"restorator": "gan"}, {"target": "x0"}, {"schedule": "cubic"},
                                 {"schedule_steps": 0}, {"residual_scale": 0.0}])
def test_model_config_validates_the_restorator(bad):
    with pytest.raises(ConfigError):
        ModelConfig.from_dict(bad)


@pytest.mark.parametrize("bad", [{"steps": 0}, {"samples": 0}, {"eta": 1.5}, {"eta": float("nan")},
                                 {"skip": "log"}, {"tol": -1.0}, {"steps": 2.5}, {"temperature": 1.5},
                                 {"temperature": -0.1}])
def test_sampling_options_are_validated(bad):
    with pytest.raises(ValueError):
        Sampling(**bad)


def test_a_single_step_checkpoint_still_loads():
    """The bundled model was saved before iterative restorators: its config has no such keys."""
    from frannet.api import BUNDLED_MODEL

    model = load_model(BUNDLED_MODEL)
    assert model.cfg.restorator == "single" and model.decoder.state is None


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(params=ITERATIVE)
def iterative_path(request, tmp_path):
    path = tmp_path / f"{request.param}.safetensors"
    save_model(path, tiny_model(restorator=request.param))
    return request.param, path


def test_cli_restores_with_an_iterative_model(capsys, tmp_path, photo, iterative_path):
    restorator, path = iterative_path
    out, heat = tmp_path / "out.png", tmp_path / "std.png"
    code, stdout, err = _run(capsys, "restore", photo, "-o", out, "--scale", "2", "--model", path,
                             "--restorator", restorator, "--steps", "3", "--eta", "0.5", "--seed", "1",
                             "--samples", "2", "--uncertainty", heat, "--tile", "64")
    assert code == 0, err
    assert Image.open(out).size == Image.open(heat).size == (74, 80)
    assert "uncertainty map" in stdout
    # the model's own restorator by default; the same seed gives the same file
    again = tmp_path / "again.png"
    assert _run(capsys, "restore", photo, "-o", again, "--scale", "2", "--model", path, "--steps", "3",
                "--eta", "0.5", "--seed", "1", "--samples", "2")[0] == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(again)))


@pytest.mark.parametrize("args,message", [
    (["--restorator", "diffusion"], "single-step"), (["--samples", "3"], "samples"),
    (["--samples", "1", "--uncertainty", "u.png"], "--samples 2"), (["--eta", "2"], "eta"),
])
def test_cli_refuses_iterative_options_for_a_single_step_model(capsys, tmp_path, photo, model_path, args, message):
    code, _, err = _run(capsys, "restore", photo, "-o", tmp_path / "o.png", "--scale", "2", "--model", model_path,
                        *args)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o.png").exists()


def test_cli_refuses_a_single_step_restorator_for_an_iterative_model(capsys, tmp_path, photo, iterative_path):
    restorator, path = iterative_path
    code, _, err = _run(capsys, "restore", photo, "-o", tmp_path / "o.png", "--scale", "2", "--model", path,
                        "--restorator", "single")
    assert code == 2 and f"is {restorator}" in err


def test_defaults_are_the_measured_best_per_restorator(capsys):
    from frannet.cli import build_parser

    args = build_parser().parse_args(["restore", "in.png", "-o", "out.png", "--restorator", "diffusion"])
    assert args.steps is None and args.adaptive is None  # the restorator decides
    sampling = Sampling(steps=args.steps, adaptive=args.adaptive)
    diffusion, walk = (dataclasses.replace(TINY, restorator=r) for r in ("diffusion", "autoregressive"))
    assert (sampling.resolved(diffusion).steps, sampling.resolved(diffusion).adaptive) == (2, 4.0)
    assert (sampling.resolved(walk).steps, sampling.resolved(walk).adaptive) == (4, 0.0)
    assert (sampling.resolved(walk).temperature, sampling.resolved(diffusion).temperature) == (0.3, 1.0)
    assert Sampling(temperature=0.8).resolved(walk).temperature == 0.8
    assert sampling.resolved(diffusion, consistent=True).adaptive == 0.0  # no tile may stop early there
    assert Sampling(steps=8).resolved(diffusion).adaptive == 0.0  # the pair is a preset: explicit steps are uniform
    assert Sampling(adaptive=3.0).resolved(diffusion).steps == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["restore", "--help"])
    usage = capsys.readouterr().out
    assert "need a --model trained for them" not in usage and "bundled frannet-diffusion" in usage
    assert "default: 2 for diffusion, with --adaptive 4" in " ".join(usage.split())


def test_cli_diffusion_takes_two_adaptive_steps_by_default(capsys, tmp_path, photo, monkeypatch):
    from frannet.restorators import common

    monkeypatch.setitem(common.DEFAULT_ADAPTIVE, "diffusion", 1e9)  # every tile settles: it shows
    path = tmp_path / "diffusion.safetensors"
    save_model(path, tiny_model(restorator="diffusion"))
    code, stdout, err = _run(capsys, "restore", photo, "-o", tmp_path / "o.png", "--scale", "2", "--model", path,
                             "--steps-map", tmp_path / "steps.png")
    assert code == 0, err
    assert f"decoder evaluations: {74 * 80:,} of {2 * 74 * 80:,} with uniform steps" in stdout


def test_api_returns_the_uncertainty(iterative_path):
    _, path = iterative_path
    img = Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8))
    out, std = upscale(img, scale=2, model=path, steps=2, samples=3, uncertainty=True)
    assert out.size == (48, 40) and std.shape == (40, 48) and std.dtype == np.float32 and std.mean() > 0
    with pytest.raises(ValueError, match="uncertainty"):
        upscale(img, scale=2, uncertainty=True)


def test_heatmap_spans_the_ramp():
    std = np.linspace(0, 1, 1000).reshape(20, 50)
    rgb, top = heatmap(std)
    assert rgb.shape == (20, 50, 3) and 0.99 < top <= 1.0
    assert rgb[0, 0, 2] > rgb[0, 0, 1] and rgb[-1, -1, 0] > 0.9  # dark blue to yellow
    flat, top = heatmap(np.zeros((3, 4)))
    assert top == 0 and np.allclose(flat, RAMP[0])


def _config(root, out, restorator, **extra) -> TrainConfig:
    return TrainConfig.from_dict({
        "out_dir": str(out), "steps": 2, "batch": 2, "warmup": 1, "val_every": 2, "ckpt_every": 2, "loss": "l2",
        "model": {**dataclasses.asdict(TINY), "restorator": restorator, "schedule_steps": 50},
        "data": {"train": [str(root / "train")], "val": [str(root / "val")], "patch": 12, "min_scale": 2.0,
                 "target_points": 64, "val_crop": 24, "val_scales": [2.0]},
        **extra,
    })


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_training_an_iterative_model(image_folder, tmp_path, restorator):
    single = tmp_path / "single.safetensors"
    save_model(single, tiny_model())
    last = train(_config(image_folder, tmp_path / "run", restorator, init=str(single)), progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in log) and set(log[-1]["val"]) == {"x2"}
    model = load_model(last)
    assert model.cfg.restorator == restorator
    # the single-step weights were the start: the encoder moved only by two small steps
    start = tiny_model().state_dict()["encoder.head.weight"]
    assert (model.state_dict()["encoder.head.weight"] - start).abs().max() < 0.05


def test_freeze_encoder_trains_the_decoder_only(image_folder, tmp_path):
    single = tmp_path / "single.safetensors"
    save_model(single, tiny_model())
    cfg = _config(image_folder, tmp_path / "run", "diffusion", init=str(single), freeze_encoder=True)
    state = load_training(train(cfg, progress=False))
    before = tiny_model().state_dict()
    for part in ("model", "ema"):
        for key, value in state[part].items():
            if key.startswith(("encoder.", "global_encoder.")):
                assert torch.equal(value, before[key]), key
    assert not torch.equal(state["model"]["decoder.mlp.0.weight"], before["decoder.mlp.0.weight"])
    with pytest.raises(ConfigError, match="freeze_encoder needs init"):
        _config(image_folder, tmp_path / "x", "diffusion", freeze_encoder=True)


def test_init_refuses_an_iterative_model_for_a_single_step_run(image_folder, tmp_path):
    path = tmp_path / "diffusion.safetensors"
    save_model(path, tiny_model(restorator="diffusion"))
    with pytest.raises(ConfigError, match="cannot start"):
        train(_config(image_folder, tmp_path / "run", "single", init=str(path)), progress=False)


def test_training_pairs_are_a_function_of_seed_and_step(image_folder):
    cfg = _config(image_folder, "unused", "diffusion")
    batch = training_batch(load_images(cfg.data.train), cfg.data, 0, 3, range(2))
    model = FranNet(cfg.model)
    a, b = training_pair(model, batch), training_pair(model, batch)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    x_t, t, target = a
    assert x_t.shape == target.shape == (2, 64, 3) and t.shape == (2, 64) and ((0 <= t) & (t <= 1)).all()


@pytest.mark.parametrize("restorator", ITERATIVE)
def test_the_bundled_iterative_model_upscales_when_its_restorator_is_asked_for(capsys, tmp_path, photo, restorator):
    from frannet.pipeline import BUNDLED

    assert load_model(BUNDLED[restorator]).cfg.restorator == restorator
    out = tmp_path / "out.png"
    code, _, err = _run(capsys, "restore", photo, "-o", out, "--scale", "2", "--restorator", restorator,
                        "--steps", "2", "--samples", "2")
    assert code == 0, err
    assert Image.open(out).size == (74, 80)
