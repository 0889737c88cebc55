"""Restorators turn an encoder + decoder into an image."""

from .single_step import render

__all__ = ["render"]
