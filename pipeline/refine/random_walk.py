"""Random walk over learned affinities (Ahn and Kwak, CVPR 2018), local and sparse.

The transition `T = D^-1 A^beta` links each position only to neighbours within
`radius`, stored as a (window, h, w) tensor: memory linear in the pixel count. The
published code builds a dense (hw x hw) matrix and squares it `exp_times` times, which
runs out of memory on large images; squaring a local operator fills it in, so here the
local operator is applied 2^exp_times times instead, which is the same product T^t v.
T is row-stochastic, so every position's class distribution stays a distribution and a
uniform region stays uniform.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.config import bounded


@dataclass
class RandomWalkParams:
    beta: float = bounded(8.0, 0.0)  # affinity exponent
    exp_times: int = bounded(8, 0, 12)  # 2^exp_times walk steps
    radius: int = bounded(5, 1)  # neighbourhood radius at the feature stride
    bg_power: float = bounded(8.0, 0.0)  # background map = (1 - max_c CAM_c)^bg_power


def window_mask(radius: int) -> torch.Tensor:
    """(2r+1)^2 booleans: which offsets of the square window lie within `radius`."""
    span = torch.arange(-radius, radius + 1)
    dy, dx = torch.meshgrid(span, span, indexing="ij")
    return (dy**2 + dx**2 < radius**2).flatten()


def _neighbours(tensor: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, (2r+1)^2, h*w): every position's window, zeros outside."""
    batch, channels, height, width = tensor.shape
    size = 2 * radius + 1
    return F.unfold(tensor, size, padding=radius).view(batch, channels, size * size, height * width)


def transition(features: torch.Tensor, radius: int, beta: float) -> torch.Tensor:
    """Row-stochastic local transition (B, (2r+1)^2, h*w) from embeddings (B, C, h, w).

    Entry k of position p is T[p, p + offset_k] = a^beta / sum over p's neighbours,
    a = exp(-mean_c |f_p - f_q|); neighbours outside the disk or the image get 0.
    """
    batch, channels, height, width = features.shape
    inside = _neighbours(torch.ones(batch, 1, height, width, dtype=features.dtype), radius)[:, 0] > 0
    inside &= window_mask(radius)[None, :, None]
    centre = features.view(batch, channels, 1, height * width)
    distance = torch.zeros(batch, inside.shape[1], height * width, dtype=features.dtype)
    for start in range(0, channels, 16):  # channel chunks bound the peak memory
        chunk = features[:, start:start + 16]
        distance += (centre[:, start:start + 16] - _neighbours(chunk, radius)).abs().sum(dim=1)
    affinity = torch.exp(-distance / channels).pow(beta) * inside
    return affinity / affinity.sum(dim=1, keepdim=True)


def propagate(maps: torch.Tensor, transition_matrix: torch.Tensor, radius: int, steps: int) -> torch.Tensor:
    """Apply the walk `steps` times: v <- T v, maps (B, K, h, w)."""
    batch, channels, height, width = maps.shape
    weights = transition_matrix[:, None]
    for _ in range(steps):
        maps = (_neighbours(maps, radius) * weights).sum(dim=2).view(batch, channels, height, width)
    return maps


def with_background(maps: np.ndarray, bg_power: float) -> np.ndarray:
    """Prepend the background map (1 - max_c A_c)^bg_power to foreground maps (n, H, W)."""
    peak = maps.max(axis=0) if len(maps) else np.zeros(maps.shape[1:], dtype=maps.dtype)
    return np.concatenate([np.power(1.0 - peak, bg_power)[None], maps])


def random_walk(maps: torch.Tensor, embeddings: torch.Tensor, params: RandomWalkParams) -> torch.Tensor:
    """Walk maps (B, K, h, w) over embeddings (B, C, h, w) at the same stride."""
    matrix = transition(embeddings, params.radius, params.beta)
    return propagate(maps, matrix, params.radius, 2**params.exp_times)
