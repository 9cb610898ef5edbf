"""DeepLab on pseudo-labels (or on ground truth, for the fully supervised reference)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.segmentation.deeplabv3 import DeepLabV3

from pipeline.core.config import ascending_pair, bounded, choice, listed
from pipeline.core.labels import IGNORE_INDEX
from pipeline.core.runtime import RuntimeParams
from pipeline.data.datasets import ImageDataset
from pipeline.data.voc import Manifest
from pipeline.distributed.reduce import global_batch_scale
from pipeline.distributed.world import World
from pipeline.eval.convergence import ConvergenceParams
from pipeline.models.deeplab import DEEPLAB_ARCHITECTURES, build_deeplab, load_backbone_from_classifier
from pipeline.training.lengths import train_until_levelled
from pipeline.training.loop import OptimParams, distribute, fit, make_loader, make_optimizer
from pipeline.training.runtime import autocast, seed_everything


@dataclass
class TrainSegmentationParams:
    """The `train_segmentation` section: the same settings train the pseudo-label DeepLab
    and its fully supervised twin."""

    arch: str = choice("resnet18", DEEPLAB_ARCHITECTURES)
    init: str = choice("classifier", ("classifier", "imagenet", "scratch"))  # backbone start
    crop_size: int = bounded(96, 16)
    scale_range: list[float] = listed([0.5, 1.25], length=2, low=0.1, high=4.0, check=ascending_pair)
    balanced: bool = False  # class-balanced cross entropy (inverse square-root frequency)
    optim: OptimParams = field(default_factory=lambda: OptimParams(epochs=5))


def _class_weights(dataset: ImageDataset, loader: Callable[[str], np.ndarray], num_labels: int) -> torch.Tensor:
    counts = np.ones(num_labels)
    for image_id in dataset.ids:
        labels = loader(image_id)
        counts += np.bincount(labels[labels != IGNORE_INDEX], minlength=num_labels)[:num_labels]
    weights = 1.0 / np.sqrt(counts / counts.sum())
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def train_deeplab(manifest: Manifest, split: str, label_loader: Callable[[str], np.ndarray],
                  params: TrainSegmentationParams, classifier_state: dict | None, seed: int, runtime: RuntimeParams,
                  device: torch.device, convergence: ConvergenceParams, ids: list[str] | None = None,
                  world: World | None = None) -> tuple[DeepLabV3, list[dict]]:
    """Train DeepLab on `label_loader(image_id)` label maps (255 ignored), over `ids` of `split`
    (default: all of them), on every process of `world`, again at twice the epochs while still
    learning (`convergence`)."""
    num_labels = manifest.num_classes + 1
    world = world or World()

    def train(optim: OptimParams) -> tuple[DeepLabV3, list[dict]]:
        seed_everything(seed)
        model = build_deeplab(params.arch, num_labels, params.init == "imagenet")
        if params.init == "classifier":
            load_backbone_from_classifier(model, classifier_state)
        model.to(device)
        trained = distribute(model, world, runtime, device)
        dataset = ImageDataset(manifest, split, {"target": (label_loader, float(IGNORE_INDEX))},
                               params.crop_size, params.scale_range, seed, ids)
        loader = make_loader(dataset, optim.batch_size, runtime, seed, device, world)
        weights = _class_weights(dataset, label_loader, num_labels).to(device) if params.balanced else None
        optimizer = make_optimizer(model, [model.classifier], optim)

        def step(batch, progress):
            with autocast(device, runtime):
                logits = trained(batch["image"].to(device, non_blocking=True))["out"].float()
            target = batch["target"].to(device, non_blocking=True)
            labelled = target[target != IGNORE_INDEX]  # the mean divides by their (weighted) count
            count = weights[labelled].sum() if weights is not None else torch.tensor(float(labelled.numel()),
                                                                                     device=device)
            ce = F.cross_entropy(logits, target, weight=weights, ignore_index=IGNORE_INDEX)
            return {"ce": ce * global_batch_scale(count)}

        history = fit(trained, loader, optimizer, optim, step, desc="deeplab")
        return model.cpu(), history

    return train_until_levelled(train, params.optim, convergence, "deeplab")
