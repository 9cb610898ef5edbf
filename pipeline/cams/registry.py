"""The registry of post-hoc class-map methods (`extract_cams.method`).

A map method takes the classifier, a batch of images and the class indices (0-based,
foreground) to map, and returns non-negative maps (B, len(classes), h, w) at the
feature resolution. Adding one is a function (here or in its own module) and one line
in `MAP_METHODS`.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from pipeline.cams.gradients import grad_cam, grad_cam_plus_plus, layer_cam
from pipeline.methods.ssnet import class_probabilities
from pipeline.models.classifier import Classifier

MapMethod = Callable[[Classifier, torch.Tensor, list[int]], torch.Tensor]


def cam(model: Classifier, images: torch.Tensor, classes: list[int]) -> torch.Tensor:
    """CAM (Zhou et al., 2016): ReLU of the head applied at every position."""
    with torch.no_grad():
        return F.relu(model(images).class_maps[:, classes])


def ssnet(model: Classifier, images: torch.Tensor, classes: list[int]) -> torch.Tensor:
    """SSNet's readout (Zeng et al., 2019): the per-pixel class probabilities `H_i` that its
    saliency loss trains to add up to the saliency map, i.e. a softmax over a background
    score 0 and every class map. Meant for a classifier trained with `method: ssnet`, whose
    raw CAMs spread over the objects at low values."""
    with torch.no_grad():
        return class_probabilities(model(images).class_maps.float())[:, classes]


def _gradient_method(weighting) -> MapMethod:
    def method(model: Classifier, images: torch.Tensor, classes: list[int]) -> torch.Tensor:
        with torch.no_grad():
            features = model.features(images)
        features.requires_grad_(True)
        with torch.enable_grad():
            scores = model.head(features).mean(dim=(2, 3))
            maps = weighting(scores, features, classes)
        return maps.detach()

    method.__doc__ = weighting.__doc__
    return method


MAP_METHODS: dict[str, MapMethod] = {
    "cam": cam,
    "gradcam": _gradient_method(grad_cam),
    "gradcampp": _gradient_method(grad_cam_plus_plus),
    "layercam": _gradient_method(layer_cam),
    "ssnet": ssnet,
}

