"""Label-map quality against ground truth, the same way for every stage (metrics/*.json)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.core.errors import PipelineError
from pipeline.core.labels import IGNORE_INDEX, label_names
from pipeline.data.voc import Manifest
from pipeline.eval.context import context_counts, empty_context, read_context, summarise_context
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


@dataclass
class LabelCounts:
    """What every scored stage sums over label maps: the confusion matrix and the context counts."""

    confusion: np.ndarray
    context: np.ndarray

    @classmethod
    def empty(cls, num_labels: int) -> LabelCounts:
        return cls(empty_confusion(num_labels), empty_context(num_labels))

    def add(self, prediction: np.ndarray, truth: np.ndarray, context: np.ndarray | None) -> None:
        num_labels = len(self.confusion)
        self.confusion += confusion_matrix(prediction, truth, num_labels)
        self.context += context_counts(prediction, truth, context, num_labels)

    def summary(self, names: list[str]) -> dict:
        return {**summarise(self.confusion, names), **summarise_context(self.context, names)}


def score_label_dir(label_dir: str | Path, manifest: Manifest, split: str) -> dict:
    """Scores of a folder of label PNGs (one per image id of `split`), on the images that have
    a mask, with the context false positives where the dataset annotates context; `images`
    counts them all."""
    label_dir, names = Path(label_dir), label_names(manifest.classes)
    counts = LabelCounts.empty(len(names))
    scored = manifest.masked_ids(split)
    for image_id in tqdm(scored, desc=f"score {label_dir.name}", unit="img"):
        prediction = read_label_png(label_dir / f"{image_id}.png")
        truth = read_truth(manifest, image_id, prediction.shape)
        counts.add(prediction, truth, read_context(manifest, image_id, truth.shape))
    return {**counts.summary(names), "scored_images": len(scored), "images": len(manifest.ids(split))}


def write_label_scores(key: str, label_dir: str | Path, manifest: Manifest, split: str, metrics_path: str | Path) -> dict:
    """Score a folder of label PNGs and write `{key: scores}` to `metrics_path`; returns the scores."""
    summary = score_label_dir(label_dir, manifest, split)
    write_json(metrics_path, {key: summary})
    return summary
