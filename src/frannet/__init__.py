"""frannet: image restoration at any output resolution on an ordinary CPU."""

from .api import (BUNDLED_MODEL, SAMPLE_IMAGE, colorize, denoise, inpaint, load, output_size, reconstruct, restore, sense,
                  upscale)
from .checkpoint import load_model, save_model
from .config import ModelConfig, TrainConfig
from .models import FranNet

__version__ = "0.1.0"
__all__ = ["BUNDLED_MODEL", "SAMPLE_IMAGE", "FranNet", "ModelConfig", "TrainConfig", "colorize", "denoise",
           "inpaint", "load", "load_model", "output_size", "reconstruct", "restore", "save_model", "sense", "upscale"]
