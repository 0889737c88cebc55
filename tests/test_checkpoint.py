import json

import pytest
import torch
from safetensors.torch import save_file
from tiny import TINY, tiny_model

from frannet.checkpoint import CheckpointError, load_model, load_training, model_card, save_model, save_training
from frannet.config import TrainConfig


def _outputs(model):
    g = torch.Generator().manual_seed(0)
    lr, pts = torch.rand(1, 3, 9, 7, generator=g), torch.rand(1, 30, 2, generator=g)
    return model(lr, torch.tensor([[2.5, 3.0]]), pts)


def test_model_round_trip(tmp_path, model):
    path = tmp_path / "m.safetensors"
    save_model(path, model, card={"note": "tiny"})
    loaded = load_model(path)
    assert loaded.cfg == model.cfg
    assert torch.equal(_outputs(loaded), _outputs(model))
    assert model_card(path) == {"note": "tiny"}
    assert not any(p.name.endswith(".part") for p in tmp_path.iterdir())  # atomic: no temp file left


def test_half_precision_model_file(tmp_path, model):
    path = tmp_path / "m16.safetensors"
    save_model(path, model, half=True)
    torch.testing.assert_close(_outputs(load_model(path)), _outputs(model), atol=2e-3, rtol=0)


def test_training_checkpoint_round_trip(tmp_path):
    cfg = TrainConfig(model=TINY, steps=5)
    model, ema = tiny_model(1), tiny_model(2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(1, 3, 8, 8), torch.tensor([[2.0, 2.0]]), torch.rand(1, 5, 2)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.safetensors"
    save_training(path, model, ema, opt, 3, cfg)
    state = load_training(path)
    assert state["step"] == 3 and state["config"] == cfg
    assert all(torch.equal(state["model"][k], v) for k, v in model.state_dict().items())
    opt2 = torch.optim.AdamW(tiny_model(1).parameters(), lr=1e-3)
    opt2.load_state_dict(state["optimizer"])
    saved, loaded = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert saved.keys() == loaded.keys()
    for idx, slots in saved.items():
        assert all(torch.equal(torch.as_tensor(v), torch.as_tensor(loaded[idx][k])) for k, v in slots.items())
    # load_model on a training checkpoint gives its EMA weights
    assert torch.equal(_outputs(load_model(path)), _outputs(ema))


def test_truncated_and_foreign_files_are_clear_errors(tmp_path, model):
    path = tmp_path / "m.safetensors"
    save_model(path, model)
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(cut)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a frannet checkpoint"):
        load_model(foreign)
    with pytest.raises(CheckpointError, match="no such file"):
        load_model(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        load_training(path)


def test_mismatched_weights_are_a_clear_error(tmp_path, model):
    path = tmp_path / "m.safetensors"
    save_model(path, model)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    cfg = json.loads(meta["model"])
    cfg["channels"] = 12
    meta["model"] = json.dumps(cfg)
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(bad)


def test_flipped_bytes_are_detected_by_the_hash(tmp_path, model):
    path = tmp_path / "m.safetensors"
    save_model(path, model)
    data = bytearray(path.read_bytes())
    data[-7] ^= 0xFF  # inside the last tensor's bytes: the file still parses
    bad = tmp_path / "flipped.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_model(bad)
