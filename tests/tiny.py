"""Tiny random FranNet models for fast tests."""

from __future__ import annotations

import dataclasses

import json

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from frannet import FranNet, ModelConfig, save_model

TINY = ModelConfig(channels=8, blocks=1, coarse_blocks=1, latent=8, hidden=16, decoder_layers=2, fourier_bands=2)
TINY_TUNABLE = dataclasses.replace(TINY, tunable=True)


def tiny_model(seed: int = 0, randomize_head: bool = True, tunable: bool = False, unshuffle: int = 1,
               restorator: str = "single", jpeg: bool = False) -> FranNet:
    """A small random FranNet; the residual head (and a tunable model's modulation) is
    randomised so the output is not plain bicubic and does depend on the condition. ``jpeg``:
    tunable and told the JPEG quality too."""
    torch.manual_seed(seed)
    model = FranNet(dataclasses.replace(TINY_TUNABLE if tunable or jpeg else TINY, unshuffle=unshuffle,
                                        restorator=restorator, jpeg=jpeg))
    if randomize_head:
        torch.nn.init.normal_(model.decoder.mlp[-1].weight, std=0.1)
    if tunable or jpeg:
        torch.nn.init.normal_(model.encoder.modulation.net[-1].weight, std=0.5)
    return model.eval()


def older_file(path, model, card: dict) -> None:
    """A model file as saved before descriptors: the same tensors, no descriptor."""
    save_model(path, model, task="denoise" if model.cfg.tunable else None)

    with safe_open(str(path), framework="pt") as fh:
        meta, tensors = fh.metadata(), {k: fh.get_tensor(k) for k in fh.keys()}
    del meta["descriptor"]
    meta["card"] = json.dumps(card)
    save_file(tensors, str(path), metadata=meta)
