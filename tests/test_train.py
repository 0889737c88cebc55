import json

import pytest
import torch
from PIL import Image

from frannet.checkpoint import load_model, load_training
from frannet.config import ConfigError, DataConfig, TrainConfig
from frannet.data import list_images, load_images, training_batch
from frannet.models import FranNet
from frannet.train import learning_rate, train


def _config(root, out, **extra) -> TrainConfig:
    return TrainConfig.from_dict({
        "out_dir": str(out), "steps": 4, "batch": 2, "warmup": 1, "val_every": 2, "ckpt_every": 2,
        "model": {"channels": 8, "blocks": 1, "coarse_blocks": 1, "latent": 8, "hidden": 16, "decoder_layers": 2},
        "data": {"train": [str(root / "train")], "val": [str(root / "val")], "patch": 12, "max_scale": 4.0,
                 "target_points": 64, "val_crop": 32},
        **extra,
    })


def test_training_smoke_run(image_folder, tmp_path):
    cfg = _config(image_folder, tmp_path / "run")
    last = train(cfg, progress=False)
    assert last.name == "ckpt_0000004.safetensors"
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    vals = [r for r in log if "val" in r]
    assert [r["step"] for r in vals] == [2, 4]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in log)
    assert set(vals[-1]["val"]) == {"x2", "x4"}
    model = load_model(last)
    assert model.cfg == cfg.model


def test_resume_continues_the_same_run(image_folder, tmp_path):
    straight = train(_config(image_folder, tmp_path / "a"), progress=False)
    half = train(_config(image_folder, tmp_path / "b"), progress=False, until=2)
    assert load_training(half)["step"] == 2
    resumed = train(_config(image_folder, tmp_path / "b"), resume=half, progress=False)
    a, b = load_training(straight), load_training(resumed)
    assert b["step"] == 4
    for part in ("model", "ema"):
        for k in a[part]:
            torch.testing.assert_close(a[part][k], b[part][k], rtol=0, atol=1e-7)


def test_bf16_training_follows_the_float32_run_closely(image_folder, tmp_path):
    """bf16 autocast changes how the forward pass is computed, not what is learned: after a few
    steps the weights differ from the float32 run's (autocast was in effect) by a small part of
    how far training moved them, and a float32 run may be resumed in bf16 (bookkeeping, like threads)."""
    cfg = _config(image_folder, tmp_path / "f32")
    torch.manual_seed(cfg.seed)
    start = FranNet(cfg.model).state_dict()
    a = load_training(train(cfg, progress=False))["model"]
    half = train(_config(image_folder, tmp_path / "b16"), progress=False, until=2)
    b = load_training(train(_config(image_folder, tmp_path / "b16", bf16=True), resume=half, progress=False))["model"]
    moved = sum((a[k] - start[k]).square().sum() for k in a).sqrt()
    apart = sum((a[k] - b[k]).square().sum() for k in a).sqrt()
    assert 0 < apart < 0.1 * moved


def test_resume_refuses_a_different_model(image_folder, tmp_path):
    half = train(_config(image_folder, tmp_path / "c"), progress=False, until=2)
    other = _config(image_folder, tmp_path / "c", lr=1e-3)
    with pytest.raises(ConfigError, match="lr"):
        train(other, resume=half, progress=False)


def test_batches_are_a_function_of_seed_and_step(image_folder):
    cfg = _config(image_folder, "unused").data
    images = load_images(cfg.train)
    a = training_batch(images, cfg, 0, 5, range(3))
    b = training_batch(images, cfg, 0, 5, range(3))
    c = training_batch(images, cfg, 0, 6, range(3))
    assert torch.equal(a.lr, b.lr) and torch.equal(a.points, b.points)
    assert not torch.equal(a.lr, c.lr)
    tail = training_batch(images, cfg, 0, 5, [1, 2])  # a share of the batch is the same examples
    assert torch.equal(tail.lr, a.lr[1:]) and torch.equal(tail.target, a.target[1:])
    assert a.lr.shape == (3, 3, 12, 12) and a.points.shape == (3, 64, 2) and a.target.shape == (3, 64, 3)
    assert ((a.degradation[:, :2] >= 1) & (a.degradation[:, :2] <= 4.1)).all()
    assert (a.degradation[:, 2:] == 0).all()  # no noise, colour inputs: plain super-resolution
    assert ((a.points > 0) & (a.points < 1)).all()


