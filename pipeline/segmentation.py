"""DeepLab on pseudo-labels (or on ground truth, for the fully supervised reference)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.segmentation.deeplabv3 import DeepLabV3

from pipeline.config import bounded, choice
from pipeline.data.datasets import ImageDataset
from pipeline.data.transforms import denormalise
from pipeline.data.voc import Manifest
from pipeline.models.segmentation import SEGMENTATION_ARCHITECTURES, build_deeplab, head_parameters, load_backbone_from_classifier
from pipeline.refine.crf import CrfParams, crf_probabilities
from pipeline.store import IGNORE_INDEX
from pipeline.training import OptimParams, RuntimeParams, autocast, fit, make_loader, make_optimizer, seed_everything


@dataclass
class SegmentationParams:
    arch: str = choice("resnet50", SEGMENTATION_ARCHITECTURES)  # the CPU demo sets resnet18
    init: str = choice("classifier", ("classifier", "imagenet", "scratch"))  # backbone start
    crop_size: int = bounded(128, 16)
    scale_range: list[float] = (0.5, 2.0)
    balanced: bool = False  # class-balanced cross entropy (inverse square-root frequency)
    optim: OptimParams = field(default_factory=lambda: OptimParams(epochs=6, lr=0.02, head_lr_mult=10.0))


@dataclass
class SegEvalParams:
    scales: list[float] = (1.0,)
    flip: bool = False
    crf: bool = False
    crf_params: CrfParams = field(default_factory=CrfParams)


def _class_weights(dataset: ImageDataset, loader: Callable[[str], np.ndarray], num_labels: int) -> torch.Tensor:
    counts = np.ones(num_labels)
    for image_id in dataset.ids:
        labels = loader(image_id)
        counts += np.bincount(labels[labels != IGNORE_INDEX], minlength=num_labels)[:num_labels]
    weights = 1.0 / np.sqrt(counts / counts.sum())
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def train_deeplab(manifest: Manifest, split: str, label_loader: Callable[[str], np.ndarray], params: SegmentationParams,
                  classifier_state: dict | None, seed: int, runtime: RuntimeParams,
                  device: torch.device) -> tuple[DeepLabV3, list[dict]]:
    """Train DeepLab on `label_loader(image_id)` label maps (255 ignored)."""
    seed_everything(seed)
    num_labels = manifest.num_classes + 1
    model = build_deeplab(params.arch, num_labels, params.init == "imagenet")
    if params.init == "classifier":
        load_backbone_from_classifier(model, classifier_state)
    model.to(device)
    dataset = ImageDataset(manifest, split, {"target": (label_loader, float(IGNORE_INDEX))},
                           params.crop_size, params.scale_range, seed)
    loader = make_loader(dataset, params.optim.batch_size, runtime, seed)
    weights = _class_weights(dataset, label_loader, num_labels).to(device) if params.balanced else None
    head = head_parameters(model)
    head_ids = {id(p) for p in head}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    optimizer = make_optimizer([(backbone, 1.0), (head, params.optim.head_lr_mult)], params.optim)

    def step(batch, progress):
        with autocast(device, runtime):
            logits = model(batch["image"].to(device))["out"].float()
        return {"ce": F.cross_entropy(logits, batch["target"].to(device), weight=weights, ignore_index=IGNORE_INDEX)}

    history = fit(model, loader, optimizer, params.optim, step, desc="deeplab")
    return model.cpu(), history


@torch.no_grad()
def predict(model: DeepLabV3, image: torch.Tensor, params: SegEvalParams) -> np.ndarray:
    """Label map of one normalised image (3, H, W), multi-scale / flip / CRF as configured."""
    model.eval()
    height, width = image.shape[1:]
    total = 0
    for scale in params.scales:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        scaled = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)
        batch = torch.cat([scaled, scaled.flip(-1)]) if params.flip else scaled
        probabilities = torch.softmax(model(batch)["out"], dim=1)
        if params.flip:
            probabilities = probabilities[:1] + probabilities[1:].flip(-1)
        total = total + F.interpolate(probabilities, size=(height, width), mode="bilinear", align_corners=False)[0]
    probabilities = (total / total.sum(dim=0, keepdim=True)).numpy()
    if params.crf:
        probabilities = crf_probabilities(denormalise(image), probabilities, params.crf_params)
    return probabilities.argmax(axis=0).astype(np.uint8)
