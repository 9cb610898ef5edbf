"""DeepLab's predictions as they are scored (and shown in the report)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.models.segmentation.deeplabv3 import DeepLabV3

from pipeline.core.config import listed
from pipeline.core.runtime import RuntimeParams
from pipeline.data.datasets import ImageDataset
from pipeline.data.transforms import denormalise
from pipeline.eval.context import read_context
from pipeline.eval.label_scores import LabelCounts
from pipeline.io.label_png import read_label_png
from pipeline.models.multiscale import multiscale_sum
from pipeline.refine.crf import DenseCrfParams, crf_probabilities
from pipeline.training.runtime import autocast


@dataclass
class EvaluateParams:
    """The `evaluate` section: test-time scales, flip and an optional dense CRF (null: none)."""

    scales: list[float] = listed([1.0], min_length=1, low=0.1, high=4.0)
    flip: bool = False
    crf: DenseCrfParams | None = None


@torch.no_grad()
def predict(model: DeepLabV3, image: torch.Tensor, params: EvaluateParams, device: torch.device,
            runtime: RuntimeParams) -> np.ndarray:
    """Label map of one normalised image (3, H, W), multi-scale / flip / CRF as configured.

    `model` must already be on `device` and in eval mode (the callers do it once)."""

    def probabilities_of(batch: torch.Tensor) -> torch.Tensor:
        with autocast(device, runtime):
            logits = model(batch)["out"].float()
        return torch.softmax(logits, dim=1)

    total = multiscale_sum(probabilities_of, image[None].to(device), params.scales, params.flip)[0].cpu()
    probabilities = (total / total.sum(dim=0, keepdim=True)).numpy()
    if params.crf is not None:
        probabilities = crf_probabilities(denormalise(image), probabilities, params.crf)
    return probabilities.argmax(axis=0).astype(np.uint8)


def score_predictions(model: DeepLabV3, dataset: ImageDataset, indices: Iterable[int], params: EvaluateParams,
                      device: torch.device, runtime: RuntimeParams) -> LabelCounts:
    """The counts of `model`'s predictions on the images `indices` of `dataset`, against their masks."""
    manifest = dataset.manifest
    counts = LabelCounts.empty(manifest.num_classes + 1)
    for i in indices:
        truth = read_label_png(manifest.mask_path(dataset.ids[i]))
        prediction = predict(model, dataset[i]["image"], params, device, runtime)
        counts.add(prediction, truth, read_context(manifest, dataset.ids[i], truth.shape))
    return counts
