"""params.yaml sections -> validated dataclasses.

Each section of params.yaml has one dataclass whose defaults are the shipped values
(tests/test_params.py proves params.yaml and the defaults agree), so a key left out of
params.yaml runs exactly the shipped default. Unknown sections or keys, wrong types,
lists of the wrong shape and values outside their allowed set stop with one error
naming the parameter, so a typo in `dvc exp run -S` never silently runs a default.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.errors import PipelineError

# The top-level keys of params.yaml: the shared ones, then one section per stage.
SECTIONS = (
    "seed", "runtime", "convergence", "builtin", "data", "train_classifier", "extract_cams", "eval_cams",
    "affinity_labels", "train_affinity", "random_walk", "crf", "train_segmentation", "evaluate", "report",
)

Check = Callable[[Any], "str | None"]  # returns what is wrong with a value, or None


def choice(default: Any, options: Iterable[Any]) -> Any:
    """A dataclass field restricted to `options` (checked when the section is parsed)."""
    return field(default=default, metadata={"choices": tuple(options)})


def bounded(default: Any, low: float | None = None, high: float | None = None) -> Any:
    """A numeric dataclass field restricted to [low, high]."""
    return field(default=default, metadata={"low": low, "high": high})


def listed(default: list, length: int | None = None, min_length: int = 0, low: float | None = None,
           high: float | None = None, check: Check | None = None) -> Any:
    """A list field: an exact `length` or at least `min_length` items, each in [low, high]."""
    return field(default_factory=lambda: list(default), metadata={
        "length": length, "min_length": min_length, "low": low, "high": high, "check": check})


def checked(default: Any, check: Check) -> Any:
    """A field whose value `check` must accept (for rules a type and bounds cannot say)."""
    return field(default=default, metadata={"check": check})


def ascending_pair(value: list[float]) -> str | None:
    """A (low, high) range must not be reversed."""
    return "must be [low, high] with low <= high" if value[0] > value[1] else None


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


def _check_bounds(name: str, value: Any, meta: typing.Mapping) -> None:
    low, high = meta.get("low"), meta.get("high")
    if low is not None and value < low:
        raise PipelineError(f"params.yaml: {name}={value!r} must be at least {low}")
    if high is not None and value > high:
        raise PipelineError(f"params.yaml: {name}={value!r} must be at most {high}")


def _check_value(name: str, value: Any, meta: typing.Mapping) -> None:
    """The field's metadata rules: choices, bounds, list shape, custom check."""
    if value is None:
        return
    if "choices" in meta and value not in meta["choices"]:
        raise PipelineError(f"params.yaml: {name}={value!r} is not one of: {', '.join(map(str, meta['choices']))}")
    if isinstance(value, list):
        length, min_length = meta.get("length"), meta.get("min_length", 0)
        if length is not None and len(value) != length:
            raise PipelineError(f"params.yaml: {name}={value!r} must have exactly {length} values")
        if len(value) < min_length:
            raise PipelineError(f"params.yaml: {name}={value!r} must have at least {min_length} value(s)")
        for index, item in enumerate(value):
            _check_bounds(f"{name}[{index}]", item, meta)
    else:
        _check_bounds(name, value, meta)
    problem = meta["check"](value) if meta.get("check") else None
    if problem:
        raise PipelineError(f"params.yaml: {name}={value!r} {problem}")


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
        _check_value(full, value, known[key].metadata)
        values[key] = value
    return cls(**values)


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read params.yaml; a missing or malformed file or an unknown section is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: parameter file not found; run from the repository root")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(params, dict):
        raise PipelineError(f"{path}: must be a mapping of sections")
    unknown = sorted(set(params) - set(SECTIONS))
    if unknown:
        raise PipelineError(f"{path}: {unknown[0]} is not a known section (known: {', '.join(SECTIONS)})")
    return params


def section(params: dict, cls: type, name: str) -> Any:
    """Parse section `name` of the loaded params into `cls`."""
    return parse_section(cls, params.get(name), name)


def seed_of(params: dict) -> int:
    """The shared seed every stage derives its randomness from."""
    return _check_type("seed", params.get("seed", 0), int)
