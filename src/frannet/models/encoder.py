"""CNN encoder: multi-resolution feature maps and one global latent per image."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig

GLOBAL_VIEW = 64  # the global latent sees the whole input shrunk to at most this many pixels a side


class ResBlock(nn.Module):
    def __init__(self, channels: int, res_scale: float = 1.0):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor, film: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        h = self.conv1(x)
        if film is not None:  # per-channel scale and shift from the degradation level
            gamma, beta = film
            h = torch.addcmul(beta, h, 1 + gamma)
        return torch.add(x, self.conv2(F.relu_(h)), alpha=self.res_scale)  # fused ops: fewer passes over the map


class Modulation(nn.Module):
    """AdaFM/CResMD-style tuning: the degradation condition (scale, noise level, gray flag)
    sets a per-channel scale and shift inside every residual block, so one network covers a
    continuous range of levels. It starts as the identity (zero-initialised output layer)."""

    def __init__(self, cond_dims: int, channels: int, blocks: int):
        super().__init__()
        self.blocks, self.channels = blocks, channels
        self.net = nn.Sequential(nn.Linear(cond_dims, 64), nn.ReLU(), nn.Linear(64, blocks * 2 * channels))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, cond: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        out = self.net(cond).view(cond.shape[0], self.blocks, 2, self.channels, 1, 1)
        return [(out[:, i, 0], out[:, i, 1]) for i in range(self.blocks)]


class Encoder(nn.Module):
    """EDSR-like trunk, then stride-2 levels for wider context.

    Returns maps of ``cfg.channels`` channels at 1, 1/2, 1/4 ... of the input, ``cfg.levels`` in
    all. With ``unshuffle = 2`` the trunk reads 2x2 pixel blocks (FFDNet-style) and so runs at
    half the resolution for a quarter of the cost: it is the 1/2 map itself, and the maps start
    there. The full-resolution level is then a 1x1 convolution and pixel shuffle of it, which
    ``project_full`` fuses with the decoder's projection. A tunable model modulates every
    residual block by the degradation condition.
    """

    def __init__(self, cfg: ModelConfig, cond_dims: int):
        super().__init__()
        c, u = cfg.channels, cfg.unshuffle
        self.unshuffle = u
        self.head = nn.Conv2d(3 * u * u, c, 3, padding=1)
        self.body = nn.ModuleList(ResBlock(c, 0.5) for _ in range(cfg.blocks))
        self.tail = nn.Conv2d(c, c, 3, padding=1)
        self.expand = nn.Conv2d(c, c * u * u, 1) if u > 1 else None
        self.down = nn.ModuleList()
        self.coarse = nn.ModuleList()
        for _ in range(cfg.levels - u):  # the unshuffled trunk already is the 1/2 level
            self.down.append(nn.Sequential(nn.Conv2d(c, c, 3, stride=2, padding=1), nn.ReLU()))
            self.coarse.append(nn.ModuleList(ResBlock(c, 0.5) for _ in range(cfg.coarse_blocks)))
        n_blocks = cfg.blocks + len(self.coarse) * cfg.coarse_blocks
        self.modulation = Modulation(cond_dims, c, n_blocks) if cfg.tunable else None

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> list[torch.Tensor]:
        films = iter(self.modulation(cond) if self.modulation is not None else [])
        x = self.trunk_input(x)
        if not self.training:  # channels-last: inference about a quarter faster; training was no faster
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.head(x)
        t = h
        for block in self.body:
            t = block(t, next(films, None))
        maps = [h + self.tail(t)]
        for down, blocks in zip(self.down, self.coarse):
            t = down(maps[-1])
            for block in blocks:
                t = block(t, next(films, None))
            maps.append(t)
        return maps

    def trunk_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the head convolution reads: the input centred, and unshuffled if the model is."""
        x = x - 0.5
        if self.unshuffle > 1:  # odd sizes: repeat the last row/column to whole blocks
            x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2), mode="replicate")
            x = F.pixel_unshuffle(x, 2)
        return x

    def project_full(self, trunk: torch.Tensor, project: nn.Conv2d, size: tuple[int, int]) -> torch.Tensor:
        """``project`` of the unshuffled trunk's full-resolution map, cropped to ``size``, as
        (B, H, W, out) channels-last: what the decoder looks up at level 0.

        The map would be ``pixel_shuffle(expand(trunk))``. Both 1x1 convolutions are linear and
        the shuffle only moves values, so they compose into one 1x1 convolution at the trunk's
        resolution whose output channel (sub-pixel s, o) is ``project`` row o applied to
        ``expand``'s rows for s. The full map at the trunk's width is never built, and the
        shuffle writes the decoder's layout directly.
        """
        u, c = self.unshuffle, self.expand.in_channels
        expand_w = self.expand.weight.view(c, u * u, c)  # expand's output channel k * u^2 + s
        project_w = project.weight.view(-1, c)
        weight = torch.einsum("ok,ksi->soi", project_w, expand_w).reshape(-1, c, 1, 1)
        bias = (torch.einsum("ok,ks->so", project_w, self.expand.bias.view(c, u * u)) + project.bias).reshape(-1)
        b, _, h, w = trunk.shape
        out = F.conv2d(trunk, weight, bias).permute(0, 2, 3, 1)  # (B, h, w, u * u * out)
        out = out.reshape(b, h, w, u, u, -1).transpose(2, 3).reshape(b, h * u, w * u, -1)
        return out[:, :size[0], :size[1]].contiguous()


def deepen(shallow: Encoder, deep: Encoder) -> dict[str, torch.Tensor]:
    """``shallow``'s weights laid onto ``deep``, which has more trunk blocks: the extra blocks
    follow the old ones and start as the identity (their second convolution is zero, and so is
    their modulation), so the deeper encoder computes exactly what the shallower one did and
    training goes on from there."""
    state = {k: v.clone() for k, v in deep.state_dict().items()}
    kept, added = len(shallow.body), len(deep.body) - len(shallow.body)
    for key, value in shallow.state_dict().items():
        if key.startswith("modulation.net.2."):  # rows (blocks, 2, channels): coarse blocks move down
            old = value.view(-1, 2 * deep.modulation.channels, *value.shape[1:])
            new = torch.zeros_like(state[key]).view(-1, *old.shape[1:])
            new[:kept] = old[:kept]
            new[kept + added:] = old[kept:]
            state[key] = new.view_as(state[key])
        else:
            state[key] = value
    for block in range(kept, len(deep.body)):
        state[f"body.{block}.conv2.weight"].zero_()
        state[f"body.{block}.conv2.bias"].zero_()
    return state


class GlobalEncoder(nn.Module):
    """One latent vector for the whole image, from a small view of all of it.

    The view is the input shrunk (area average) to at most ``GLOBAL_VIEW`` pixels a side, so
    the latent does not depend on how a large image is later cut into tiles.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        )
        self.fc = nn.Linear(128, cfg.latent)

    @staticmethod
    def view(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        shrink = max(h, w) / GLOBAL_VIEW
        if shrink <= 1:
            return x
        size = (max(1, round(h / shrink)), max(1, round(w / shrink)))
        return F.adaptive_avg_pool2d(x, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(self.view(x) - 0.5)
        pooled = torch.cat([h.mean(dim=(-2, -1)), h.amax(dim=(-2, -1))], dim=1)
        return self.fc(pooled)
