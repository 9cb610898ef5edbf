"""GAIN (Li et al., CVPR 2018): attention mining on images with the attended region erased."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pipeline.cams.gradients import grad_cam, max_normalise
from pipeline.core.config import bounded
from pipeline.methods.base import TrainingMethod


@dataclass
class GainParams:
    alpha: float = bounded(1.0, 0.0)  # weight of L_am
    sigma: float = bounded(0.5, 0.0, 1.0)  # soft-mask threshold
    w: float = bounded(10.0, 0.0)  # soft-mask sharpness
    start: float = bounded(0.5, 0.0, 1.0)  # share of training before attention mining begins


def soft_mask(attention: torch.Tensor, sigma: float, w: float) -> torch.Tensor:
    """T(A) = sigmoid(w (A - sigma))."""
    return torch.sigmoid(w * (attention - sigma))


def masked_images(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """I* = I - T(A) * I, with `mask` (N, h, w) upsampled to the image size."""
    mask = F.interpolate(mask[:, None], size=images.shape[2:], mode="bilinear", align_corners=False)
    return images - mask * images


class GainMethod(TrainingMethod):
    """`alpha * L_am`: the mean score of each present class on its own erased image."""

    Params = GainParams

    @staticmethod
    def attention(output) -> torch.Tensor:
        """Max-normalised in-graph Grad-CAM of all classes: (B, K, h, w)."""
        classes = list(range(output.logits.shape[1]))
        return max_normalise(grad_cam(output.logits, output.features, classes, create_graph=True))

    def mining(self, progress: float) -> bool:
        """Whether attention mining acts at this point of training: from `start` on. GAIN
        mines the attention of a classifier that has learned its classes (the paper trains
        the classifier first); on a backbone trained from scratch, erasing random attention
        only teaches it to spread."""
        return progress >= self.params.start

    def mining_loss(self, model, batch, attention: torch.Tensor) -> torch.Tensor:
        """`alpha * L_am`: erase each present class's attended region, score what is left."""
        images, labels = batch["image"], batch["labels"]
        image_index, class_index = labels.nonzero(as_tuple=True)
        mask = soft_mask(attention[image_index, class_index], self.params.sigma, self.params.w)
        erased = masked_images(images[image_index], mask)
        scores = torch.sigmoid(model(erased).logits[torch.arange(len(class_index)), class_index])
        return self.params.alpha * scores.mean()

    def extra_losses(self, model, batch, output, progress):
        if not self.mining(progress):
            return {"gain_am": output.logits.new_zeros(())}
        return {"gain_am": self.mining_loss(model, batch, self.attention(output))}
