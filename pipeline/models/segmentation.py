"""DeepLabV3 from torchvision: ResNet-50/101 builders, or the same head on a smaller ResNet."""
from __future__ import annotations

from torch import nn
from torchvision.models import ResNet50_Weights, ResNet101_Weights
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101
from torchvision.models.segmentation.deeplabv3 import DeepLabHead, DeepLabV3

from pipeline.errors import PipelineError
from pipeline.models.backbone import build_resnet, stage_channels

SEGMENTATION_ARCHITECTURES = ("resnet18", "resnet34", "resnet50", "resnet101")


def build_deeplab(arch: str, num_labels: int, pretrained_backbone: bool) -> DeepLabV3:
    """DeepLabV3 (ASPP head, output stride 8 for ResNet-50/101, 16 for the small ResNets)."""
    if arch == "resnet50":
        weights = ResNet50_Weights.DEFAULT if pretrained_backbone else None
        return _guarded(lambda: deeplabv3_resnet50(weights=None, weights_backbone=weights, num_classes=num_labels), arch)
    if arch == "resnet101":
        weights = ResNet101_Weights.DEFAULT if pretrained_backbone else None
        return _guarded(lambda: deeplabv3_resnet101(weights=None, weights_backbone=weights, num_classes=num_labels), arch)
    if arch not in SEGMENTATION_ARCHITECTURES:
        raise PipelineError(f"unknown DeepLab backbone {arch!r}; known: {', '.join(SEGMENTATION_ARCHITECTURES)}")
    network = build_resnet(arch, pretrained_backbone, output_stride=16)
    backbone = IntermediateLayerGetter(network, return_layers={"layer4": "out"})
    return DeepLabV3(backbone, DeepLabHead(stage_channels(network)[-1], num_labels))


def _guarded(build, arch: str) -> DeepLabV3:
    try:
        return build()
    except (OSError, RuntimeError) as exc:
        raise PipelineError(
            f"cannot load pretrained {arch} weights ({exc}); put them into $TORCH_HOME/hub/checkpoints "
            "or set pretrained: false"
        ) from exc


def load_backbone_from_classifier(model: DeepLabV3, classifier_state: dict) -> int:
    """Start DeepLab's backbone from the trained classifier's (same architecture).

    The classifier saw image-level labels only, so this adds no pixel supervision; it is
    the CPU demo's stand-in for ImageNet weights. Returns the number of tensors copied.
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
    matched = {k: v for k, v in renamed.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise PipelineError("the classifier's backbone does not match DeepLab's; use the same arch or init: scratch")
    model.backbone.load_state_dict(matched, strict=False)
    return len(matched)


def head_parameters(model: DeepLabV3) -> list[nn.Parameter]:
    return list(model.classifier.parameters())
