"""Training the CAM classifier with the chosen method(s)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from pipeline.core.config import ascending_pair, bounded, checked, choice, listed
from pipeline.core.runtime import RuntimeParams
from pipeline.data.datasets import ImageDataset, same_size_batches
from pipeline.data.voc import Manifest
from pipeline.distributed.world import World
from pipeline.eval.convergence import ConvergenceParams
from pipeline.eval.metrics import mean_average_precision
from pipeline.methods import MethodsParams, build_methods, method_spec_problem
from pipeline.models.backbone import ARCHITECTURES, OUTPUT_STRIDES
from pipeline.models.classifier import Classifier
from pipeline.training.lengths import train_until_levelled
from pipeline.training.loop import OptimParams, distribute, fit, make_loader, make_optimizer
from pipeline.training.runtime import autocast, seed_everything


@dataclass
class TrainClassifierParams:
    """The `train_classifier` section."""

    arch: str = choice("resnet18", ARCHITECTURES)
    pretrained: bool = False  # ImageNet weights through torchvision's weights API
    output_stride: int = choice(16, OUTPUT_STRIDES)
    method: str = checked("cam", method_spec_problem)  # a key of pipeline.methods.METHODS, or several joined by '+'
    methods: MethodsParams = field(default_factory=MethodsParams)
    crop_size: int = bounded(96, 16)
    scale_range: list[float] = listed([0.7, 1.0], length=2, low=0.1, high=4.0, check=ascending_pair)
    optim: OptimParams = field(default_factory=OptimParams)


@torch.no_grad()
def predict_scores(model: Classifier, dataset: ImageDataset, batch_size: int, device: torch.device,
                   runtime: RuntimeParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Sigmoid class scores and label vectors of a whole split."""
    model.eval()
    scores, labels = [], []
    for batch in same_size_batches(dataset, batch_size):
        with autocast(device, runtime):
            logits = model(batch["image"].to(device)).logits.float()
        scores.append(torch.sigmoid(logits).cpu())
        labels.append(batch["labels"])
    return torch.cat(scores), torch.cat(labels)


def train_classifier(manifest: Manifest, train_split: str, val_split: str, params: TrainClassifierParams,
                     seed: int, runtime: RuntimeParams, device: torch.device, convergence: ConvergenceParams,
                     world: World | None = None) -> tuple[Classifier, list[dict]]:
    """Train (on every process of `world`), again at twice the epochs while still learning
    (`convergence`); returns the model and its per-epoch history (loss terms, and val mAP on rank 0)."""
    world = world or World()
    val_set = ImageDataset(manifest, val_split)

    def train(optim: OptimParams) -> tuple[Classifier, list[dict]]:
        seed_everything(seed)
        methods = build_methods(params.method, params.methods, manifest, train_split, seed)
        targets = {name: target for method in methods for name, target in method.pixel_targets().items()}
        train_set = ImageDataset(manifest, train_split, targets, params.crop_size, params.scale_range, seed)
        loader = make_loader(train_set, optim.batch_size, runtime, seed, device, world)
        model = Classifier(params.arch, manifest.num_classes, params.pretrained, params.output_stride).to(device)
        trained = distribute(model, world, runtime, device)
        optimizer = make_optimizer(model, [model.head], optim)

        def step(batch, progress):
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with autocast(device, runtime):
                output = trained(batch["image"])
                terms = {"cls": F.multilabel_soft_margin_loss(output.logits.float(), batch["labels"])}
                for method in methods:
                    terms.update(method.extra_losses(trained, batch, output, progress))
            return terms

        def validate(epoch):
            scores, labels = predict_scores(model, val_set, optim.batch_size, device, runtime)
            return {"val_map": mean_average_precision(scores, labels)}

        history = fit(trained, loader, optimizer, optim, step, validate, desc="classifier")
        return model.cpu(), history

    return train_until_levelled(train, params.optim, convergence, "classifier")
