"""The final pseudo-labels: a dense CRF over the random walk's maps, image by image."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.core.config import bounded
from pipeline.data.voc import Manifest, read_image
from pipeline.distributed.world import World
from pipeline.io.label_png import save_label_png
from pipeline.io.maps import MapReader
from pipeline.refine.crf import DenseCrfParams, crf_probabilities
from pipeline.refine.pool import parallel_map


@dataclass
class CrfParams:
    """The `crf` section."""

    crf: DenseCrfParams = field(default_factory=DenseCrfParams)
    workers: int = bounded(2, 1)  # worker processes


def crf_label_map(item: tuple[Path, np.ndarray, np.ndarray], params: DenseCrfParams) -> np.ndarray:
    """The CRF label map of one image from (image path, walked maps (n, H, W), their label indices)."""
    image_path, maps, classes = item
    probabilities = maps / np.maximum(maps.sum(axis=0, keepdims=True), 1e-8)
    refined = crf_probabilities(read_image(image_path), probabilities, params)
    return classes.astype(np.uint8)[refined.argmax(axis=0)]


def write_crf_labels(reader: MapReader, manifest: Manifest, split: str, params: CrfParams, label_dir: Path,
                     world: World | None = None) -> None:
    """Dense-CRF labels of every image (this process's share) from the random walk's maps, as palette PNGs."""
    ids = (world or World()).shard(manifest.ids(split))
    label_dir.mkdir(parents=True, exist_ok=True)
    items = ((manifest.image_path(i), *reader.read(i)) for i in ids)
    worker = functools.partial(crf_label_map, params=params.crf)
    for image_id, labels in zip(ids, parallel_map(worker, items, params.workers, len(ids), "dense crf")):
        save_label_png(label_dir / f"{image_id}.png", labels)
