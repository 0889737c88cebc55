"""frannet: image restoration at any output resolution on an ordinary CPU."""

from .api import BUNDLED_MODEL, SAMPLE_IMAGE, colorize, denoise, load, output_size, restore, upscale
from .checkpoint import load_model, save_model
from .config import ModelConfig, TrainConfig
from .models import FranNet

__version__ = "0.1.0"
__all__ = ["BUNDLED_MODEL", "SAMPLE_IMAGE", "FranNet", "ModelConfig", "TrainConfig", "colorize", "denoise",
           "load", "load_model", "output_size", "restore", "save_model", "upscale"]
