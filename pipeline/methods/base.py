"""What a classifier-training method is: extra loss terms beside the multi-label loss."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from pipeline.data.voc import Manifest
from pipeline.models.classifier import Classifier, ClassifierOutput


@dataclass
class NoParams:
    """For methods without parameters."""


class TrainingMethod:
    """Base class: a method adds named loss terms to `L_cls` and may need pixel inputs.

    Subclasses set `Params` (a dataclass read from `train_classifier.methods.<name>`)
    and override `extra_losses`, and `pixel_targets` if they need per-pixel inputs
    (saliency maps, the few masks GAIN_ext may use).
    """

    Params: type = NoParams

    def __init__(self, params, manifest: Manifest, split: str, seed: int):
        self.params = params
        self.manifest = manifest
        self.split = split
        self.seed = seed

    def pixel_targets(self) -> dict:
        return {}

    def extra_losses(
        self, model: Classifier, batch: dict[str, torch.Tensor], output: ClassifierOutput, progress: float
    ) -> dict[str, torch.Tensor]:
        return {}
