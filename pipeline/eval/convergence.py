"""Whether a training run stopped while it was still learning, read from its history.

Training lengths in params.yaml were sized on the built-in data; on harder data a run can
stop short (on the photographs, DeepLab's loss still falls steeply in its last epoch) and
every figure after it inherits that. So a run still learning is trained again at twice the
length (`pipeline.training.lengths`), and the report flags a run still learning at its last
length and names the key to raise. The classifier is judged on its val mAP (image labels,
never pixel ground truth); AffinityNet and DeepLab have only their training loss, judged by
its relative fall.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.config import bounded
from pipeline.core.errors import PipelineError


@dataclass
class ConvergenceParams:
    """The shared `convergence` section: when a training run counts as still learning, and how
    often such a run is trained again at twice its epochs."""

    val_map_rise: float = bounded(0.005, 0.0)  # classifier: val mAP gained in the last epoch
    loss_fall: float = bounded(0.1, 0.0, 1.0)  # the others: share of the loss lost in the last epoch
    doublings: int = bounded(2, 0)  # 0: every run trains exactly its optim.epochs


@dataclass(frozen=True)
class TrainingRun:
    """One training stage's history, and the params key that sets its length."""

    name: str
    history: Path
    epochs_key: str


def read_history(path: Path) -> list[dict[str, float]]:
    """The rows of a history CSV written by a training stage, as floats."""
    try:
        with path.open(newline="") as handle:
            rows = [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]
    except (OSError, ValueError) as error:
        raise PipelineError(f"{path}: not a training history ({error}); rerun `dvc repro` to write it again") from error
    if not rows or "loss" not in rows[0]:
        raise PipelineError(f"{path}: no epochs with a `loss` column; rerun `dvc repro` to write it again")
    return rows


def last_epoch_progress(rows: list[dict[str, float]], params: ConvergenceParams) -> dict:
    """What the last epoch gained, and whether that is more than `params` calls levelled off.

    With `val_map` in the history: its rise; otherwise the loss's relative fall. A run of
    one epoch has no trend to judge (gain None) and counts as still learning."""
    measure, limit = ("val_map_rise", params.val_map_rise) if "val_map" in rows[0] else ("loss_fall", params.loss_fall)
    if len(rows) < 2:
        return {"epochs": len(rows), measure: None, "still_learning": True}
    before, last = rows[-2], rows[-1]
    if measure == "val_map_rise":
        gain = last["val_map"] - before["val_map"]
    else:
        gain = (before["loss"] - last["loss"]) / before["loss"] if before["loss"] > 0 else 0.0
    return {"epochs": len(rows), measure: gain, "still_learning": gain > limit}


def training_progress(runs: list[TrainingRun], params: ConvergenceParams) -> dict[str, dict]:
    """{run name: last_epoch_progress, plus the key to raise where it is still learning}."""
    report = {}
    for run in runs:
        progress = last_epoch_progress(read_history(run.history), params)
        if progress["still_learning"]:
            progress["raise"] = run.epochs_key
        report[run.name] = progress
    return report


def gain_phrase(run: dict) -> str:
    """What a run's last epoch gained, in words."""
    rise, fall = run.get("val_map_rise"), run.get("loss_fall")  # a run holds one of the two
    if rise is not None:
        return f"val mAP rose {rise:.4f}"
    if fall is not None:
        return f"loss fell {fall:.1%}"
    return "one epoch, no trend"


def progress_phrases(run: dict) -> tuple[str, str]:
    """What a run's last epoch gained, and the verdict, in words."""
    verdict = f"still learning: raise {run['raise']}" if run["still_learning"] else "levelled off"
    return gain_phrase(run), verdict


def describe_progress(name: str, run: dict) -> str:
    """One line on a run's last epoch, for the stage log."""
    gain, verdict = progress_phrases(run)
    return f"{name}: {gain} in the last of {run['epochs']} epochs; {verdict}"
