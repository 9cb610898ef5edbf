"""Test-time augmentation for dense predictions: several scales and a horizontal flip."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from pipeline.core.labels import scaled_size


def resize_bilinear(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, h, w) to `size` that gives the same bits at any thread count.

    ATen's CPU kernel rounds some shapes differently (by one ulp) with the number of
    threads, which made outputs depend on `runtime.threads` and on how many processes
    share the cores; on the CPU it runs on one thread here.
    """
    if tensor.device.type != "cpu":
        return F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)
    finally:
        torch.set_num_threads(threads)


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
        scaled = resize_bilinear(images, scaled_size((height, width), scale))
        if flip:
            scaled = torch.cat([scaled, scaled.flip(-1)])
        outputs = predict(scaled)
        if flip:
            outputs = outputs[:batch] + outputs[batch:].flip(-1)
        total = total + resize_bilinear(outputs, (height, width))
    return total
