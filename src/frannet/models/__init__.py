"""FranNet model: a CNN encoder and a coordinate decoder."""

from .frannet import Encoding, FranNet

__all__ = ["Encoding", "FranNet"]
