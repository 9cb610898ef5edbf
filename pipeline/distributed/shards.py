"""Outputs written in parts by several processes and merged by rank 0 when all are there.

Each process writes its part under a name of its own (atomically, as every output);
rank 0 then waits for every part, merges them into the output (atomically too) and
deletes them. An output therefore appears only when every part was complete, and a
failed or killed process leaves at most parts behind, never a partial output. Parts
carry the launch's run id, so a part left by an earlier, killed launch is never merged.
Waiting uses the file system, not a process group, so torch-free stages shard too; on
several machines the outputs' folder must be shared (as DVC's workspace is).
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.distributed.world import World
from pipeline.io.files import atomic_path, remove_path

# How often rank 0 looks for the other processes' parts.
POLL_SECONDS = 0.2

Merge = Callable[[list[Path], Path], None]  # (parts in rank order, the output to write)


def part_path(target: str | Path, world: World) -> Path:
    """Where this process writes its part of `target`: `target` itself in a single process."""
    target = Path(target)
    if world.size == 1:
        return target
    return target.with_name(f".{target.name}.{world.run_id}.part{world.rank}")


def stale_parts(target: str | Path) -> list[Path]:
    """Parts of `target` on disk, complete or still temporary, from any launch."""
    target = Path(target)
    return sorted([*target.parent.glob(f".{target.name}.*.part*"), *target.parent.glob(f"..{target.name}.*.part*.tmp")])


def wait_for_parts(target: str | Path, world: World, timeout_s: float) -> list[Path]:
    """Every process's part of `target`, once all exist; an error naming the missing one after `timeout_s`."""
    parts = [part_path(target, World(rank, world.size, run_id=world.run_id)) for rank in range(world.size)]
    deadline = time.monotonic() + timeout_s
    while missing := [p for p in parts if not (p.exists() or p.is_symlink())]:
        if time.monotonic() > deadline:
            raise PipelineError(
                f"{missing[0]}: this part of {target} did not appear within runtime.timeout_s={timeout_s:g} s; "
                "its process failed (see its error) or needs longer"
            )
        time.sleep(POLL_SECONDS)
    return parts


@contextlib.contextmanager
def sharded_output(target: str | Path, world: World, timeout_s: float, merge: Merge) -> Iterator[Path]:
    """Yield where this process writes its part of `target`; after the block, rank 0 waits
    for every part and merges them into `target`. In a single process the part is `target`."""
    yield part_path(target, world)
    if world.size > 1 and world.is_main:
        parts = wait_for_parts(target, world, timeout_s)
        with atomic_path(target) as tmp:
            merge(parts, tmp)
        for part in parts:
            remove_path(part)


def merge_folders(parts: list[Path], target: Path) -> None:
    """Merge: move the files of every part folder into one folder (file names are unique per image)."""
    target.mkdir(parents=True)
    for part in parts:
        for path in sorted(part.iterdir()):
            path.replace(target / path.name)


@contextlib.contextmanager
def sharded_folder(target: str | Path, world: World, timeout_s: float) -> Iterator[Path]:
    """Yield the temporary folder this process fills with its share of `target`'s files;
    `target` appears, complete, when every process's share is there."""
    with sharded_output(target, world, timeout_s, merge_folders) as part, atomic_path(part) as tmp:
        yield tmp
