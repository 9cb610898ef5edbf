"""Atomic writes, and the JSON and CSV files the stages exchange.

Everything is written under a temporary name next to its target and renamed into place
when complete, so an interrupted stage never leaves a half-written file behind.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from pipeline.core.errors import PipelineError


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` on success only.

    Works for files and directories. On any exception the temporary is removed and the
    previous `target` (if any) is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(target)
    remove_path(tmp)
    try:
        yield tmp
    except BaseException:
        remove_path(tmp)
        raise
    remove_path(target)
    os.replace(tmp, target)


def temporary_path(target: str | Path) -> Path:
    """Where `atomic_path` writes `target` until it is complete."""
    target = Path(target)
    return target.with_name(f".{target.name}.tmp")


def remove_stale_temporary(target: str | Path) -> bool:
    """Remove what an interrupted (killed) run left at `target`'s temporary path; True if any."""
    tmp = temporary_path(target)
    if not (tmp.exists() or tmp.is_symlink()):
        return False
    remove_path(tmp)
    return True


def remove_path(path: Path) -> None:
    """Delete a file, link or folder tree, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def read_json(path: str | Path, remedy: str) -> object:
    """A JSON file written by a stage; missing or truncated is a one-line error ending in `remedy`."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: not found; {remedy}")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{path}: not complete JSON ({exc}); {remedy}") from exc


def write_json(path: str | Path, data: object) -> None:
    """Write JSON atomically, pretty-printed so diffs of metrics stay readable."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_csv(path: str | Path, rows: list[dict]) -> None:
    """Write a list of flat dicts as CSV (the format `dvc plots` reads)."""
    if not rows:
        raise ValueError("write_csv needs at least one row")
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(_fmt(row[k]) for k in header) for row in rows]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def _fmt(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
