"""An ordered `map` over worker processes, for the per-image CRF work.

This module and the modules holding worker functions import no torch: every worker
process starts with `spawn` and imports the worker's module, and torch alone takes
seconds to import.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm import tqdm

from pipeline.core.lifetime import exit_with_parent


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
        with multiprocessing.get_context("spawn").Pool(workers, exit_with_parent, (os.getpid(),)) as pool:
            for result in pool.imap(function, items, chunksize=4):
                yield result
                bar.update()
    bar.close()
