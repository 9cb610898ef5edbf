"""GAIN_ext: GAIN plus `omega * L_e` on the small share of images whose masks may be used."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.core.config import bounded
from pipeline.core.labels import IGNORE_INDEX
from pipeline.data.voc import image_size
from pipeline.io.label_png import read_label_png
from pipeline.methods.gain import GainMethod, GainParams


@dataclass
class GainExtParams(GainParams):
    omega: float = bounded(10.0, 0.0)  # weight of L_e
    mask_share: float = bounded(0.05, 0.0, 1.0)  # share of training images with masks


def pick_mask_images(ids: list[str], share: float, seed: int) -> set[str]:
    """The training images whose masks GAIN_ext may use: the same ones for the same seed."""
    count = int(round(share * len(ids)))
    chosen = np.random.default_rng(seed).choice(len(ids), size=count, replace=False)
    return {ids[i] for i in sorted(chosen)}


def extension_loss(attention: torch.Tensor, masks: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Batch mean of each image's `L_e = (1/n) sum_c (A_c - H_c)^2`, zero for images without masks.

    `attention` (B, K, h, w) in [0, 1]; `masks` (B, H, W) label maps, all 255 for images
    without a usable mask; `labels` (B, K). Ignored pixels do not count. Dividing by the
    batch size, not by the number of masked images, keeps `omega` the weight the formula
    gives it per image: otherwise the one masked image of a batch outweighs the other
    fifteen images' classification losses together.
    """
    masks = F.interpolate(masks[:, None].float(), size=attention.shape[2:], mode="nearest")[:, 0].long()
    valid = masks != IGNORE_INDEX
    has_mask = valid.flatten(1).any(dim=1)
    selected = labels.bool() & has_mask[:, None]
    classes = torch.arange(1, attention.shape[1] + 1, device=masks.device)
    target = (masks[:, None] == classes[None, :, None, None]).float()
    error = ((attention - target) ** 2 * valid[:, None]).sum(dim=(2, 3)) / valid.sum(dim=(1, 2))[:, None].clamp(min=1)
    per_image = (error * selected).sum(dim=1) / selected.sum(dim=1).clamp(min=1)
    return per_image.mean()


class GainExtMethod(GainMethod):
    """GAIN with external supervision on `mask_share` of the training images."""

    Params = GainExtParams

    def __init__(self, params, manifest, split, seed):
        super().__init__(params, manifest, split, seed)
        self.mask_ids = pick_mask_images(manifest.masked_ids(split), params.mask_share, seed)

    def _mask(self, image_id: str) -> np.ndarray:
        if image_id in self.mask_ids:
            return read_label_png(self.manifest.mask_path(image_id))
        return np.full(image_size(self.manifest.image_path(image_id)), IGNORE_INDEX, dtype=np.uint8)

    def pixel_targets(self) -> dict:
        return {"mask": (self._mask, float(IGNORE_INDEX))}

    def extra_losses(self, model, batch, output, progress):
        attention = self.attention(output)
        return {
            "gain_am": self.mining_loss(model, batch, attention) if self.mining(progress) else attention.new_zeros(()),
            "gain_e": self.params.omega * extension_loss(attention, batch["mask"], batch["labels"]),
        }
