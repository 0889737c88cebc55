"""Interpolants, noise schedules and samplers (pure functions; no model owns a loop)."""

from .interpolants import Constant, Diffusion, Direction
from .noise import grid_coords, keyed_normal
from .samplers import ddim, ddim_step, ddpm, range_weight, timesteps, torch_noise, walk, walk_step
from .schedules import Schedule, cosine, linear, sigmoid

__all__ = ["Constant", "Diffusion", "Direction", "Schedule", "cosine", "ddim", "ddim_step", "ddpm", "grid_coords", "keyed_normal",
           "linear", "range_weight", "sigmoid", "timesteps", "torch_noise", "walk",
           "walk_step"]
