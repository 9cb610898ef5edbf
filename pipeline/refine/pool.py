"""An ordered `map` over worker processes, for the per-image CRF work.

This module and the modules holding worker functions import no torch: every worker
process starts with `spawn` and imports the worker's module, and torch alone takes
seconds to import.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm import tqdm

# How often a worker checks that the process that started it is still alive.
PARENT_CHECK_SECONDS = 0.2


def _exit_with_parent(parent: int) -> None:
    """Pool initializer: end this worker as soon as its parent is gone.

    A killed (SIGKILL) stage cannot stop its pool, and its workers would go on with the
    queued images for seconds, then die of broken pipes. Polling the parent id is portable
    and costs nothing next to a CRF.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def parallel_map(function: Callable[[Any], Any], items: Iterable[Any], workers: int, total: int, desc: str) -> Iterator[Any]:
    """`map` over a pool of `workers` processes (in order), with a progress bar.

    With one worker, `function` runs in this process; with more, this process only feeds
    the pool and collects results in order. `function` must be picklable (a module-level
    function or a functools.partial of one). Workers exit when this process dies.
    """
    bar = tqdm(total=total, desc=desc, unit="img")
    if workers <= 1:
        for item in items:
            yield function(item)
            bar.update()
    else:
        with multiprocessing.get_context("spawn").Pool(workers, _exit_with_parent, (os.getpid(),)) as pool:
            for result in pool.imap(function, items, chunksize=4):
                yield result
                bar.update()
    bar.close()
