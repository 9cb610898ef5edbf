"""Losses that divide by a count, over several processes.

DDP averages the gradients of the processes, which is the gradient of the global batch's
loss only where every process's loss is a mean over the same number of items. A loss that
divides a sum by a count that varies per batch (pixels not ignored, pairs of one kind)
scales its per-process mean by `global_batch_scale`, so that the N processes together
follow the loss one process computes over the whole batch: the sum over every process
divided by the count over every process.
"""
from __future__ import annotations

import torch
import torch.distributed as dist


def global_batch_scale(count: torch.Tensor) -> torch.Tensor:
    """This process's count over the mean count of every process (both at least 1); exactly
    1 in one process. No gradient flows through it."""
    local = count.detach().float().clamp(min=1)
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local / local
    total = count.detach().float().clone()
    dist.all_reduce(total)
    return local / (total / dist.get_world_size()).clamp(min=1)
