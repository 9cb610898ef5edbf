"""Label conventions shared by every stage: index 0 is background, class i is i + 1, 255 ignored."""
from __future__ import annotations

import numpy as np

IGNORE_INDEX = 255


def label_names(classes: list[str]) -> list[str]:
    """Names of the label indices: background first, then the classes."""
    return ["background", *classes]


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """(height, width) times `scale`, rounded, at least one pixel each."""
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def argmax_with_background(maps: np.ndarray, bg_score: float) -> np.ndarray:
    """Index into [background, *maps] of the best score, with a constant background score."""
    scores = np.concatenate([np.full((1, *maps.shape[1:]), bg_score, dtype=maps.dtype), maps])
    return scores.argmax(axis=0)


def labels_from_maps(maps: np.ndarray, classes: np.ndarray, bg_threshold: float) -> np.ndarray:
    """Label map from foreground maps of label indices `classes`: a constant background, then argmax."""
    lookup = np.concatenate([[0], classes]).astype(np.uint8)
    return lookup[argmax_with_background(maps, bg_threshold)]
