"""Dead-leaves images: occluding discs with power-law radii.

A classic stand-in for natural-image statistics (scale invariance, sharp occlusion edges,
flat and textured regions). Discs are drawn front to back into an "unpainted" mask, so the
first disc covering a pixel owns it. Some discs carry a sinusoidal grating, which adds the
fine periodic texture that plain dead leaves lack. Rendering happens at twice the size and
is shrunk with an antialiasing filter, so edges are band-limited like a lens would make them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def dead_leaves(size: int, rng: np.random.Generator, r_min: float = 2.0, r_max: float = 200.0,
                texture_share: float = 0.3, max_discs: int = 20000) -> np.ndarray:
    """A (size, size, 3) uint8 image."""
    big = 2 * size
    canvas = np.zeros((big, big, 3), np.float32)
    empty = np.ones((big, big), bool)
    yy, xx = np.mgrid[0:big, 0:big].astype(np.float32)
    lo, hi = (2 * r_min) ** -2, (2 * r_max) ** -2  # radius density ~ r^-3 by inverse-CDF sampling
    for _ in range(max_discs):
        r = (lo + (hi - lo) * rng.random()) ** -0.5
        cx, cy = rng.uniform(-r, big + r, size=2)
        x0, x1 = int(max(0, cx - r)), int(min(big, cx + r + 1))
        y0, y1 = int(max(0, cy - r)), int(min(big, cy + r + 1))
        if x0 >= x1 or y0 >= y1:
            continue
        sub_y, sub_x = yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]
        disc = ((sub_x - cx) ** 2 + (sub_y - cy) ** 2 <= r * r) & empty[y0:y1, x0:x1]
        if not disc.any():
            continue
        color = rng.random(3).astype(np.float32)
        if rng.random() < texture_share:
            freq = rng.uniform(0.05, 0.6)
            angle = rng.uniform(0, np.pi)
            wave = np.sin(freq * (np.cos(angle) * sub_x + np.sin(angle) * sub_y))
            other = rng.random(3).astype(np.float32)
            t = (0.5 + 0.5 * wave)[..., None]
            patch = color * t + other * (1 - t)
        else:
            patch = np.broadcast_to(color, disc.shape + (3,))
        canvas[y0:y1, x0:x1][disc] = patch[disc]
        empty[y0:y1, x0:x1] &= ~disc
        if not empty.any():
            break
    img = Image.fromarray(np.round(canvas * 255).astype(np.uint8))
    return np.asarray(img.resize((size, size), Image.LANCZOS))
