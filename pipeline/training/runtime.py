"""Where and how to compute: device, mixed precision, loader workers, seeding."""
from __future__ import annotations

import functools
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline.core.config import bounded, choice
from pipeline.core.errors import PipelineError


@dataclass
class RuntimeParams:
    """The shared `runtime` section."""

    device: str = choice("auto", ("auto", "cpu", "cuda"))
    amp: bool = True  # bf16 autocast where the device computes bf16 natively (CUDA, AVX512-BF16 / AMX CPUs)
    num_workers: int = bounded(0, 0)  # DataLoader worker processes
    threads: int = bounded(0, 0)  # torch threads; 0: every core this process may run on


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats exactly on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_runtime(runtime: RuntimeParams) -> torch.device:
    """Set torch's thread count deliberately and return the device to compute on.

    torch's default count can exceed the cores a container or `taskset` allows, and
    oversubscribed threads make small-tensor work many times slower.
    """
    torch.set_num_threads(runtime.threads or len(os.sched_getaffinity(0)))
    return resolve_device(runtime)


def resolve_device(runtime: RuntimeParams) -> torch.device:
    """The device `runtime.device` names; `auto` takes CUDA when there is one."""
    if runtime.device == "cuda" and not torch.cuda.is_available():
        raise PipelineError("params.yaml: runtime.device=cuda but no CUDA device is available; use auto or cpu")
    if runtime.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(runtime.device)


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text().split() if cpuinfo.is_file() else []
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast(device: torch.device, runtime: RuntimeParams):
    """bf16 autocast when `amp` is set and the device computes bf16 natively; a no-op context elsewhere."""
    enabled = runtime.amp and (device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16()))
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
