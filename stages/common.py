"""What every stage shares: logging, params, the manifest, one-line errors.

Kept to light imports (no torch): every stage lists this file and what it imports among
its DVC dependencies (tests/test_dvc_deps.py).
"""
from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Any

import click

from pipeline.core.config import load_params, section, seed_of
from pipeline.core.errors import PipelineError
from pipeline.data.voc import DataParams, Manifest
from pipeline.io.files import remove_stale_temporary, temporary_path

log = logging.getLogger("stage")


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def _file_system_error(exc: OSError) -> str:
    """One line for an error of the file system (a full disk, a read-only folder, a file size limit)."""
    where = exc.filename or "writing an output"
    reason = (exc.strerror or str(exc)).splitlines()[0]
    return f"{where}: {reason}; free space or fix permissions where the outputs go, then rerun"


def stage(function):
    """Run a stage body with logging set up; a PipelineError, or the file system refusing a
    read or write, becomes one `error: ...` line and exit 1."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        _configure_logging()
        try:
            return function(*args, **kwargs)
        except PipelineError as exc:
            print(f"error: {exc}", file=sys.stderr)
        except OSError as exc:
            print(f"error: {_file_system_error(exc)}", file=sys.stderr)
        sys.exit(1)

    return wrapper


def _clear_stale_temporary(_context: click.Context, _parameter: click.Parameter, value: str) -> str:
    if remove_stale_temporary(value):
        _configure_logging()
        log.warning("removed %s: the temporary of an interrupted run", temporary_path(value))
    return value


def output_option(*declarations: str, **kwargs: Any):
    """A required click option naming a file or folder the stage writes. The temporary an
    interrupted run left beside it is removed as the stage starts, before any work."""
    return click.option(*declarations, required=True, callback=_clear_stale_temporary, **kwargs)


def stage_command(manifest: bool = True, metrics: bool = False):
    """A stage's click command: `--manifest` (the dataset manifest from prepare) and
    `--metrics` (the JSON it writes) when asked for, and `stage`'s one-line errors."""

    def decorate(function):
        command = stage(function)
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
