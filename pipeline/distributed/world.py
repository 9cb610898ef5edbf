"""This process's place among the processes torchrun started, read from torchrun's variables.

Torch-free: the stage runner reads it before deciding to relaunch a stage under torchrun,
and the CRF stages (whose worker processes must not import torch) shard by it.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True)
class World:
    """Rank and size over all machines, and over this machine; one process is rank 0 of 1."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    run_id: str = "local"  # the same for every process of one launch (torchrun's run id)

    @classmethod
    def from_env(cls) -> World:
        """The world torchrun describes in this process's environment (one process without it)."""
        env = os.environ
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)),
                   int(env.get("LOCAL_WORLD_SIZE", 1)), env.get("TORCHELASTIC_RUN_ID", "local"))

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that merges shards and writes logs, checkpoints and metrics."""
        return self.rank == 0

    def shard(self, items: Sequence[Item]) -> list[Item]:
        """This process's share of `items`: every size-th one, starting at its rank."""
        return list(items[self.rank::self.size])
