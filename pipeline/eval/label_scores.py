"""Label-map quality against ground truth, the same way for every stage (metrics/*.json)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.core.errors import PipelineError
from pipeline.core.labels import IGNORE_INDEX, label_names
from pipeline.data.voc import Manifest
from pipeline.eval.metrics import confusion_matrix, empty_confusion, summarise
from pipeline.io.files import write_json
from pipeline.io.label_png import read_label_png


def read_truth(manifest: Manifest, image_id: str, shape: tuple[int, ...]) -> np.ndarray:
    """The ground-truth mask of `image_id`, which must have `shape`; all ignore (255) for an
    image labelled by `data.labels_file` alone."""
    if not manifest.has_mask(image_id):
        return np.full(shape, IGNORE_INDEX, dtype=np.uint8)
    truth = read_label_png(manifest.mask_path(image_id))
    if truth.shape != shape:
        raise PipelineError(
            f"{manifest.mask_path(image_id)}: mask is {truth.shape}, labels are {shape}; "
            "the labels were made from another dataset, rerun dvc repro"
        )
    return truth


def label_confusion(pairs: Iterable[tuple[np.ndarray, np.ndarray]], num_labels: int) -> tuple[np.ndarray, int]:
    """The summed confusion matrix of (prediction, truth) label-map pairs, and their count."""
    confusion, count = empty_confusion(num_labels), 0
    for prediction, truth in pairs:
        confusion += confusion_matrix(prediction, truth, num_labels)
        count += 1
    return confusion, count


def score_labels(pairs: Iterable[tuple[np.ndarray, np.ndarray]], names: list[str]) -> dict:
    """Scores of (prediction, truth) label-map pairs, with the number of images scored."""
    confusion, count = label_confusion(pairs, len(names))
    return {**summarise(confusion, names), "scored_images": count}


def score_label_dir(label_dir: str | Path, manifest: Manifest, split: str) -> dict:
    """Scores of a folder of label PNGs (one per image id of `split`), on the images that have
    a mask; `images` counts them all."""
    label_dir = Path(label_dir)

    def pairs():
        for image_id in tqdm(manifest.masked_ids(split), desc=f"score {label_dir.name}", unit="img"):
            prediction = read_label_png(label_dir / f"{image_id}.png")
            yield prediction, read_truth(manifest, image_id, prediction.shape)

    return {**score_labels(pairs(), label_names(manifest.classes)), "images": len(manifest.ids(split))}


def write_label_scores(key: str, label_dir: str | Path, manifest: Manifest, split: str, metrics_path: str | Path) -> dict:
    """Score a folder of label PNGs and write `{key: scores}` to `metrics_path`; returns the scores."""
    summary = score_label_dir(label_dir, manifest, split)
    write_json(metrics_path, {key: summary})
    return summary
