"""The refinement steps the stages call: affinity labels and training, random walk, CRF."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from pipeline.config import bounded
from pipeline.data.datasets import ImageDataset, same_size_batches
from pipeline.data.voc import Manifest, read_image
from pipeline.models.affinity import AffinityNet
from pipeline.models.classifier import Classifier
from pipeline.refine.affinity import AffinityLabelParams, affinity_loss, confident_labels, half_offsets, pair_affinities
from pipeline.refine.crf import CrfParams, crf_probabilities, parallel_map
from pipeline.refine.random_walk import RandomWalkParams, random_walk, with_background
from pipeline.store import IGNORE_INDEX, MapReader, MapWriter, read_label_png, save_label_png
from pipeline.training import OptimParams, RuntimeParams, autocast, fit, make_loader, make_optimizer, seed_everything


@dataclass
class AffinityParams:
    labels: AffinityLabelParams = field(default_factory=AffinityLabelParams)
    radius: int = bounded(5, 1)  # pair radius at the embedding stride (4)
    channels: list[int] = (32, 64, 128, 128)  # projection widths of layer1..layer4
    dim: int = bounded(64, 1)  # embedding size
    freeze_backbone: bool = False  # True: train only the new layers (IRN); False: fine-tune all (AffinityNet)
    crop_size: int = bounded(128, 16)
    scale_range: list[float] = (0.75, 1.25)
    workers: int = bounded(2, 1)  # processes for the CRF of the confident labels
    optim: OptimParams = field(default_factory=lambda: OptimParams(epochs=3, lr=0.1, head_lr_mult=1.0))


@dataclass
class CrfStageParams:
    crf: CrfParams = field(default_factory=CrfParams)
    workers: int = bounded(2, 1)  # worker processes


def _confident_worker(item: tuple[Path, np.ndarray, np.ndarray, AffinityLabelParams]) -> np.ndarray:
    image_path, maps, classes, params = item
    return confident_labels(read_image(image_path), maps, classes, params)


def write_affinity_labels(reader: MapReader, manifest: Manifest, split: str, params: AffinityParams, out_dir: Path) -> None:
    """Confident fg / bg / ignore labels of every image, as palette PNGs in `out_dir`."""
    ids = manifest.ids(split)
    items = ((manifest.image_path(i), *reader.read(i), params.labels) for i in ids)
    out_dir.mkdir(parents=True, exist_ok=True)
    for image_id, labels in zip(ids, parallel_map(_confident_worker, items, params.workers, len(ids), "affinity labels")):
        save_label_png(out_dir / f"{image_id}.png", labels)


def train_affinity(classifier: Classifier, manifest: Manifest, split: str, label_dir: Path, params: AffinityParams,
                   seed: int, runtime: RuntimeParams, device: torch.device) -> tuple[AffinityNet, list[dict]]:
    """Train AffinityNet's new layers on the confident labels in `label_dir`."""
    seed_everything(seed)
    offsets = half_offsets(params.radius)
    target = {"affinity": (lambda image_id: read_label_png(label_dir / f"{image_id}.png"), float(IGNORE_INDEX))}
    dataset = ImageDataset(manifest, split, target, params.crop_size, params.scale_range, seed)
    loader = make_loader(dataset, params.optim.batch_size, runtime, seed)
    model = AffinityNet(classifier, list(params.channels), params.dim, params.freeze_backbone).to(device)
    backbone = [] if params.freeze_backbone else model.backbone_parameters()
    optimizer = make_optimizer([(backbone, 1.0), (model.new_parameters(), params.optim.head_lr_mult)], params.optim)

    def step(batch, progress):
        with autocast(device, runtime):
            embeddings = model(batch["image"].to(device)).float()
        labels = F.interpolate(batch["affinity"][:, None].float(), size=embeddings.shape[2:], mode="nearest")
        return affinity_loss(pair_affinities(embeddings, offsets), labels[:, 0].long().to(device), offsets)

    history = fit(model, loader, optimizer, params.optim, step, desc="affinity")
    return model.cpu(), history


@torch.no_grad()
def write_random_walk(model: AffinityNet, reader: MapReader, manifest: Manifest, split: str, params: RandomWalkParams,
                      batch_size: int, out_maps: Path, label_dir: Path, attrs: dict, device: torch.device) -> None:
    """Walk every image's CAMs (with a background map) and store maps and labels."""
    model.eval().to(device)
    dataset = ImageDataset(manifest, split)
    label_dir.mkdir(parents=True, exist_ok=True)
    with MapWriter(out_maps, attrs) as writer, tqdm(total=len(dataset), desc="random walk", unit="img") as bar:
        for batch in same_size_batches(dataset, batch_size):
            ids = [dataset.ids[i] for i in batch["index"].tolist()]
            embeddings = model(batch["image"].to(device)).float().cpu()
            loaded = [reader.read(i) for i in ids]
            height, width = batch["image"].shape[2:]
            stacked = np.zeros((len(ids), 1 + max(len(c) for _, c in loaded), height, width), dtype=np.float32)
            for row, (maps, classes) in enumerate(loaded):
                stacked[row, : len(classes) + 1] = with_background(maps, params.bg_power)
            small = F.interpolate(torch.from_numpy(stacked), size=embeddings.shape[2:], mode="area")
            walked = random_walk(small, embeddings, params)
            walked = F.interpolate(walked, size=(height, width), mode="bilinear", align_corners=False).numpy()
            for row, (image_id, (_, classes)) in enumerate(zip(ids, loaded)):
                refined = walked[row, : len(classes) + 1]
                lookup = np.concatenate([[0], classes]).astype(np.uint8)
                writer.write(image_id, refined, lookup)
                save_label_png(label_dir / f"{image_id}.png", lookup[refined.argmax(axis=0)])
            bar.update(len(ids))


def _crf_worker(item: tuple[Path, np.ndarray, np.ndarray, CrfParams]) -> np.ndarray:
    image_path, maps, classes, params = item
    probabilities = maps / np.maximum(maps.sum(axis=0, keepdims=True), 1e-8)
    refined = crf_probabilities(read_image(image_path), probabilities, params)
    return classes.astype(np.uint8)[refined.argmax(axis=0)]


def write_crf_labels(reader: MapReader, manifest: Manifest, split: str, params: CrfStageParams, label_dir: Path) -> None:
    """Dense-CRF labels of every image from the random walk's maps, as palette PNGs."""
    ids = manifest.ids(split)
    label_dir.mkdir(parents=True, exist_ok=True)
    items = ((manifest.image_path(i), *reader.read(i), params.crf) for i in ids)
    for image_id, labels in zip(ids, parallel_map(_crf_worker, items, params.workers, len(ids), "dense crf")):
        save_label_png(label_dir / f"{image_id}.png", labels)
