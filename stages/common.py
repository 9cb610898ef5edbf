"""What every stage shares: logging, params, checked model loading, one-line errors."""
from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import torch
from torchvision.models.segmentation.deeplabv3 import DeepLabV3

from pipeline.classification import build_classifier
from pipeline.config import load_params, section, seed_of
from pipeline.data.voc import Manifest
from pipeline.errors import PipelineError
from pipeline.models.classifier import Classifier
from pipeline.models.segmentation import build_deeplab
from pipeline.scoring import score_label_dir
from pipeline.store import write_json
from pipeline.training import RuntimeParams, load_checkpoint, resolve_device

log = logging.getLogger("stage")


def stage(function):
    """Run a stage body with logging set up; a PipelineError becomes `error: ...` and exit 1."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
        try:
            return function(*args, **kwargs)
        except PipelineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)

    return wrapper


def read_section(name: str, cls: type, path: str = "params.yaml"):
    """One parsed params.yaml section."""
    return section(load_params(path), cls, name)


def read_seed(path: str = "params.yaml") -> int:
    """The shared top-level seed."""
    return seed_of(load_params(path))


def read_device(path: str = "params.yaml") -> tuple[RuntimeParams, torch.device]:
    """The shared `runtime` section and the device it resolves to."""
    runtime = read_section("runtime", RuntimeParams, path)
    return runtime, resolve_device(runtime)


def logged_read(path: str | Path) -> Path:
    log.info("read %s", path)
    return Path(path)


def logged_write(path: str | Path) -> Path:
    log.info("wrote %s", path)
    return Path(path)


def load_manifest(path: str | Path) -> Manifest:
    return Manifest.load(logged_read(path))


def load_checked(path: str | Path, manifest: Manifest) -> dict:
    """A checkpoint from `path`, refused if it was trained on another dataset."""
    checkpoint = load_checkpoint(logged_read(path))
    if checkpoint["meta"].get("fingerprint") != manifest.fingerprint:
        raise PipelineError(f"{path}: trained on another dataset; rerun the stage that trains it (dvc repro)")
    return checkpoint


def load_classifier(path: str | Path, manifest: Manifest) -> Classifier:
    """The trained classifier from `path`, checked against the dataset."""
    checkpoint = load_checked(path, manifest)
    model = build_classifier(checkpoint["meta"])
    model.load_state_dict(checkpoint["state_dict"])
    return model


def write_label_scores(key: str, label_dir: str | Path, manifest: Manifest, split: str, metrics_path: str) -> None:
    """Score a folder of label PNGs against ground truth and write `{key: scores}`."""
    summary = score_label_dir(label_dir, manifest, split)
    write_json(metrics_path, {key: summary})
    logged_write(f"{metrics_path} (mIoU {summary['miou']:.3f})")


def load_deeplab(path: str | Path, manifest: Manifest) -> DeepLabV3:
    """A trained DeepLab from `path`, checked against the dataset."""
    checkpoint = load_checked(path, manifest)
    model = build_deeplab(checkpoint["meta"]["arch"], checkpoint["meta"]["num_labels"], pretrained_backbone=False)
    model.load_state_dict(checkpoint["state_dict"])
    return model
