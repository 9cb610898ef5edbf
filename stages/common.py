"""What every stage shares: logging, params, the manifest, one-line errors, and running
on several processes (`runtime.nproc`).

Kept to light imports (no torch): every stage lists this file and what it imports among
its DVC dependencies (tests/test_dvc_deps.py).
"""
from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from pipeline.core.config import load_params, section, seed_of
from pipeline.core.errors import PipelineError
from pipeline.core.lifetime import exit_with_parent
from pipeline.core.runtime import RuntimeParams
from pipeline.data.voc import DataParams, Manifest
from pipeline.distributed.launch import launch_local
from pipeline.distributed.shards import stale_parts
from pipeline.distributed.world import World
from pipeline.io.files import remove_path, remove_stale_temporary, temporary_path

log = logging.getLogger("stage")
OUTPUTS = "stage_outputs"  # click context key: the outputs a stage's command line names


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def _file_system_error(exc: OSError) -> str:
    """One line for an error of the file system (a missing input, a full disk, a read-only folder)."""
    where = exc.filename or "writing an output"
    reason = (exc.strerror or str(exc)).splitlines()[0]
    if isinstance(exc, FileNotFoundError):
        return f"{where}: {reason}; an input changed after the stage that checks it ran: rerun `dvc repro`"
    return f"{where}: {reason}; free space or fix permissions where the outputs go, then rerun"


def _run_under_torchrun(function, nproc: int) -> None:
    """Run this stage's command line again as `nproc` processes under torchrun's elastic
    agent (what `torchrun --standalone` runs); this process waits. When one process fails,
    the agent stops the others, and this process says so in one line."""
    module = function.__module__
    if module == "__main__":
        module = sys.modules["__main__"].__spec__.name
    log.info("running %s as %d processes under torchrun", module, nproc)
    if not launch_local(nproc, module, sys.argv[1:]):
        for target in click.get_current_context().meta.get(OUTPUTS, []):
            for part in stale_parts(target):
                remove_path(part)
        raise PipelineError(f"{module}: a process of {nproc} failed (its error is above); no output was written")


def stage(function, distributed: bool = False):
    """Run a stage body with logging set up; a PipelineError, or the file system refusing a
    read or write, becomes one `error: ...` line and exit 1.

    A `distributed` stage runs as `runtime.nproc` processes under torchrun when that is
    above 1 (or as the processes torchrun already started); any other stage runs on rank 0
    alone when torchrun starts it. Rank 0 alone logs what was read and written.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        _configure_logging()
        try:
            world = World.from_env()
            if distributed and world.size == 1:
                nproc = read_section("runtime", RuntimeParams).nproc
                if nproc > 1:
                    return _run_under_torchrun(function, nproc)
            if world.size > 1:
                exit_with_parent(os.getppid())  # torchrun's agent: if it is killed, so is this process
            if world.size > 1 and not distributed and not world.is_main:
                return None
            if not world.is_main:
                logging.getLogger().setLevel(logging.WARNING)
            return function(*args, **kwargs)
        except PipelineError as exc:
            print(f"error: {exc}", file=sys.stderr)
        except OSError as exc:
            print(f"error: {_file_system_error(exc)}", file=sys.stderr)
        sys.exit(1)

    return wrapper


def _clear_stale_temporaries(context: click.Context, _parameter: click.Parameter, value: str) -> str:
    context.meta.setdefault(OUTPUTS, []).append(value)
    stale = [temporary_path(value)] if remove_stale_temporary(value) else []
    if World.from_env().size == 1:  # no process of this launch has written a part yet
        parts = stale_parts(value)
        for part in parts:
            remove_path(part)
        stale += parts
    for path in stale:
        _configure_logging()
        log.warning("removed %s: left by an interrupted run", path)
    return value


def output_option(*declarations: str, **kwargs: Any):
    """A required click option naming a file or folder the stage writes. What an
    interrupted run left beside it (its temporary, the parts of a multi-process run) is
    removed as the stage starts, before any work."""
    return click.option(*declarations, required=True, callback=_clear_stale_temporaries, **kwargs)


def stage_command(manifest: bool = True, metrics: bool = False, distributed: bool = False):
    """A stage's click command: `--manifest` (the dataset manifest from prepare) and
    `--metrics` (the JSON it writes) when asked for, and `stage`'s one-line errors and
    process handling (`distributed`: the stage shards its work over torchrun's processes)."""

    def decorate(function):
        command = stage(function, distributed)
        if metrics:
            command = output_option("--metrics", "metrics_path", help="Metrics JSON to write.")(command)
        if manifest:
            command = click.option("--manifest", "manifest_path", required=True, help="Manifest from prepare.")(command)
        return click.command()(command)

    return decorate


def read_section(name: str, cls: type, path: str = "params.yaml"):
    """One parsed params.yaml section."""
    return section(load_params(path), cls, name)


def read_seed(path: str = "params.yaml") -> int:
    """The shared top-level seed."""
    return seed_of(load_params(path))


def logged_read(path: str | Path) -> Path:
    log.info("read %s", path)
    return Path(path)


def logged_write(path: str | Path, summary: str = "") -> Path:
    log.info("wrote %s%s", path, f" ({summary})" if summary else "")
    return Path(path)


def load_manifest(path: str | Path) -> Manifest:
    return Manifest.load(logged_read(path))


def stage_inputs(name: str, cls: type, manifest_path: str | Path) -> tuple[Any, DataParams, Manifest]:
    """What most stages start from: their params section, the `data` section, the manifest."""
    return read_section(name, cls), read_section("data", DataParams), load_manifest(manifest_path)
