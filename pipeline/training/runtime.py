"""Where and how to compute: device, threads, mixed precision, seeding, the process group."""
from __future__ import annotations

import functools
import os
import random
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from pipeline.core.errors import PipelineError
from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.world import World


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats exactly on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_runtime(runtime: RuntimeParams, world: World | None = None) -> torch.device:
    """Set torch's thread count deliberately and return the device to compute on.

    torch's default count can exceed the cores a container or `taskset` allows, and
    oversubscribed threads make small-tensor work many times slower; the processes of one
    machine share its cores. Each process takes the GPU of its local rank.
    """
    world = world or World.from_env()
    torch.set_num_threads(runtime.threads or max(1, len(os.sched_getaffinity(0)) // world.local_size))
    return resolve_device(runtime, world)


def resolve_device(runtime: RuntimeParams, world: World | None = None) -> torch.device:
    """The device `runtime.device` names; `auto` takes CUDA when there is one; GPU `local_rank`."""
    world = world or World()
    if runtime.device == "cuda" and not torch.cuda.is_available():
        raise PipelineError("params.yaml: runtime.device=cuda but no CUDA device is available; use auto or cpu")
    kind = ("cuda" if torch.cuda.is_available() else "cpu") if runtime.device == "auto" else runtime.device
    if kind != "cuda":
        return torch.device(kind)
    if world.local_rank >= torch.cuda.device_count():
        raise PipelineError(f"params.yaml: runtime.nproc asks for GPU {world.local_rank} but this machine has "
                            f"{torch.cuda.device_count()}; use at most one process per GPU")
    torch.cuda.set_device(world.local_rank)
    return torch.device("cuda", world.local_rank)


def join_process_group(world: World, runtime: RuntimeParams, device: torch.device) -> None:
    """Join torchrun's process group once: NCCL between GPUs, gloo between CPU processes.

    A process that waits longer than `runtime.timeout_s` for the others stops with an error
    instead of hanging.
    """
    if world.size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(seconds=runtime.timeout_s),
                                device_id=device if device.type == "cuda" else None)


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


def sum_over_processes(array: np.ndarray, world: World, runtime: RuntimeParams, device: torch.device) -> np.ndarray:
    """The element-wise sum of `array` over every process of `world` (`array` itself in one process)."""
    if world.size == 1:
        return array
    join_process_group(world, runtime, device)
    total = torch.from_numpy(np.ascontiguousarray(array)).to(device)
    dist.all_reduce(total)
    return total.cpu().numpy()
