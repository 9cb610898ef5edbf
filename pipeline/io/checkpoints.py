"""Checkpoints: weights plus the metadata that rebuilds the network and names its dataset."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pipeline.core.errors import PipelineError
from pipeline.io.files import atomic_path


def save_checkpoint(path: str | Path, model: nn.Module, fingerprint: str, **extra) -> None:
    """Save weights, `model.config` (what its builder needs), the dataset fingerprint and
    any `extra` facts (method, label source), atomically."""
    meta = {"model": dict(model.config), "fingerprint": fingerprint, **extra}
    with atomic_path(path) as tmp:
        try:
            torch.save({"meta": meta, "state_dict": model.state_dict()}, tmp)
        except RuntimeError as exc:  # torch's zip writer reports a full disk as a RuntimeError
            raise PipelineError(f"{path}: writing the checkpoint failed ({str(exc).splitlines()[0]}); "
                                "free disk space or fix permissions, then rerun") from exc


def load_checkpoint(path: str | Path, fingerprint: str) -> dict:
    """A checkpoint written by `save_checkpoint` for the dataset `fingerprint`.

    Missing, corrupt, foreign or trained-on-another-dataset files are one-line errors.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: checkpoint not found; run the stage that trains it (dvc repro)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for bad files
        raise PipelineError(f"{path}: not a readable checkpoint ({exc}); rerun its stage") from exc
    if not isinstance(checkpoint, dict) or "model" not in checkpoint.get("meta", {}):
        raise PipelineError(f"{path}: not a checkpoint written by this pipeline; rerun its stage")
    if checkpoint["meta"].get("fingerprint") != fingerprint:
        raise PipelineError(f"{path}: trained on another dataset; rerun the stage that trains it (dvc repro)")
    return checkpoint
