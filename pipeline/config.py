"""params.yaml sections -> validated dataclasses.

Every stage reads its own section (plus the shared `seed` and `data`). Unknown keys,
wrong types and values outside their allowed set stop with one error naming the
parameter, so a typo in `dvc exp run -S` never silently runs a default.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import PipelineError


def choice(default: Any, options: typing.Iterable[str]) -> Any:
    """A dataclass field restricted to `options` (checked when the section is parsed)."""
    return field(default=default, metadata={"choices": tuple(options)})


def bounded(default: Any, low: float | None = None, high: float | None = None) -> Any:
    """A numeric dataclass field restricted to [low, high]."""
    return field(default=default, metadata={"low": low, "high": high})


def _check_type(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(name, value, arg)
            except PipelineError as exc:
                errors.append(str(exc))
        raise PipelineError(errors[0] if errors else f"params.yaml: {name} must not be null")
    if origin in (list, tuple):
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, (list, tuple)):
            raise PipelineError(f"params.yaml: {name} must be a list, got {value!r}")
        return [_check_type(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PipelineError(f"params.yaml: {name} must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise PipelineError(f"params.yaml: {name} must be an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise PipelineError(f"params.yaml: {name} must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise PipelineError(f"params.yaml: {name} must be a string, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint):
        return parse_section(hint, value, name)
    return value


def parse_section(cls: type, raw: Any, name: str) -> Any:
    """Build dataclass `cls` from the mapping `raw`, naming `name.key` in every error."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise PipelineError(f"params.yaml: {name} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise PipelineError(
            f"params.yaml: {name}.{unknown[0]} is not a known parameter "
            f"(known: {', '.join(sorted(known))})"
        )
    values = {}
    for key, value in raw.items():
        full = f"{name}.{key}"
        value = _check_type(full, value, hints[key])
        meta = known[key].metadata
        if "choices" in meta and value not in meta["choices"]:
            raise PipelineError(
                f"params.yaml: {full}={value!r} is not one of: {', '.join(meta['choices'])}"
            )
        low, high = meta.get("low"), meta.get("high")
        if value is not None and low is not None and value < low:
            raise PipelineError(f"params.yaml: {full}={value!r} must be at least {low}")
        if value is not None and high is not None and value > high:
            raise PipelineError(f"params.yaml: {full}={value!r} must be at most {high}")
        values[key] = value
    return cls(**values)


@dataclass
class DataParams:
    """Where the VOC-layout dataset lives and how to read it."""

    root: str = "data/builtin"
    classes: list[str] | None = None  # None: <root>/classes.txt, else the 20 VOC classes
    train_split: str = "train"
    val_split: str = "val"
    mask_dir: str = "auto"  # auto: SegmentationClassAug if present, else SegmentationClass
    labels_file: str | None = None  # "<id> <class name> ..." lines; default: labels from masks
    saliency_dir: str = "SaliencyMaps"


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read params.yaml; a missing or malformed file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: parameter file not found; run from the repository root")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(params, dict):
        raise PipelineError(f"{path}: must be a mapping of sections")
    return params


def section(params: dict, cls: type, name: str) -> Any:
    """Parse section `name` of the loaded params into `cls`."""
    return parse_section(cls, params.get(name), name)


def seed_of(params: dict) -> int:
    """The shared seed every stage derives its randomness from."""
    return _check_type("seed", params.get("seed", 0), int)
