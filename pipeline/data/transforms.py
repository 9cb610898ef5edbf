"""Tensors from images, and the random scale / crop / flip used in training."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.core.labels import scaled_size

# torchvision's ImageNet statistics: the pretrained weights expect them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 -> normalised float (3, H, W)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (tensor - mean) / std


def denormalise(tensor: torch.Tensor) -> np.ndarray:
    """Inverse of `to_tensor`: (3, H, W) -> uint8 HxWx3."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    image = (tensor.cpu() * std + mean).clamp(0, 1) * 255
    return image.permute(1, 2, 0).round().byte().numpy()


def random_scale_crop_flip(
    image: torch.Tensor,
    targets: dict[str, tuple[torch.Tensor, float]],
    crop_size: int,
    scale_range: tuple[float, float],
    generator: torch.Generator,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Rescale by a random factor, flip half the time, pad and crop to `crop_size`.

    `targets` maps a name to (per-pixel map (H, W), the value used for padding); label
    maps are resized with nearest neighbour, everything else bilinearly.
    """
    low, high = scale_range
    scale = low + (high - low) * torch.rand(1, generator=generator).item()
    size = scaled_size(image.shape[1:], scale)
    flip = torch.rand(1, generator=generator).item() < 0.5
    image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    resized = {}
    for name, (target, _fill) in targets.items():
        mode = "nearest" if target.dtype == torch.long else "bilinear"
        kwargs = {} if mode == "nearest" else {"align_corners": False}
        resized[name] = F.interpolate(target[None, None].float(), size=size, mode=mode, **kwargs)[0, 0].to(target.dtype)
    if flip:
        image = image.flip(-1)
        resized = {k: v.flip(-1) for k, v in resized.items()}
    pad_h, pad_w = max(crop_size - size[0], 0), max(crop_size - size[1], 0)
    top = int(torch.randint(0, size[0] + pad_h - crop_size + 1, (1,), generator=generator))
    left = int(torch.randint(0, size[1] + pad_w - crop_size + 1, (1,), generator=generator))

    def crop(tensor: torch.Tensor, fill: float) -> torch.Tensor:
        padded = F.pad(tensor, (0, pad_w, 0, pad_h), value=fill)
        return padded[..., top:top + crop_size, left:left + crop_size]

    image = crop(image, 0.0)
    return image, {name: crop(resized[name], targets[name][1]) for name in resized}
