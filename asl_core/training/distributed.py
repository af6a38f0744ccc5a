"""Several processes (torchrun): the process group, device choice and seeding."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as torch_dist


@dataclass
class DistContext:
    """Where this process stands in a torchrun launch (world_size 1 when alone)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    initialised_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def set_threads(self, threads: int | None) -> None:
        """torch's intra-op threads: `threads` when given, else under torchrun the cores
        shared out between the processes (alone and unset: torch's own choice)."""
        if threads is None and self.enabled:
            threads = max(1, (os.cpu_count() or 1) // self.world_size)
        if threads:
            torch.set_num_threads(threads)

    @classmethod
    def from_env(cls, device: torch.device) -> DistContext:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        initialised_here = False
        if not torch_dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch_dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
            initialised_here = True
        return cls(world_size, rank, local_rank, initialised_here)

    def barrier(self) -> None:
        if self.enabled:
            torch_dist.barrier()

    def broadcast(self, value: Any) -> Any:
        if not self.enabled:
            return value
        box = [value]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        if not self.enabled:
            return [value]
        out: list[Any] = [None] * self.world_size
        torch_dist.all_gather_object(out, value)
        return out

    def sum(self, values: Sequence[float]) -> list[float]:
        if not self.enabled:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64)
        torch_dist.all_reduce(tensor)
        return tensor.tolist()

    def shutdown(self) -> None:
        if self.initialised_here and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
