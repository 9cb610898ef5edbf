"""Affinity pairs and their loss (Ahn and Kwak, CVPR 2018), kept local and sparse.

Pairs link every position to its neighbours within `radius` at the feature stride,
stored as (offsets, h, w) tensors: memory grows with the pixel count, never its square.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.core.labels import IGNORE_INDEX
from pipeline.distributed.reduce import global_batch_scale


def half_offsets(radius: int) -> list[tuple[int, int]]:
    """Offsets (dy, dx) to the neighbours within `radius`, one of each +/- pair."""
    return [(dy, dx) for dy in range(0, radius) for dx in range(-radius + 1, radius)
            if 0 < dy * dy + dx * dx < radius * radius and (dy > 0 or dx > 0)]


def _shift(tensor: torch.Tensor, dy: int, dx: int, fill: float) -> torch.Tensor:
    """tensor[..., y + dy, x + dx] at position (y, x); `fill` outside."""
    pad = max(abs(dy), abs(dx))
    padded = F.pad(tensor, (pad, pad, pad, pad), value=fill)
    height, width = tensor.shape[-2:]
    return padded[..., pad + dy:pad + dy + height, pad + dx:pad + dx + width]


def pair_affinities(features: torch.Tensor, offsets: list[tuple[int, int]]) -> torch.Tensor:
    """a_ij = exp(-mean_c |f_i - f_j|) for each offset: (B, C, h, w) -> (B, n, h, w)."""
    return torch.stack(
        [torch.exp(-(features - _shift(features, dy, dx, 0.0)).abs().mean(dim=1)) for dy, dx in offsets], dim=1
    )


def pair_targets(labels: torch.Tensor, offsets: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Masks (B, n, h, w) of background-positive, foreground-positive and negative pairs.

    Pairs touching an ignored (255) position or leaving the map belong to none.
    """
    neighbours = torch.stack([_shift(labels, dy, dx, IGNORE_INDEX) for dy, dx in offsets], dim=1)
    centre = labels[:, None].expand_as(neighbours)
    valid = (centre != IGNORE_INDEX) & (neighbours != IGNORE_INDEX)
    same = valid & (centre == neighbours)
    return same & (centre == 0), same & (centre > 0), valid & (centre != neighbours)


def affinity_loss(affinities: torch.Tensor, labels: torch.Tensor, offsets: list[tuple[int, int]]) -> dict[str, torch.Tensor]:
    """Balanced loss: -log a on bg- and fg-positive pairs, -log(1 - a) on negatives."""
    bg_pos, fg_pos, negative = pair_targets(labels, offsets)
    eps = 1e-5

    def mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        count = mask.sum()
        return (values * mask).sum() / count.clamp(min=1) * global_batch_scale(count)

    return {
        "bg_pos": mean(-torch.log(affinities + eps), bg_pos) / 4,
        "fg_pos": mean(-torch.log(affinities + eps), fg_pos) / 4,
        "neg": mean(-torch.log(1 + eps - affinities), negative) / 2,
    }
