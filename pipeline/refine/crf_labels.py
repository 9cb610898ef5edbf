"""The final pseudo-labels: a dense CRF over the random walk's maps, image by image."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.core.config import bounded
from pipeline.data.voc import Manifest, read_image
from pipeline.io.label_png import save_label_png
from pipeline.io.maps import MapReader
from pipeline.refine.crf import DenseCrfParams, crf_probabilities
from pipeline.refine.pool import parallel_map


@dataclass
class CrfParams:
    """The `crf` section."""

    crf: DenseCrfParams = field(default_factory=DenseCrfParams)
    workers: int = bounded(2, 1)  # worker processes


def _crf_worker(item: tuple[Path, np.ndarray, np.ndarray, DenseCrfParams]) -> np.ndarray:
    image_path, maps, classes, params = item
    probabilities = maps / np.maximum(maps.sum(axis=0, keepdims=True), 1e-8)
    refined = crf_probabilities(read_image(image_path), probabilities, params)
    return classes.astype(np.uint8)[refined.argmax(axis=0)]


def write_crf_labels(reader: MapReader, manifest: Manifest, split: str, params: CrfParams, label_dir: Path) -> None:
    """Dense-CRF labels of every image from the random walk's maps, as palette PNGs."""
    ids = manifest.ids(split)
    label_dir.mkdir(parents=True, exist_ok=True)
    items = ((manifest.image_path(i), *reader.read(i), params.crf) for i in ids)
    for image_id, labels in zip(ids, parallel_map(_crf_worker, items, params.workers, len(ids), "dense crf")):
        save_label_png(label_dir / f"{image_id}.png", labels)
