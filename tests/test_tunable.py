"""Denoising and colorization plumbing: noisy/gray training samples, the condition, DNI."""

import dataclasses
import shutil

import pytest
import torch
from PIL import Image
from tiny import TINY, TINY_TUNABLE, tiny_model

from frannet import FranNet, save_model
from frannet.checkpoint import CheckpointError, interpolate_models, load_model
from frannet.config import DataConfig
from frannet.data import load_images, training_batch, training_images
from frannet.degradations import Degradation
from frannet.restorators import render


def test_noisy_gray_photo_examples(image_folder):
    cfg = DataConfig(train=(str(image_folder / "train"),), patch=16, min_scale=1.0, max_scale=1.0,
                     target_points=256, noise=(25.0, 25.0), gray_photos=1.0)
    batch = training_batch(load_images(cfg.train), cfg, 0, 0, range(4))
    assert (batch.degradation == torch.tensor([1.0, 1.0, 25.0, 0.0, 0.0])).all()
    cols, rows = (batch.points[..., 0] * 16).long(), (batch.points[..., 1] * 16).long()
    noise = torch.stack([batch.lr[i][:, rows[i], cols[i]] - batch.target[i].T for i in range(4)])
    assert noise.std().item() == pytest.approx(25 / 255, rel=0.15)
    assert torch.allclose(batch.target[..., 0], batch.target[..., 1])  # gray targets
    assert torch.equal(noise[:, 0], noise[:, 1]) and torch.equal(noise[:, 1], noise[:, 2])  # one plane: a gray photo


def test_a_noise_focus_gets_its_share_of_examples_and_the_whole_range_the_rest(image_folder):
    cfg = DataConfig(train=(str(image_folder / "train"),), patch=8, min_scale=1.0, max_scale=1.0,
                     target_points=4, noise=(0.0, 75.0), noise_focus=(20.0, 30.0), noise_focus_share=0.5)
    sigma = training_batch(load_images(cfg.train), cfg, 0, 0, range(400)).degradation[:, 2]
    in_focus = ((sigma >= 20) & (sigma <= 30)).float().mean().item()
    assert in_focus == pytest.approx(0.5 + 0.5 * 10 / 75, abs=0.07)  # the focus share plus the range's own
    assert sigma.min() < 10 and sigma.max() > 65


def test_colorize_examples_have_gray_inputs_and_colour_targets(image_folder):
    cfg = DataConfig(train=(str(image_folder / "train"),), patch=16, max_scale=2.0, target_points=64, gray_input=1.0)
    batch = training_batch(load_images(cfg.train), cfg, 0, 0, range(4))
    assert (batch.degradation[:, 3] == 1).all() and (batch.degradation[:, 2] == 0).all()
    assert torch.equal(batch.lr[:, 0], batch.lr[:, 1]) and torch.equal(batch.lr[:, 1], batch.lr[:, 2])
    assert (batch.target[..., 0] - batch.target[..., 1]).abs().max() > 0.05  # the targets are in colour


def test_colour_training_leaves_gray_pictures_out(tmp_path, image_folder):
    folder = tmp_path / "train"
    shutil.copytree(image_folder / "train", folder)
    Image.open(folder / "0.png").convert("L").save(folder / "gray.png")
    Image.open(folder / "1.png").convert("L").convert("RGB").save(folder / "gray-in-rgb.png")
    colour = DataConfig(train=(str(folder),), patch=16, max_scale=2.0, gray_input=0.5)
    assert len(training_images(colour)) == 3
    assert len(training_images(dataclasses.replace(colour, gray_input=0.0))) == 5  # gray pictures denoise fine
    with pytest.raises(FileNotFoundError, match="no colour image"):
        training_images(dataclasses.replace(colour, exclude=("?.png",)))


