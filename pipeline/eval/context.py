"""Co-occurrence context false positives: how much of a class's annotated context (the water
under boats, the rails under trains) a label map calls that class.

A dataset may annotate context in `data.context_dir`: one label PNG per image holding, on
each context pixel, the index of the class whose context it is (0 elsewhere). The score of
class k is the share of its context pixels (truly not k, not ignored) labelled k; it is the
figure GAIN_ext's extra supervision is meant to lower, measured where the bias lives rather
than through the class's overall FP share.
"""
from __future__ import annotations

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.core.labels import IGNORE_INDEX
from pipeline.data.voc import Manifest
from pipeline.io.label_png import read_label_png


def read_context(manifest: Manifest, image_id: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The context annotation of `image_id` (label indices, 0: none), or None when the dataset has none."""
    path = manifest.context_path(image_id)
    if path is None or not path.is_file():
        return None
    context = read_label_png(path)
    if context.shape != shape:
        raise PipelineError(f"{path}: context mask is {context.shape}, the image's labels are {shape}; "
                            "draw it on the image's pixels")
    return context


def empty_context(num_labels: int) -> np.ndarray:
    """Zero counts to accumulate `context_counts` results into."""
    return np.zeros((num_labels, 2), dtype=np.int64)


def context_counts(prediction: np.ndarray, truth: np.ndarray, context: np.ndarray | None, num_labels: int) -> np.ndarray:
    """(num_labels, 2) counts: per label k, its context pixels whose truth is another label
    (not ignored), and how many of them `prediction` calls k."""
    counts = empty_context(num_labels)
    if context is None:
        return counts
    scored = (context > 0) & (context < num_labels) & (truth != IGNORE_INDEX) & (truth != context)
    owners = context[scored].astype(np.int64)
    counts[:, 0] = np.bincount(owners, minlength=num_labels)
    counts[:, 1] = np.bincount(owners[prediction[scored] == owners], minlength=num_labels)
    return counts


def summarise_context(counts: np.ndarray, names: list[str]) -> dict:
    """{"context_fp": {class: share of its context labelled as it}} for the classes with
    annotated context; {} when there is none."""
    shares = {names[k]: float(counts[k, 1] / counts[k, 0]) for k in range(len(names)) if counts[k, 0] > 0}
    return {"context_fp": shares} if shares else {}