def test_targets_are_the_crop_pixels_at_the_points(image_folder):
    """With scale 1 the LR patch is the crop itself: each target is the LR pixel under its point."""
    cfg = _config(image_folder, "unused", data={"train": [str(image_folder / "train")], "patch": 12,
                                                 "min_scale": 1.0, "max_scale": 1.0, "target_points": 50}).data
    batch = training_batch(load_images(cfg.train), cfg, 1, 0, range(2))
    cols = (batch.points[..., 0] * 12).long()
    rows = (batch.points[..., 1] * 12).long()
    for i in range(2):
        lr_at = batch.lr[i][:, rows[i], cols[i]].T
        torch.testing.assert_close(lr_at, batch.target[i], atol=0.5 / 255 + 1e-6, rtol=0)


def test_learning_rate_schedule():
    cfg = TrainConfig(steps=100, warmup=10, lr=1e-3, min_lr=1e-5)
    assert learning_rate(cfg, 0) == pytest.approx(1e-4)
    assert learning_rate(cfg, 10) == pytest.approx(1e-3)
    assert learning_rate(cfg, 100) == pytest.approx(1e-5)
    assert learning_rate(cfg, 50) < learning_rate(cfg, 30)


def test_config_files_are_validated(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('steps = 10\nlearning_rate = 0.1\n')
    with pytest.raises(ConfigError, match="unknown key.*learning_rate"):
        TrainConfig.load(bad)
    bad.write_text('[model]\nchannels = -3\n')
    with pytest.raises(ConfigError, match="channels"):
        TrainConfig.load(bad)
    bad.write_text('steps = [\n')
    with pytest.raises(ConfigError, match="TOML"):
        TrainConfig.load(bad)
    with pytest.raises(ConfigError, match="no such"):
        TrainConfig.load(tmp_path / "missing.toml")


def test_committed_configs_are_valid():
    from pathlib import Path

    for path in (Path(__file__).parents[1] / "configs").glob("*.toml"):
        TrainConfig.load(path)


def test_a_new_phase_can_start_from_trained_weights(image_folder, tmp_path):
    first = train(_config(image_folder, tmp_path / "p1"), progress=False)
    cfg = _config(image_folder, tmp_path / "p2", init=str(first), steps=1)
    second = train(cfg, progress=False)
    before, after = load_training(first)["ema"], load_training(second)["ema"]
    # one step from the first phase's EMA: close to it, far from a fresh initialisation
    fresh = train(_config(image_folder, tmp_path / "p3", steps=1), progress=False)
    k = "decoder.mlp.0.weight"
    assert (after[k] - before[k]).abs().max() < (load_training(fresh)["ema"][k] - before[k]).abs().max()
    bad = _config(image_folder, tmp_path / "p4", init=str(first), model={"channels": 4})
    with pytest.raises(ConfigError, match="init"):
        train(bad, progress=False)


def test_excluded_train_images_are_left_out(tmp_path):
    for name in ("keep.png", "retina.png", "sub/retina_2.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    names = [p.name for p in list_images([tmp_path], exclude=("retina*",))]
    assert names == ["keep.png"]
    assert len(list_images([tmp_path])) == 3


@pytest.mark.parametrize("unshuffle", [1, 2])
def test_a_deeper_model_starts_from_a_shallower_one_unchanged(unshuffle):
    import dataclasses

    from frannet import FranNet
    from frannet.train import _start_from

    from tiny import tiny_model

    shallow = tiny_model(tunable=True, unshuffle=unshuffle)  # 1 trunk block, 1 coarse, modulated
    deep_cfg = dataclasses.replace(shallow.cfg, blocks=3)
    deep = FranNet(deep_cfg)
    _start_from(deep, shallow, TrainConfig.from_dict({"init": "shallow", "model": dataclasses.asdict(deep_cfg)}))
    lr, points = torch.rand(2, 3, 13, 10), torch.rand(2, 50, 2)
    degradation = torch.tensor([[1.0, 1.0, 25.0, 0.0], [2.0, 2.0, 60.0, 1.0]])
    torch.testing.assert_close(deep.eval()(lr, degradation, points), shallow(lr, degradation, points), rtol=0, atol=1e-6)
    assert len(deep.encoder.body) == 3
    with pytest.raises(ConfigError, match="init"):  # deeper, but also wider: refused
        _start_from(FranNet(dataclasses.replace(deep_cfg, channels=16)), shallow,
                    TrainConfig.from_dict({"init": "shallow", "model": dataclasses.asdict(dataclasses.replace(deep_cfg, channels=16))}))


@pytest.mark.parametrize("tunable", [False, True])
def test_a_jpeg_aware_model_starts_from_one_told_less_unchanged(tunable):
    import dataclasses

    from frannet import FranNet
    from frannet.train import _start_from

    from tiny import tiny_model

    plain = tiny_model(tunable=tunable)
    aware_cfg = dataclasses.replace(plain.cfg, tunable=True, jpeg=True)
    aware = FranNet(aware_cfg)
    _start_from(aware, plain, TrainConfig.from_dict({"init": "plain", "model": dataclasses.asdict(aware_cfg)}))
    lr, points = torch.rand(2, 3, 13, 10), torch.rand(2, 50, 2)
    told = torch.tensor([[2.0, 2.0, 0.0, 0.0], [3.0, 2.5, 0.0, 0.0]])
    if tunable:
        told[1, 2:] = torch.tensor([30.0, 1.0])
    with_jpeg = torch.cat([told, torch.tensor([[0.0], [0.7]])], dim=1)  # the new entry is read with zero weights
    torch.testing.assert_close(aware.eval()(lr, with_jpeg, points), plain(lr, told, points), rtol=0, atol=1e-6)
    with pytest.raises(ConfigError, match="told less"):
        _start_from(FranNet(plain.cfg), aware, TrainConfig.from_dict({"init": "aware", "model": dataclasses.asdict(plain.cfg)}))


@pytest.mark.parametrize("tunable", [False, True])
def test_a_model_for_a_wider_scale_range_starts_unchanged_within_the_old_one(tunable):
    import dataclasses

    from frannet import FranNet
    from frannet.train import _start_from

    from tiny import tiny_model

    narrow = tiny_model(tunable=tunable)
    with torch.no_grad():  # a trained model reads its scale condition; a fresh one's modulation ignores it
        for p in narrow.parameters():
            p.add_(0.05 * torch.randn_like(p))
    wide_cfg = dataclasses.replace(narrow.cfg, max_scale=8.0)
    wide = FranNet(wide_cfg)
    _start_from(wide, narrow, TrainConfig.from_dict({"init": "narrow", "model": dataclasses.asdict(wide_cfg)}))
    lr, points = torch.rand(2, 3, 13, 10), torch.rand(2, 50, 2)
    within = torch.tensor([[1.5, 1.5], [3.0, 4.0]])
    torch.testing.assert_close(wide.eval()(lr, within, points), narrow.eval()(lr, within, points), rtol=0, atol=1e-5)
    beyond = torch.tensor([[6.0, 6.0], [8.0, 8.0]])  # the narrow model is told x4 (its clamp); the wide one, x6 and x8
    assert (wide(lr, beyond, points) - narrow(lr, beyond, points)).abs().max() > 1e-3


def test_a_scale_focus_gets_its_share_of_examples_and_the_whole_range_the_rest(image_folder):
    cfg = DataConfig(train=(str(image_folder / "train"),), patch=8, min_scale=1.0, max_scale=8.0, anisotropic=0.0,
                     target_points=4, scale_focus=(1.0, 4.0), scale_focus_share=0.5)
    scale = training_batch(load_images(cfg.train), cfg, 0, 0, range(400)).degradation[:, 0]
    assert ((scale <= 4).float().mean().item() == pytest.approx(0.5 + 0.5 * 3 / 7, abs=0.07))
    assert scale.max() > 7
    with pytest.raises(ValueError, match="scale_focus"):
        DataConfig(max_scale=4.0, scale_focus=(1.0, 6.0), scale_focus_share=0.5)


def test_jpeg_examples_are_saved_at_the_drawn_quality(image_folder):
    import numpy as np

    from frannet.jpeg_quality import quality_from_pixels

    cfg = DataConfig(train=(str(image_folder / "train"),), patch=32, min_scale=1.0, max_scale=1.0, target_points=16,
                     jpeg_share=1.0, jpeg_quality=(30, 30), jpeg_full_chroma=0.0, jpeg_twice=0.0)
    batch = training_batch(load_images(cfg.train), cfg, 0, 0, range(3))
    assert torch.allclose(batch.degradation[:, 4], torch.tensor(70 / 90))
    for lr in batch.lr:
        assert quality_from_pixels(np.round(lr.permute(1, 2, 0).numpy() * 255)) == 30  # the real encoder's grid
    plain = DataConfig(**{**cfg.__dict__, "jpeg_share": 0.0})
    assert (training_batch(load_images(cfg.train), plain, 0, 0, range(3)).degradation[:, 4] == 0).all()
