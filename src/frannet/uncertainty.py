"""Uncertainty maps: the per-pixel std of several samples as a colour-mapped heatmap."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import Picture, write_image

# Nine evenly spaced colours of viridis (dark blue, low, to yellow, high), linearly interpolated.
RAMP = np.array([(68, 1, 84), (71, 45, 123), (59, 82, 139), (44, 114, 142), (33, 145, 140), (40, 174, 128),
                 (94, 201, 98), (173, 220, 48), (253, 231, 37)], dtype=np.float64) / 255.0
TOP_PERCENTILE = 99.5  # the ramp's top colour: one stray pixel does not darken the whole map


def heatmap(std: np.ndarray) -> tuple[np.ndarray, float]:
    """(H, W) std -> ((H, W, 3) colours in [0, 1], the std the top colour stands for)."""
    top = float(np.percentile(std, TOP_PERCENTILE)) if std.size else 0.0
    level = np.clip(std / top, 0.0, 1.0) if top > 0 else np.zeros_like(std)
    anchors = np.linspace(0.0, 1.0, len(RAMP))
    rgb = np.stack([np.interp(level, anchors, RAMP[:, c]) for c in range(3)], axis=-1)
    return rgb.astype(np.float32), top


def write_heatmap(path: str | Path, std: np.ndarray) -> float:
    """Write the heatmap of ``std`` (an image file, atomically); returns the std of its top colour."""
    rgb, top = heatmap(std)
    write_image(path, Picture(rgb=rgb))
    return top
