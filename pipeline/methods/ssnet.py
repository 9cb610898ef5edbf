"""SSNet-style joint saliency (Zeng et al., ICCV 2019): class maps weighted by class scores
must add up to the image's class-agnostic saliency map."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pipeline.core.config import bounded
from pipeline.data.voc import read_saliency
from pipeline.methods.base import TrainingMethod


@dataclass
class SsnetParams:
    weight: float = bounded(1.0, 0.0)  # weight of L_s1


def aggregate_saliency(class_scores: torch.Tensor, class_maps: torch.Tensor) -> torch.Tensor:
    """The saliency aggregation module: S = sum_i v_i H_i, (B, K) x (B, K, h, w) -> (B, h, w)."""
    return (class_scores[:, :, None, None] * class_maps).sum(dim=1)


def class_probabilities(class_maps: torch.Tensor) -> torch.Tensor:
    """H_i: a per-pixel softmax over a constant background score 0 and the K class maps,
    the background dropped, so that sum_i H_i < 1 at every pixel and S stays in (0, 1).

    SSNet's segmentation head gives such per-pixel class probabilities. A sigmoid per class
    (this project's first reading) let S start near K / 2 * v: above 1 with 5 classes, where
    the clamp before the BCE cut its gradient to zero, so the term never trained.
    """
    background = torch.zeros_like(class_maps[:, :1])
    return torch.softmax(torch.cat([background, class_maps], dim=1), dim=1)[:, 1:]


class SsnetMethod(TrainingMethod):
    """`weight * L_s1`: BCE between the aggregated map and the saliency map."""

    Params = SsnetParams

    def _saliency(self, image_id: str):
        return read_saliency(self.manifest.saliency_path(image_id))

    def pixel_targets(self) -> dict:
        return {"saliency": (self._saliency, 0.0)}

    def extra_losses(self, model, batch, output, progress):
        scores, maps = torch.sigmoid(output.logits.float()), class_probabilities(output.class_maps.float())
        aggregated = aggregate_saliency(scores, maps).clamp(1e-6, 1 - 1e-6)  # only where the maps saturate
        target = F.adaptive_avg_pool2d(batch["saliency"][:, None], aggregated.shape[1:])[:, 0]
        return {"ssnet_s1": self.params.weight * F.binary_cross_entropy(aggregated, target)}
