"""Processes that end with the process that started them."""
from __future__ import annotations

import os
import threading
import time

# How often a child checks that the process that started it is still alive.
PARENT_CHECK_SECONDS = 0.2


def exit_with_parent(parent: int) -> None:
    """End this process as soon as process `parent` (its parent) is gone.

    A killed (SIGKILL) stage cannot stop the processes it started: CRF pool workers would
    go on with queued images, torchrun's workers with their shard, for seconds or for the
    whole stage. Polling the parent id is portable and costs nothing next to their work.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
