"""Test-time augmentation for dense predictions: several scales and a horizontal flip."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from pipeline.core.labels import scaled_size


def multiscale_sum(predict: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                   scales: list[float], flip: bool) -> torch.Tensor:
    """Sum of `predict` over `scales` (and flipped copies), each resized to the input size.

    `predict` maps a batch (N, 3, h, w) to dense outputs (N, C, h', w'); the result is
    (B, C, H, W) for `images` (B, 3, H, W). Flipped copies run in the same batch as the
    originals and are flipped back before they are added.
    """
    batch, _, height, width = images.shape
    total = 0
    for scale in scales:
        scaled = F.interpolate(images, size=scaled_size((height, width), scale), mode="bilinear", align_corners=False)
        if flip:
            scaled = torch.cat([scaled, scaled.flip(-1)])
        outputs = predict(scaled)
        if flip:
            outputs = outputs[:batch] + outputs[batch:].flip(-1)
        total = total + F.interpolate(outputs, size=(height, width), mode="bilinear", align_corners=False)
    return total
