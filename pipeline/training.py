"""The one training loop: SGD with momentum, poly learning rate, per-epoch callbacks."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from pipeline.config import bounded, choice
from pipeline.errors import PipelineError
from pipeline.store import atomic_path


@dataclass
class OptimParams:
    """Poly-decayed SGD (the published recipe) or AdamW; new layers train at
    `head_lr_mult` times the backbone lr."""

    optimizer: str = choice("sgd", ("sgd", "adamw"))
    epochs: int = bounded(8, 1)
    batch_size: int = bounded(32, 1)
    lr: float = bounded(0.05, 0.0)
    head_lr_mult: float = bounded(10.0, 0.0)
    momentum: float = bounded(0.9, 0.0, 1.0)
    weight_decay: float = bounded(1e-4, 0.0)
    poly_power: float = bounded(0.9, 0.0)


@dataclass
class RuntimeParams:
    """Where and how to compute: device, mixed precision, loader workers."""

    device: str = choice("auto", ("auto", "cpu", "cuda"))
    amp: bool = False  # bf16 autocast on CUDA; ignored on the CPU
    num_workers: int = bounded(0, 0)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats exactly on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(runtime: RuntimeParams) -> torch.device:
    if runtime.device == "cuda" and not torch.cuda.is_available():
        raise PipelineError("params.yaml: device=cuda but no CUDA device is available; use auto or cpu")
    if runtime.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(runtime.device)


def autocast(device: torch.device, runtime: RuntimeParams):
    """bf16 autocast on CUDA when `amp` is set; a no-op context elsewhere."""
    enabled = runtime.amp and device.type == "cuda"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def make_loader(dataset: torch.utils.data.Dataset, batch_size: int, runtime: RuntimeParams,
                seed: int) -> torch.utils.data.DataLoader:
    """A shuffled training loader whose order repeats for the same seed."""
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, drop_last=len(dataset) > batch_size,
        num_workers=runtime.num_workers, generator=torch.Generator().manual_seed(seed),
    )


def make_optimizer(groups: list[tuple[list[nn.Parameter], float]], params: OptimParams) -> torch.optim.Optimizer:
    """The configured optimizer over (parameters, lr multiplier) groups."""
    param_groups = [{"params": p, "lr": params.lr * mult, "lr_mult": mult} for p, mult in groups if p]
    if params.optimizer == "adamw":
        return torch.optim.AdamW(param_groups, lr=params.lr, weight_decay=params.weight_decay)
    return torch.optim.SGD(param_groups, lr=params.lr, momentum=params.momentum, weight_decay=params.weight_decay)


def fit(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    optimizer: torch.optim.Optimizer,
    params: OptimParams,
    step: Callable[[dict[str, torch.Tensor], float], dict[str, torch.Tensor]],
    on_epoch_end: Callable[[int], dict[str, float]] | None = None,
    desc: str = "train",
) -> list[dict[str, float]]:
    """Train for `params.epochs`; `step(batch, progress)` returns named loss terms.

    The loss is their sum. Returns one history row per epoch: the mean of every term,
    the total, and whatever `on_epoch_end(epoch)` adds (validation figures).
    """
    total_steps = params.epochs * len(loader)
    history, step_index = [], 0
    for epoch in range(params.epochs):
        model.train()
        if hasattr(loader.dataset, "epoch"):
            loader.dataset.epoch = epoch
        sums: dict[str, float] = {}
        bar = tqdm(loader, desc=f"{desc} epoch {epoch + 1}/{params.epochs}", unit="batch")
        for batch in bar:
            progress = step_index / max(total_steps, 1)
            lr_scale = (1 - progress) ** params.poly_power
            for group in optimizer.param_groups:
                group["lr"] = params.lr * group["lr_mult"] * lr_scale
            terms = step(batch, progress)
            loss = sum(terms.values())
            if not torch.isfinite(loss):
                raise PipelineError(f"{desc}: loss became {loss.item()} at epoch {epoch + 1}; lower the lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step_index += 1
            for name, value in {**terms, "loss": loss}.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            bar.set_postfix(loss=f"{loss.item():.4f}")
        row = {"epoch": epoch + 1, **{k: v / len(loader) for k, v in sums.items()}}
        if on_epoch_end is not None:
            row.update(on_epoch_end(epoch))
        history.append(row)
        tqdm.write(f"{desc} epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch"))
    return history


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict) -> None:
    """Save weights and the metadata needed to rebuild the model, atomically."""
    with atomic_path(path) as tmp:
        torch.save({"meta": meta, "state_dict": model.state_dict()}, tmp)


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint written by `save_checkpoint`; missing or corrupt is one line."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: checkpoint not found; run the stage that trains it (dvc repro)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for bad files
        raise PipelineError(f"{path}: not a readable checkpoint ({exc}); rerun its stage") from exc
    if not isinstance(checkpoint, dict) or "meta" not in checkpoint:
        raise PipelineError(f"{path}: not a checkpoint written by this pipeline; rerun its stage")
    return checkpoint
