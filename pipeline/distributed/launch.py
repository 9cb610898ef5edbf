"""Starting a stage as several local processes with torchrun's elastic agent.

`runtime.nproc: N` makes a stage start itself again as N processes, exactly as
`torchrun --standalone --nproc-per-node=N -m stages.<stage> ...` would (same agent, same
rendezvous, same environment variables), but from Python, so that a failed process is
reported in one line instead of the agent's report. On several machines, start the stage
with torchrun on each (README, "More than one machine"); the stages read the same variables.
"""
from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Sequence


def launch_local(nproc: int, module: str, args: Sequence[str]) -> bool:
    """Run `python -m module args` as `nproc` processes on this machine; True if all succeeded.

    torch is imported here only: the stage runner itself stays torch-free.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # the stages report their own errors
    # Each process sets its torch thread count (runtime.threads); OpenMP's default would oversubscribe.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // nproc)))
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0)
    try:
        elastic_launch(config, sys.executable)("-u", "-m", module, *args)
    except ChildFailedError:
        return False
    return True
