"""AffinityNet: per-position embeddings whose L1 distance gives pairwise affinities.

Built on the trained classifier's backbone: features from every stage are projected,
brought to the stride of layer1 (4) and concatenated. The backbone is fine-tuned as in
AffinityNet (the default), or frozen as IRN does (`freeze_backbone`); frozen is cheaper
but only works when the backbone already encodes object boundaries (ImageNet weights do).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pipeline.core.errors import PipelineError
from pipeline.io.checkpoints import load_checkpoint
from pipeline.models.backbone import out_channels
from pipeline.models.classifier import Classifier
from pipeline.models.multiscale import resize_bilinear


def _projection(in_channels: int, width: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 1, bias=False), nn.GroupNorm(max(1, width // 8), width), nn.ReLU(inplace=True)
    )


class AffinityNet(nn.Module):
    """Embeddings (B, dim, H/4, W/4) from a classifier backbone's multi-level features."""

    stride = 4

    def __init__(self, classifier: Classifier, channels: list[int], dim: int, freeze_backbone: bool = False):
        super().__init__()
        self.stem = classifier.stem
        self.stages = classifier.stages
        if len(channels) != len(self.stages):
            raise PipelineError(
                f"params.yaml: train_affinity.channels has {len(channels)} widths; give one per backbone "
                f"stage ({len(self.stages)})"
            )
        self.config = {"channels": list(channels), "dim": dim}
        self.freeze_backbone = freeze_backbone
        for parameter in [*self.stem.parameters(), *self.stages.parameters()]:
            parameter.requires_grad_(not freeze_backbone)
        stage_channels = [out_channels(stage) for stage in self.stages]
        self.projections = nn.ModuleList(_projection(c, o) for c, o in zip(stage_channels, channels))
        self.embed = nn.Conv2d(sum(channels), dim, 1)

    def train(self, mode: bool = True) -> "AffinityNet":
        super().train(mode)
        if self.freeze_backbone:  # a frozen backbone keeps its batch-norm statistics
            self.stem.eval()
            self.stages.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_backbone):
            x = self.stem(images)
            levels = []
            for stage in self.stages:
                x = stage(x)
                levels.append(x)
        size = levels[0].shape[2:]
        projected = [
            resize_bilinear(projection(level), size)
            for projection, level in zip(self.projections, levels)
        ]
        return self.embed(torch.cat(projected, dim=1))

    def new_layers(self) -> list[nn.Module]:
        """The layers AffinityNet adds to the backbone."""
        return [self.projections, self.embed]


def load_affinity(path: str | Path, classifier: Classifier, fingerprint: str) -> AffinityNet:
    """The trained AffinityNet saved at `path`, on `classifier`'s backbone, for inference."""
    checkpoint = load_checkpoint(path, fingerprint)
    model = AffinityNet(classifier, **checkpoint["meta"]["model"], freeze_backbone=True)
    model.load_state_dict(checkpoint["state_dict"])
    return model
