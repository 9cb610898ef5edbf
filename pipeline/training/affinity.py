"""Training AffinityNet on the confident affinity labels."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from pipeline.core.config import ascending_pair, bounded, listed
from pipeline.core.labels import IGNORE_INDEX
from pipeline.core.runtime import RuntimeParams
from pipeline.data.datasets import ImageDataset
from pipeline.data.voc import Manifest
from pipeline.distributed.world import World
from pipeline.eval.convergence import ConvergenceParams
from pipeline.io.label_png import read_label_png
from pipeline.models.affinity import AffinityNet
from pipeline.models.classifier import Classifier
from pipeline.refine.affinity_pairs import affinity_loss, half_offsets, pair_affinities
from pipeline.training.lengths import train_until_levelled
from pipeline.training.loop import OptimParams, distribute, fit, make_loader, make_optimizer
from pipeline.training.runtime import autocast, seed_everything


@dataclass
class TrainAffinityParams:
    """The `train_affinity` section."""

    radius: int = bounded(5, 1)  # pair radius at the embedding stride (4)
    channels: list[int] = listed([32, 64, 128, 128], length=4, low=1)  # projection widths of layer1..layer4
    dim: int = bounded(64, 1)  # embedding size
    freeze_backbone: bool = False  # True: train only the new layers (IRN); False: fine-tune all (AffinityNet)
    crop_size: int = bounded(96, 16)
    scale_range: list[float] = listed([0.75, 1.25], length=2, low=0.1, high=4.0, check=ascending_pair)
    optim: OptimParams = field(default_factory=lambda: OptimParams(epochs=6))


def train_affinity(classifier: Classifier, manifest: Manifest, split: str, label_dir: Path, params: TrainAffinityParams,
                   seed: int, runtime: RuntimeParams, device: torch.device, convergence: ConvergenceParams,
                   world: World | None = None) -> tuple[AffinityNet, list[dict]]:
    """Train AffinityNet on the classifier's backbone with the confident labels in `label_dir`
    (on every process of `world`), again at twice the epochs while still learning (`convergence`).
    `classifier` itself is left as it was: each run fine-tunes a copy of it."""
    offsets = half_offsets(params.radius)
    target = {"affinity": (lambda image_id: read_label_png(label_dir / f"{image_id}.png"), float(IGNORE_INDEX))}
    world = world or World()

    def train(optim: OptimParams) -> tuple[AffinityNet, list[dict]]:
        seed_everything(seed)
        dataset = ImageDataset(manifest, split, target, params.crop_size, params.scale_range, seed)
        loader = make_loader(dataset, optim.batch_size, runtime, seed, device, world)
        model = AffinityNet(copy.deepcopy(classifier), list(params.channels), params.dim,
                            params.freeze_backbone).to(device)
        trained = distribute(model, world, runtime, device)
        optimizer = make_optimizer(model, model.new_layers(), optim)

        def step(batch, progress):
            with autocast(device, runtime):
                embeddings = trained(batch["image"].to(device, non_blocking=True)).float()
            labels = F.interpolate(batch["affinity"][:, None].float(), size=embeddings.shape[2:], mode="nearest")
            return affinity_loss(pair_affinities(embeddings, offsets), labels[:, 0].long().to(device), offsets)

        history = fit(trained, loader, optimizer, optim, step, desc="affinity")
        return model.cpu(), history

    return train_until_levelled(train, params.optim, convergence, "affinity")
