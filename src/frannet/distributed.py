"""Process-group plumbing for training under torchrun (DistributedDataParallel).

Without torchrun's environment (WORLD_SIZE unset or 1) everything is a no-op and training runs
in this process on the best device it has. Under torchrun, each process joins the group:
NCCL with one GPU per process when GPUs are present, gloo on CPUs.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


def process_share() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) without it. Needs no process group."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "Distributed":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available()
        device = torch.device("cuda", local_rank % torch.cuda.device_count()) if cuda else torch.device("cpu")
        if world == 1:
            return cls(device=device)
        if cuda:
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        return cls(rank=dist.get_rank(), world=dist.get_world_size(), device=device)

    def no_sync(self, net, skip: bool):
        """Skip DDP's gradient all-reduce for this backward (a micro-batch before the last)."""
        return net.no_sync() if skip and self.world > 1 else contextlib.nullcontext()

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()
