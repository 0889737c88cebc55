"""FranNet model: a CNN encoder and a coordinate decoder."""

from .frannet import Encoding, FranNet, native_bf16

__all__ = ["Encoding", "FranNet", "native_bf16"]