def test_training_pictures_larger_than_max_side_are_shrunk(tmp_path, photo):
    folder = tmp_path / "train"
    folder.mkdir()
    Image.open(photo).resize((74, 80)).save(folder / "large.png")
    Image.open(photo).save(folder / "small.png")
    cfg = DataConfig(train=(str(folder),), patch=16, max_scale=2.0, max_side=50)
    assert [tuple(img.shape) for img in training_images(cfg)] == [(3, 50, 46), (3, 40, 37)]
    with pytest.raises(ValueError, match="max_side must be 0 or"):
        dataclasses.replace(cfg, max_side=31)  # smaller than the largest crop, 16 x 2


def test_a_plain_model_refuses_noise_and_gray(model):
    lr = torch.rand(1, 3, 12, 12)
    with pytest.raises(ValueError, match="only upscales"):
        model.encode(lr, torch.tensor([[2.0, 2.0, 25.0, 0.0]]))
    with pytest.raises(ValueError, match="only upscales"):
        model.encode(lr, torch.tensor([[2.0, 2.0, 0.0, 1.0]]))
    model.encode(lr, torch.tensor([[2.0, 2.0, 0.0, 0.0]]))  # the clean colour condition is fine


def test_the_noise_level_and_gray_flag_reach_a_tunable_model():
    net = tiny_model(tunable=True)
    lr = torch.rand(3, 20, 20)
    outs = ([render(net, lr, (20, 20), degradation=Degradation(sigma=s)) for s in (0.0, 25.0, 50.0)]
            + [render(net, lr, (20, 20), degradation=Degradation(gray=True))])
    for i in range(len(outs)):
        for j in range(i + 1, len(outs)):
            assert (outs[i] - outs[j]).abs().max() > 1e-4


@pytest.mark.parametrize("unshuffle", [1, 2])
def test_modulation_starts_as_the_identity(unshuffle):
    """A freshly constructed tunable model's encoder ignores the level until trained: its
    initialisation zeroes the modulation's output layer, so every block starts unmodulated."""
    torch.manual_seed(3)
    net = FranNet(dataclasses.replace(TINY_TUNABLE, unshuffle=unshuffle)).eval()
    lr = torch.rand(1, 3, 16, 16)
    plain = FranNet(dataclasses.replace(TINY, unshuffle=unshuffle)).eval()
    plain.encoder.load_state_dict({k: v for k, v in net.encoder.state_dict().items() if "modulation" not in k})
    unmodulated = plain.encoder(lr, torch.zeros(1, 4))
    for level in (torch.zeros(1, 6), torch.ones(1, 6), torch.tensor([[0.5, 0.2, 0.7, 0.3, 1.0, 1.0]])):
        maps = net.encoder(lr, level)
        assert all(torch.equal(x, y) for x, y in zip(maps, unmodulated))


def test_dni_endpoints_are_exact_and_the_middle_blends(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_model(a, tiny_model(seed=1, tunable=True), task="denoise")
    save_model(b, tiny_model(seed=2, tunable=True), task="denoise")
    sa, sb = load_model(a).state_dict(), load_model(b).state_dict()
    for alpha, expected in ((0.0, sa), (1.0, sb)):
        blended = interpolate_models(a, b, alpha).state_dict()
        assert all(torch.equal(blended[k], expected[k]) for k in sa)
    mid = interpolate_models(a, b, 0.3).state_dict()
    key = "encoder.head.weight"
    torch.testing.assert_close(mid[key], 0.7 * sa[key] + 0.3 * sb[key])


def test_dni_refuses_incompatible_models_and_bad_alphas(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_model(a, tiny_model(tunable=True), task="denoise")
    save_model(b, tiny_model())
    with pytest.raises(CheckpointError, match="architectures differ in tunable"):
        interpolate_models(a, b, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        interpolate_models(a, a, 1.5)


def test_config_validates_the_new_keys():
    with pytest.raises(ValueError, match="noise"):
        DataConfig(noise=(30.0, 10.0))
    with pytest.raises(ValueError, match="noise_focus"):
        DataConfig(noise=(0.0, 50.0), noise_focus=(40.0, 60.0), noise_focus_share=0.5)
    with pytest.raises(ValueError, match="gray_input"):
        DataConfig(gray_input=2.0)
    assert dataclasses.replace(DataConfig(), noise=(0.0, 75.0)).noise == (0.0, 75.0)
