"""The CAM classifier: ResNet features, global average pooling, a bias-free 1x1 conv head."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pipeline.io.checkpoints import load_checkpoint
from pipeline.models.backbone import build_resnet, stage_channels


@dataclass
class ClassifierOutput:
    logits: torch.Tensor  # (B, K) image-level class scores
    features: torch.Tensor  # (B, C, h, w) last feature map
    class_maps: torch.Tensor  # (B, K, h, w) head applied at every position (raw CAMs)


class Classifier(nn.Module):
    """Multi-label classifier whose head, applied per position, gives the CAMs.

    Because the head is linear and bias-free, GAP(head(f)) == head(GAP(f)): the logits
    are the spatial mean of the class maps.
    """

    def __init__(self, arch: str, num_classes: int, pretrained: bool = False, output_stride: int = 16):
        super().__init__()
        network = build_resnet(arch, pretrained, output_stride)
        self.config = {"arch": arch, "num_classes": num_classes, "output_stride": output_stride}
        self.stem = nn.Sequential(network.conv1, network.bn1, network.relu, network.maxpool)
        self.stages = nn.Sequential(network.layer1, network.layer2, network.layer3, network.layer4)
        self.head = nn.Conv2d(stage_channels(network)[-1], num_classes, kernel_size=1, bias=False)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(images))

    def forward(self, images: torch.Tensor) -> ClassifierOutput:
        features = self.features(images)
        class_maps = self.head(features)
        return ClassifierOutput(class_maps.mean(dim=(2, 3)), features, class_maps)


def load_classifier(path: str | Path, fingerprint: str) -> Classifier:
    """The trained classifier saved at `path` for the dataset `fingerprint`."""
    checkpoint = load_checkpoint(path, fingerprint)
    model = Classifier(**checkpoint["meta"]["model"])
    model.load_state_dict(checkpoint["state_dict"])
    return model
