"""Scoring label maps against ground truth, the same way for every stage.

Confusion matrix over background + classes with 255 ignored in the truth; IoU, precision,
recall and the FP / FN shares per class; mIoU over the classes that occur. A predicted
value outside the classes (a 255 in a label map, say) is counted as wrong for the pixel's
true class, never as a class: the matrix has one extra column for it. Every stage's metrics
JSON uses the keys of `summarise`, so `dvc metrics show` lines the stages up.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from pipeline.core.labels import IGNORE_INDEX


def empty_confusion(num_labels: int) -> np.ndarray:
    """A zero confusion matrix to accumulate `confusion_matrix` results into."""
    return np.zeros((num_labels, num_labels + 1), dtype=np.int64)


def confusion_matrix(prediction: np.ndarray, truth: np.ndarray, num_labels: int) -> np.ndarray:
    """(num_labels, num_labels + 1) counts: rows = truth, columns = prediction, the last
    column = predictions outside 0..num_labels-1. Truth 255 is ignored."""
    valid = (truth != IGNORE_INDEX) & (truth < num_labels)
    predicted = prediction[valid].astype(np.int64)
    predicted[(predicted < 0) | (predicted >= num_labels)] = num_labels
    index = truth[valid].astype(np.int64) * (num_labels + 1) + predicted
    return np.bincount(index, minlength=num_labels * (num_labels + 1)).reshape(num_labels, num_labels + 1)


def summarise(confusion: np.ndarray, names: list[str]) -> dict:
    """Scores from a `confusion_matrix` sum; `names` includes 'background' first."""
    num_labels = len(names)
    tp = np.diag(confusion[:, :num_labels]).astype(np.float64)
    fp = confusion[:, :num_labels].sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    union = tp + fp + fn
    occurs = union > 0
    safe = np.where(occurs, union, 1)
    iou, fp_share, fn_share = tp / safe, fp / safe, fn / safe
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / np.maximum(tp + fn, 1)
    fg_truth = confusion[1:].sum()
    fg_hit = confusion[1:, 1:num_labels].sum()
    fg_predicted = confusion[:, 1:num_labels].sum()
    return {
        "miou": float(iou[occurs].mean()),
        "precision": float(precision[occurs].mean()),
        "recall": float(recall[occurs].mean()),
        "fp_share": float(fp_share[occurs].mean()),
        "fn_share": float(fn_share[occurs].mean()),
        "fg_precision": float(fg_hit / max(fg_predicted, 1)),
        "fg_recall": float(fg_hit / max(fg_truth, 1)),
        "per_class": {
            name: {"iou": float(iou[i]), "fp_share": float(fp_share[i]), "fn_share": float(fn_share[i])}
            for i, name in enumerate(names) if occurs[i]
        },
    }


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """AP of one class: mean precision at the rank of every positive."""
    if targets.sum() == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = targets[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision_at[hits == 1].mean())


def mean_average_precision(scores: ArrayLike, targets: ArrayLike) -> float:
    """mAP over the classes that have at least one positive; (N, K) arrays or CPU tensors."""
    scores, targets = np.asarray(scores), np.asarray(targets)
    aps = [average_precision(scores[:, k], targets[:, k]) for k in range(scores.shape[1])]
    return float(np.nanmean(aps))
