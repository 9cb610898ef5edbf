"""CAM quality on the train split at the fixed background threshold, and the oracle sweep."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from pipeline.core.config import bounded, listed
from pipeline.core.labels import label_names, labels_from_maps
from pipeline.data.voc import Manifest
from pipeline.eval.context import read_context
from pipeline.eval.label_scores import LabelCounts, read_truth
from pipeline.eval.metrics import summarise
from pipeline.io.maps import MapReader


def _sweep_problem(sweep: list[float]) -> str | None:
    start, stop, step = sweep
    if step <= 0 or start > stop:
        return "must be [start, stop, step] with start <= stop and step > 0"
    return None


@dataclass
class EvalCamsParams:
    """The `eval_cams` section."""

    bg_threshold: float = bounded(0.25, 0.0, 1.0)  # fixed a priori (published range 0.15-0.35), used downstream
    sweep: list[float] = listed([0.05, 0.60, 0.05], length=3, low=0.0, high=1.0, check=_sweep_problem)  # oracle sweep


def sweep_thresholds(sweep: list[float]) -> list[float]:
    start, stop, step = sweep
    return [round(t, 4) for t in np.arange(start, stop + step / 2, step)]


def score_cams(reader: MapReader, manifest: Manifest, split: str, params: EvalCamsParams) -> tuple[dict, list[dict]]:
    """Scores at the configured background threshold, plus the oracle sweep, on the images
    of `split` that have a mask.

    The oracle picks the threshold with the best mIoU against the very ground truth it is
    scored on, as published code does: it is reported, never used downstream.
    """
    thresholds = sweep_thresholds(params.sweep)
    everything = sorted(set(thresholds) | {params.bg_threshold})
    num_labels = manifest.num_classes + 1
    counts = {t: LabelCounts.empty(num_labels) for t in everything}
    scored = manifest.masked_ids(split)
    for image_id in tqdm(scored, desc="score cams", unit="img"):
        maps, classes = reader.read(image_id)
        truth = read_truth(manifest, image_id, maps.shape[1:])
        context = read_context(manifest, image_id, truth.shape)
        for threshold in everything:
            counts[threshold].add(labels_from_maps(maps, classes, threshold), truth, context)
    names = label_names(manifest.classes)
    curve = [{"threshold": t, **_headline(summarise(counts[t].confusion, names))} for t in thresholds]
    best = max(curve, key=lambda row: row["miou"])
    summary = counts[params.bg_threshold].summary(names)
    summary.update(bg_threshold=params.bg_threshold, oracle_threshold=best["threshold"], oracle_miou=best["miou"],
                   scored_images=len(scored), images=len(manifest.ids(split)))
    return summary, curve


def _headline(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "per_class"}
