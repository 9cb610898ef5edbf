"""Gradient-weighted class maps on the last feature map (Grad-CAM, Grad-CAM++, LayerCAM)
and the max normalisation every map goes through.

Each takes image-level scores (B, K) and the features (B, C, h, w) they were computed
from, and returns non-negative maps (B, len(classes), h, w). `create_graph=True` keeps
the maps differentiable (GAIN trains through its Grad-CAM attention).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def max_normalise(maps: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Divide every map (..., H, W) by its own maximum."""
    return maps / (maps.flatten(-2).max(dim=-1).values[..., None, None] + eps)


def _gradients(scores: torch.Tensor, features: torch.Tensor, c: int, create_graph: bool) -> torch.Tensor:
    (grad,) = torch.autograd.grad(scores[:, c].sum(), features, create_graph=create_graph, retain_graph=True)
    return grad


def grad_cam(scores: torch.Tensor, features: torch.Tensor, classes: list[int], create_graph: bool = False) -> torch.Tensor:
    """ReLU(sum_k w_ck f_k), w_ck the spatial mean of d s_c / d f_k (Selvaraju et al., 2017)."""
    maps = []
    for c in classes:
        weights = _gradients(scores, features, c, create_graph).mean(dim=(2, 3), keepdim=True)
        maps.append(F.relu((weights * features).sum(dim=1)))
    return torch.stack(maps, dim=1)


def grad_cam_plus_plus(scores: torch.Tensor, features: torch.Tensor, classes: list[int], create_graph: bool = False) -> torch.Tensor:
    """Grad-CAM++ (Chattopadhay et al., 2018): second-order weights on positive gradients."""
    maps = []
    feature_sums = features.sum(dim=(2, 3), keepdim=True)
    for c in classes:
        grad = _gradients(scores, features, c, create_graph)
        grad2, grad3 = grad**2, grad**3
        denominator = 2 * grad2 + feature_sums * grad3
        alpha = torch.where(grad != 0, grad2 / torch.where(denominator != 0, denominator, torch.ones_like(denominator)), 0.0)
        weights = (alpha * F.relu(grad)).sum(dim=(2, 3), keepdim=True)
        maps.append(F.relu((weights * features).sum(dim=1)))
    return torch.stack(maps, dim=1)


def layer_cam(scores: torch.Tensor, features: torch.Tensor, classes: list[int], create_graph: bool = False) -> torch.Tensor:
    """LayerCAM (Jiang et al., 2021): every position weighted by its own positive gradient."""
    maps = [F.relu((F.relu(_gradients(scores, features, c, create_graph)) * features).sum(dim=1)) for c in classes]
    return torch.stack(maps, dim=1)
