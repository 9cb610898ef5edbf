"""The shared `runtime` section: where and how the stages compute.

Torch-free, so that the stage runner (which may relaunch a stage under torchrun) and the
torch-free CRF stages can read it.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.config import bounded, choice


@dataclass
class RuntimeParams:
    """The shared `runtime` section."""

    device: str = choice("auto", ("auto", "cpu", "cuda"))
    amp: bool = True  # bf16 autocast where the device computes bf16 natively (CUDA, AVX512-BF16 / AMX CPUs)
    num_workers: int = bounded(0, 0)  # DataLoader worker processes
    threads: int = bounded(0, 0)  # torch threads per process; 0: the cores this process may run on / local processes
    nproc: int = bounded(1, 1)  # processes per machine; above 1, the stages that support it run under torchrun
    timeout_s: int = bounded(1800, 1)  # how long a process waits for the others before it stops with an error
