"""Device choice and checked loading of trained networks, for the stages that run one."""
from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models.segmentation.deeplabv3 import DeepLabV3

from pipeline.data.voc import Manifest
from pipeline.errors import PipelineError
from pipeline.models.classifier import Classifier, build_classifier
from pipeline.models.segmentation import build_deeplab
from pipeline.training import RuntimeParams, load_checkpoint, resolve_device
from stages.common import logged_read, read_section


def read_device(path: str = "params.yaml") -> tuple[RuntimeParams, torch.device]:
    """The shared `runtime` section and the device it resolves to."""
    runtime = read_section("runtime", RuntimeParams, path)
    return runtime, resolve_device(runtime)


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


def load_deeplab(path: str | Path, manifest: Manifest) -> DeepLabV3:
    """A trained DeepLab from `path`, checked against the dataset."""
    checkpoint = load_checked(path, manifest)
    model = build_deeplab(checkpoint["meta"]["arch"], checkpoint["meta"]["num_labels"], pretrained_backbone=False)
    model.load_state_dict(checkpoint["state_dict"])
    return model
