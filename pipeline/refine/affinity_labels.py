"""Confident affinity labels from the CAMs (IRN's recipe): what AffinityNet learns from.

CAM above `fg_threshold` is foreground, below `bg_threshold` background, each after a
dense CRF; the rest is ignored (255).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.core.config import bounded
from pipeline.core.labels import IGNORE_INDEX, argmax_with_background
from pipeline.data.voc import Manifest, read_image
from pipeline.distributed.world import World
from pipeline.io.label_png import save_label_png
from pipeline.io.maps import MapReader
from pipeline.refine.crf import DenseCrfParams, crf_labels
from pipeline.refine.pool import parallel_map


@dataclass
class AffinityLabelsParams:
    """The `affinity_labels` section."""

    fg_threshold: float = bounded(0.30, 0.0, 1.0)
    bg_threshold: float = bounded(0.05, 0.0, 1.0)
    gt_prob: float = bounded(0.7, 0.0, 1.0)
    crf: DenseCrfParams = field(default_factory=lambda: DenseCrfParams(bilateral_sxy=50.0, bilateral_srgb=5.0))
    workers: int = bounded(2, 1)  # processes for the CRF


def confident_labels(image: np.ndarray, maps: np.ndarray, classes: np.ndarray, params: AffinityLabelsParams) -> np.ndarray:
    """Label map (H, W): confident classes, confident background 0, the rest 255."""
    lookup = np.concatenate([[0], classes]).astype(np.uint8)

    def refined(threshold: float) -> np.ndarray:
        hard = argmax_with_background(maps, threshold)
        return lookup[crf_labels(image, hard, len(lookup), params.gt_prob, params.crf)]

    foreground, background = refined(params.fg_threshold), refined(params.bg_threshold)
    labels = foreground.copy()
    labels[foreground == 0] = IGNORE_INDEX
    labels[(foreground == 0) & (background == 0)] = 0
    return labels


def _confident_worker(item: tuple[Path, np.ndarray, np.ndarray, AffinityLabelsParams]) -> np.ndarray:
    image_path, maps, classes, params = item
    return confident_labels(read_image(image_path), maps, classes, params)


def write_affinity_labels(reader: MapReader, manifest: Manifest, split: str, params: AffinityLabelsParams,
                          out_dir: Path, world: World | None = None) -> None:
    """Confident fg / bg / ignore labels of every image (this process's share), as palette PNGs in `out_dir`."""
    ids = (world or World()).shard(manifest.ids(split))
    items = ((manifest.image_path(i), *reader.read(i), params) for i in ids)
    out_dir.mkdir(parents=True, exist_ok=True)
    for image_id, labels in zip(ids, parallel_map(_confident_worker, items, params.workers, len(ids), "affinity labels")):
        save_label_png(out_dir / f"{image_id}.png", labels)
