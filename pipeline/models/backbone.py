"""torchvision ResNets with a chosen output stride and optional pretrained weights."""
from __future__ import annotations

from torch import nn
from torchvision import models

from pipeline.core.errors import PipelineError

OUTPUT_STRIDES = (8, 16, 32)
ARCHITECTURES = {
    "resnet18": (models.resnet18, models.ResNet18_Weights),
    "resnet34": (models.resnet34, models.ResNet34_Weights),
    "resnet50": (models.resnet50, models.ResNet50_Weights),
    "resnet101": (models.resnet101, models.ResNet101_Weights),
}


def _dilate(stage: nn.Sequential, dilation: int) -> None:
    """Turn a stride-2 stage into a stride-1 stage with dilated 3x3 convolutions.

    Follows torchvision's own dilation scheme (the first block keeps dilation 1) but
    works for BasicBlock too, whose constructor refuses dilation.
    """
    for block_index, block in enumerate(stage):
        for module in block.modules():
            if isinstance(module, nn.Conv2d) and module.stride == (2, 2):
                module.stride = (1, 1)
            if block_index > 0 and isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3):
                module.dilation = (dilation, dilation)
                module.padding = (dilation, dilation)


def build_resnet(arch: str, pretrained: bool, output_stride: int = 16) -> models.ResNet:
    """A torchvision ResNet; `pretrained` loads ImageNet weights through the weights API."""
    if arch not in ARCHITECTURES:
        raise PipelineError(f"unknown backbone {arch!r}; known: {', '.join(ARCHITECTURES)}")
    builder, weights_enum = ARCHITECTURES[arch]
    try:
        network = builder(weights=weights_enum.DEFAULT if pretrained else None)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        raise pretrained_weights_error(arch, weights_enum, exc) from exc
    if output_stride == 16:
        _dilate(network.layer4, 2)
    elif output_stride == 8:
        _dilate(network.layer3, 2)
        _dilate(network.layer4, 4)
    elif output_stride != 32:
        raise PipelineError(f"output stride {output_stride} is not supported; use 8, 16 or 32")
    return network


def pretrained_weights_error(arch: str, weights_enum, exc: Exception) -> PipelineError:
    """The one-line error for ImageNet weights that cannot be loaded (no network here, say)."""
    return PipelineError(
        f"cannot load pretrained {arch} weights ({exc}); put the file from {weights_enum.DEFAULT.url} "
        "into $TORCH_HOME/hub/checkpoints or set pretrained: false"
    )


def stage_channels(network: models.ResNet) -> list[int]:
    """Output channels of layer1..layer4."""
    return [out_channels(stage) for stage in (network.layer1, network.layer2, network.layer3, network.layer4)]


def out_channels(stage: nn.Sequential) -> int:
    """Channels a ResNet stage outputs (BasicBlock or Bottleneck)."""
    last = stage[-1]
    return (last.bn3 if hasattr(last, "bn3") else last.bn2).num_features
