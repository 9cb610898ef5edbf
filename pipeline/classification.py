"""Training the CAM classifier with the chosen method(s)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from pipeline.config import bounded, choice
from pipeline.data.datasets import ImageDataset, same_size_batches
from pipeline.data.voc import Manifest
from pipeline.methods import build_methods
from pipeline.metrics import mean_average_precision
from pipeline.models.backbone import ARCHITECTURES
from pipeline.models.classifier import Classifier
from pipeline.training import OptimParams, RuntimeParams, autocast, fit, make_loader, make_optimizer, seed_everything


@dataclass
class ClassifierParams:
    arch: str = choice("resnet18", ARCHITECTURES)
    pretrained: bool = False
    output_stride: int = bounded(16, 8, 32)
    method: str = "cam"  # a key of pipeline.methods.METHODS, or several joined by '+'
    methods: dict = field(default_factory=dict)  # per-method parameters, by method name
    crop_size: int = bounded(128, 16)
    scale_range: list[float] = (0.75, 1.25)
    optim: OptimParams = field(default_factory=OptimParams)


@torch.no_grad()
def predict_scores(model: Classifier, dataset: ImageDataset, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Sigmoid class scores and label vectors of a whole split."""
    model.eval()
    scores, labels = [], []
    for batch in same_size_batches(dataset, batch_size):
        scores.append(torch.sigmoid(model(batch["image"].to(device)).logits).cpu())
        labels.append(batch["labels"])
    return torch.cat(scores), torch.cat(labels)


def train_classifier(manifest: Manifest, train_split: str, val_split: str, params: ClassifierParams,
                     seed: int, runtime: RuntimeParams, device: torch.device) -> tuple[Classifier, list[dict], dict]:
    """Train; returns the model, per-epoch history (loss terms, val mAP) and checkpoint metadata."""
    seed_everything(seed)
    methods = build_methods(params.method, params.methods, manifest, train_split, seed)
    targets = {name: target for method in methods for name, target in method.pixel_targets().items()}
    train_set = ImageDataset(manifest, train_split, targets, params.crop_size, params.scale_range, seed)
    val_set = ImageDataset(manifest, val_split)
    loader = make_loader(train_set, params.optim.batch_size, runtime, seed)
    model = Classifier(params.arch, manifest.num_classes, params.pretrained, params.output_stride).to(device)
    backbone, head = model.parameter_groups()
    optimizer = make_optimizer([(backbone, 1.0), (head, params.optim.head_lr_mult)], params.optim)

    def step(batch, progress):
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast(device, runtime):
            output = model(batch["image"])
            terms = {"cls": F.multilabel_soft_margin_loss(output.logits.float(), batch["labels"])}
            for method in methods:
                terms.update(method.extra_losses(model, batch, output, progress))
        return terms

    def validate(epoch):
        scores, labels = predict_scores(model, val_set, params.optim.batch_size, device)
        return {"val_map": mean_average_precision(scores, labels)}

    history = fit(model, loader, optimizer, params.optim, step, validate, desc="classifier")
    meta = {"arch": params.arch, "num_classes": manifest.num_classes, "output_stride": params.output_stride,
            "method": params.method, "fingerprint": manifest.fingerprint, "classes": manifest.classes}
    return model.cpu(), history, meta
