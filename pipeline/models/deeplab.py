"""DeepLabV3 from torchvision: ResNet-50/101 builders, or the same head on a smaller ResNet."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet50_Weights, ResNet101_Weights
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101
from torchvision.models.segmentation.deeplabv3 import DeepLabHead, DeepLabV3

from pipeline.core.errors import PipelineError
from pipeline.io.checkpoints import load_checkpoint
from pipeline.models.backbone import build_resnet, pretrained_weights_error, stage_channels

DEEPLAB_ARCHITECTURES = ("resnet18", "resnet34", "resnet50", "resnet101")
_TORCHVISION_BUILDERS = {"resnet50": (deeplabv3_resnet50, ResNet50_Weights),
                         "resnet101": (deeplabv3_resnet101, ResNet101_Weights)}


class CentreTapConv2d(nn.Conv2d):
    """A dilated 3x3 convolution that skips the taps falling into the zero padding.

    When the dilation reaches the feature map's size, every off-centre tap of every output
    position reads padding, so the convolution equals a 1x1 convolution with the centre
    weights. DeepLab's ASPP rates (12, 24, 36) on the 6-8 px maps of small inputs are such
    a case: this computes the same function at a ninth of the cost.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] <= self.dilation[0] and x.shape[-1] <= self.dilation[1]:
            return F.conv2d(x, self.weight[:, :, 1:2, 1:2], self.bias)
        return super().forward(x)


def _centre_tap_aspp(model: DeepLabV3) -> None:
    """Swap ASPP's dilated 3x3 convolutions for CentreTapConv2d (same weights, same state_dict keys)."""
    for branch in model.classifier[0].convs:
        conv = branch[0]
        if isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3) and conv.dilation[0] > 1:
            replacement = CentreTapConv2d(conv.in_channels, conv.out_channels, 3, padding=conv.padding,
                                          dilation=conv.dilation, bias=conv.bias is not None)
            replacement.load_state_dict(conv.state_dict())
            branch[0] = replacement


def build_deeplab(arch: str, num_labels: int, pretrained_backbone: bool = False) -> DeepLabV3:
    """DeepLabV3 (ASPP head, output stride 8 for ResNet-50/101, 16 for the small ResNets)."""
    if arch not in DEEPLAB_ARCHITECTURES:
        raise PipelineError(f"unknown DeepLab backbone {arch!r}; known: {', '.join(DEEPLAB_ARCHITECTURES)}")
    if arch in _TORCHVISION_BUILDERS:
        builder, weights_enum = _TORCHVISION_BUILDERS[arch]
        try:
            model = builder(weights=None, weights_backbone=weights_enum.DEFAULT if pretrained_backbone else None,
                            num_classes=num_labels)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            raise pretrained_weights_error(arch, weights_enum, exc) from exc
    else:
        network = build_resnet(arch, pretrained_backbone, output_stride=16)
        backbone = IntermediateLayerGetter(network, return_layers={"layer4": "out"})
        model = DeepLabV3(backbone, DeepLabHead(stage_channels(network)[-1], num_labels))
    _centre_tap_aspp(model)
    model.config = {"arch": arch, "num_labels": num_labels}
    return model


def load_backbone_from_classifier(model: DeepLabV3, classifier_state: dict) -> None:
    """Start DeepLab's backbone from the trained classifier's (same architecture).

    The classifier saw image-level labels only, so this adds no pixel supervision; it is
    the CPU demo's stand-in for ImageNet weights. Every backbone tensor must load: a
    partial match is an error, not a silently half-initialised network.
    """
    renamed = {}
    for key, value in classifier_state.items():
        if key.startswith("stem.0."):
            renamed["conv1." + key[7:]] = value
        elif key.startswith("stem.1."):
            renamed["bn1." + key[7:]] = value
        elif key.startswith("stages."):
            index, rest = key[7:].split(".", 1)
            renamed[f"layer{int(index) + 1}.{rest}"] = value
    own = model.backbone.state_dict()
    missing = sorted(set(own) - set(renamed))
    unused = sorted(set(renamed) - set(own))
    mismatched = sorted(k for k in set(own) & set(renamed) if own[k].shape != renamed[k].shape)
    if missing or unused or mismatched:
        raise PipelineError(
            f"the classifier's backbone does not match DeepLab's ({len(missing)} tensors missing, {len(unused)} "
            f"unused, {len(mismatched)} of another shape, e.g. {(missing + unused + mismatched)[0]}); train both "
            "with the same arch (train_classifier.arch, train_segmentation.arch) or set train_segmentation.init: scratch"
        )
    model.backbone.load_state_dict({k: renamed[k] for k in own})


def load_deeplab(path: str | Path, fingerprint: str) -> DeepLabV3:
    """A trained DeepLab saved at `path` for the dataset `fingerprint`."""
    checkpoint = load_checkpoint(path, fingerprint)
    model = build_deeplab(**checkpoint["meta"]["model"])
    model.load_state_dict(checkpoint["state_dict"])
    return model
