"""Per-stage pseudo-label quality against ground truth (the numbers in metrics/*.json)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.config import bounded
from pipeline.data.voc import Manifest
from pipeline.errors import PipelineError
from pipeline.metrics import confusion_matrix, labels_from_maps, summarise
from pipeline.store import MapReader, read_label_png, write_json


@dataclass
class CamScoreParams:
    bg_threshold: float = bounded(0.25, 0.0, 1.0)  # used downstream; chosen without ground truth
    sweep: list[float] = (0.05, 0.60, 0.05)  # start, stop, step of the oracle sweep


def label_names(manifest: Manifest) -> list[str]:
    return ["background", *manifest.classes]


def sweep_thresholds(sweep: list[float]) -> list[float]:
    start, stop, step = sweep
    return [round(t, 4) for t in np.arange(start, stop + step / 2, step)]


def _truth(manifest: Manifest, image_id: str, shape: tuple[int, ...]) -> np.ndarray:
    truth = read_label_png(manifest.mask_path(image_id))
    if truth.shape != shape:
        raise PipelineError(
            f"{manifest.mask_path(image_id)}: mask is {truth.shape}, labels are {shape}; "
            "the labels were made from another dataset, rerun dvc repro"
        )
    return truth


def score_cams(reader: MapReader, manifest: Manifest, split: str, params: CamScoreParams) -> tuple[dict, list[dict]]:
    """Scores at the configured background threshold, plus the oracle sweep.

    The oracle picks the threshold with the best mIoU against the very ground truth it is
    scored on, as published code does: it is reported, never used downstream.
    """
    thresholds = sweep_thresholds(params.sweep)
    everything = sorted(set(thresholds) | {params.bg_threshold})
    num_labels = manifest.num_classes + 1
    confusions = {t: np.zeros((num_labels, num_labels), dtype=np.int64) for t in everything}
    for image_id in tqdm(manifest.ids(split), desc="score cams", unit="img"):
        maps, classes = reader.read(image_id)
        truth = _truth(manifest, image_id, maps.shape[1:])
        for threshold in everything:
            confusions[threshold] += confusion_matrix(labels_from_maps(maps, classes, threshold), truth, num_labels)
    names = label_names(manifest)
    curve = [{"threshold": t, **_headline(summarise(confusions[t], names))} for t in thresholds]
    best = max(curve, key=lambda row: row["miou"])
    summary = summarise(confusions[params.bg_threshold], names)
    summary.update(bg_threshold=params.bg_threshold, oracle_threshold=best["threshold"], oracle_miou=best["miou"])
    return summary, curve


def _headline(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "per_class"}


def score_labels(pairs: Iterable[tuple[np.ndarray, np.ndarray]], names: list[str]) -> dict:
    """Scores of (prediction, truth) label-map pairs."""
    confusion = np.zeros((len(names), len(names)), dtype=np.int64)
    for prediction, truth in pairs:
        confusion += confusion_matrix(prediction, truth, len(names))
    return summarise(confusion, names)


def score_label_dir(label_dir: str | Path, manifest: Manifest, split: str) -> dict:
    """Scores of a folder of label PNGs (one per image id of `split`)."""
    label_dir = Path(label_dir)

    def pairs():
        for image_id in tqdm(manifest.ids(split), desc=f"score {label_dir.name}", unit="img"):
            prediction = read_label_png(label_dir / f"{image_id}.png")
            yield prediction, _truth(manifest, image_id, prediction.shape)

    return score_labels(pairs(), label_names(manifest))


def write_label_scores(key: str, label_dir: str | Path, manifest: Manifest, split: str, metrics_path: str | Path) -> dict:
    """Score a folder of label PNGs and write `{key: scores}` to `metrics_path`; returns the scores."""
    summary = score_label_dir(label_dir, manifest, split)
    write_json(metrics_path, {key: summary})
    return summary
