"""Tiny random FranNet models for fast tests."""

from __future__ import annotations

import torch

from frannet import FranNet, ModelConfig

TINY = ModelConfig(channels=8, blocks=1, coarse_blocks=1, latent=8, hidden=16, decoder_layers=2, fourier_bands=2)


def tiny_model(seed: int = 0, randomize_head: bool = True) -> FranNet:
    """A small random FranNet; the residual head is randomised so the output is not plain bicubic."""
    torch.manual_seed(seed)
    model = FranNet(TINY)
    if randomize_head:
        torch.nn.init.normal_(model.decoder.mlp[-1].weight, std=0.1)
    return model.eval()
