"""How every training stage ends: the checkpoint and the per-epoch history, logged."""
from pathlib import Path

from torch import nn

from pipeline.io.checkpoints import save_checkpoint
from pipeline.io.files import write_csv
from stages.common import logged_write


def write_training_outputs(model_path: str | Path, model: nn.Module, history_path: str | Path, history: list[dict],
                           fingerprint: str, **extra) -> None:
    """Save the checkpoint (with `extra` metadata) and the history CSV that `dvc plots` reads."""
    save_checkpoint(model_path, model, fingerprint, **extra)
    logged_write(model_path)
    write_csv(history_path, history)
    logged_write(history_path, f"{len(history)} epochs")
