"""Dense CRF (Kraehenbuehl and Koltun, 2011) through pydensecrf, one image at a time."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pydensecrf.densecrf as dcrf
from pydensecrf.utils import unary_from_labels, unary_from_softmax

from pipeline.core.config import bounded


@dataclass
class DenseCrfParams:
    """Kernel settings of one dense CRF; the defaults are the values common in published WSSS code."""

    iterations: int = bounded(10, 1)
    gaussian_sxy: float = bounded(3.0, 0.0)
    gaussian_compat: float = bounded(3.0, 0.0)
    bilateral_sxy: float = bounded(80.0, 0.0)
    bilateral_srgb: float = bounded(13.0, 0.0)
    bilateral_compat: float = bounded(10.0, 0.0)


def _model(image: np.ndarray, num_labels: int, params: DenseCrfParams) -> dcrf.DenseCRF2D:
    height, width = image.shape[:2]
    crf = dcrf.DenseCRF2D(width, height, num_labels)
    crf.addPairwiseGaussian(sxy=params.gaussian_sxy, compat=params.gaussian_compat)
    crf.addPairwiseBilateral(
        sxy=params.bilateral_sxy, srgb=params.bilateral_srgb,
        rgbim=np.ascontiguousarray(image), compat=params.bilateral_compat,
    )
    return crf


def crf_probabilities(image: np.ndarray, probabilities: np.ndarray, params: DenseCrfParams) -> np.ndarray:
    """Refine per-pixel label probabilities (n, H, W), summing to 1 over n; same shape out."""
    num_labels, height, width = probabilities.shape
    crf = _model(image, num_labels, params)
    unary = unary_from_softmax(np.clip(probabilities, 1e-8, 1.0).astype(np.float32))
    crf.setUnaryEnergy(np.ascontiguousarray(unary))
    return np.asarray(crf.inference(params.iterations), dtype=np.float32).reshape(num_labels, height, width)


def crf_labels(image: np.ndarray, labels: np.ndarray, num_labels: int, gt_prob: float, params: DenseCrfParams) -> np.ndarray:
    """Refine a hard label map (values 0..num_labels-1) trusted with probability `gt_prob`."""
    crf = _model(image, num_labels, params)
    unary = unary_from_labels(labels.astype(np.int64), num_labels, gt_prob=gt_prob, zero_unsure=False)
    crf.setUnaryEnergy(np.ascontiguousarray(unary))
    q = np.asarray(crf.inference(params.iterations)).reshape(num_labels, *labels.shape)
    return q.argmax(axis=0)
