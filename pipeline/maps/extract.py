"""Multi-scale + flip class maps for a whole split, written to one HDF5 file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from pipeline.config import bounded
from pipeline.data.datasets import ImageDataset, same_size_batches
from pipeline.data.voc import Manifest
from pipeline.maps import MapMethod, get_map_method
from pipeline.models.classifier import Classifier
from pipeline.store import MapWriter


@dataclass
class ExtractParams:
    method: str = "cam"  # a key of pipeline.maps.MAP_METHODS
    scales: list[float] = (1.0, 0.5, 1.5, 2.0)
    flip: bool = True
    batch_size: int = bounded(16, 1)


def max_normalise(maps: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Divide every map (..., H, W) by its own maximum."""
    return maps / (maps.flatten(-2).max(dim=-1).values[..., None, None] + eps)


def multiscale_maps(
    model: Classifier, images: torch.Tensor, classes: list[int], method: MapMethod,
    scales: list[float], flip: bool,
) -> torch.Tensor:
    """Sum of the maps over scales (and horizontal flips), at the input size: (B, n, H, W)."""
    batch, _, height, width = images.shape
    total = images.new_zeros(batch, len(classes), height, width)
    for scale in scales:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        scaled = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        if flip:
            scaled = torch.cat([scaled, scaled.flip(-1)])
        maps = method(model, scaled, classes)
        if flip:
            maps = maps[:batch] + maps[batch:].flip(-1)
        total += F.interpolate(maps, size=(height, width), mode="bilinear", align_corners=False)
    return total


def extract_maps(
    model: Classifier, manifest: Manifest, split: str, params: ExtractParams,
    out_path: str | Path, device: torch.device,
) -> int:
    """Write every image's present-class maps (max-normalised, float16) to `out_path`."""
    method = get_map_method(params.method)
    dataset = ImageDataset(manifest, split)
    attrs = {
        "method": params.method, "scales": list(params.scales), "flip": params.flip,
        "fingerprint": manifest.fingerprint, "classes": manifest.classes, "split": split,
    }
    model.eval().to(device)
    count = 0
    with MapWriter(out_path, attrs) as writer, tqdm(total=len(dataset), desc="extract maps", unit="img") as bar:
        for batch in same_size_batches(dataset, params.batch_size):
            present = sorted({int(c) for c in batch["labels"].nonzero()[:, 1]})
            maps = multiscale_maps(model, batch["image"].to(device), present, method, params.scales, params.flip)
            for row, index in enumerate(batch["index"].tolist()):
                labels = manifest.labels(split, dataset.ids[index])
                keep = [present.index(label - 1) for label in labels]
                writer.write(dataset.ids[index], max_normalise(maps[row, keep]).cpu().numpy(), labels)
            count += len(batch["index"])
            bar.update(len(batch["index"]))
    return count
