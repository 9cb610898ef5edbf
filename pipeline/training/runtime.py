"""Where and how to compute: device, mixed precision, loader workers, seeding."""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.core.config import bounded, choice
from pipeline.core.errors import PipelineError


@dataclass
class RuntimeParams:
    """The shared `runtime` section."""

    device: str = choice("auto", ("auto", "cpu", "cuda"))
    amp: bool = False  # bf16 autocast on CUDA; ignored on the CPU
    num_workers: int = bounded(0, 0)  # DataLoader worker processes


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats exactly on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(runtime: RuntimeParams) -> torch.device:
    """The device `runtime.device` names; `auto` takes CUDA when there is one."""
    if runtime.device == "cuda" and not torch.cuda.is_available():
        raise PipelineError("params.yaml: runtime.device=cuda but no CUDA device is available; use auto or cpu")
    if runtime.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(runtime.device)


def autocast(device: torch.device, runtime: RuntimeParams):
    """bf16 autocast on CUDA when `amp` is set; a no-op context elsewhere."""
    enabled = runtime.amp and device.type == "cuda"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
