"""Multi-scale + flip class maps for a whole split, written to one HDF5 file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from pipeline.cams.gradients import max_normalise
from pipeline.cams.registry import MAP_METHODS
from pipeline.core.config import bounded, choice, listed
from pipeline.data.datasets import ImageDataset, load_batches, size_batches
from pipeline.data.voc import Manifest
from pipeline.distributed.world import World
from pipeline.io.maps import MapWriter
from pipeline.models.classifier import Classifier
from pipeline.models.multiscale import multiscale_sum
from pipeline.training.runtime import RuntimeParams, autocast


@dataclass
class ExtractCamsParams:
    """The `extract_cams` section."""

    method: str = choice("cam", MAP_METHODS)
    # Published for ~500 px VOC: 1.0, 0.5, 1.5, 2.0; at 128 px, 0.5 gives a 4x4 map that smears the CAM.
    scales: list[float] = listed([1.0, 1.5], min_length=1, low=0.1, high=4.0)
    flip: bool = True
    batch_size: int = bounded(16, 1)


def extract_maps(
    model: Classifier, manifest: Manifest, split: str, params: ExtractCamsParams,
    out_path: str | Path, device: torch.device, runtime: RuntimeParams, world: World | None = None,
) -> int:
    """Write every image's present-class maps (max-normalised, float16) to `out_path`; returns the count.

    On several processes, each writes the maps of its share of the batches.
    """
    method = MAP_METHODS[params.method]
    dataset = ImageDataset(manifest, split)
    attrs = {
        "method": params.method, "scales": list(params.scales), "flip": params.flip,
        "fingerprint": manifest.fingerprint, "classes": manifest.classes, "split": split,
    }
    model.eval().to(device)
    batches = (world or World()).shard(size_batches(dataset, params.batch_size))
    count = 0
    with MapWriter(out_path, attrs) as writer, \
            tqdm(total=sum(map(len, batches)), desc="extract maps", unit="img") as bar:
        for batch in load_batches(dataset, batches):
            present = sorted({int(c) for c in batch["labels"].nonzero()[:, 1]})
            with autocast(device, runtime):
                maps = multiscale_sum(lambda images: method(model, images, present).float(),
                                      batch["image"].to(device), params.scales, params.flip)
            for row, index in enumerate(batch["index"].tolist()):
                labels = manifest.labels(split, dataset.ids[index])
                keep = [present.index(label - 1) for label in labels]
                writer.write(dataset.ids[index], max_normalise(maps[row, keep]).cpu().numpy(), labels)
            count += len(batch["index"])
            bar.update(len(batch["index"]))
    return count
