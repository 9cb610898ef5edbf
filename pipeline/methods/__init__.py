"""The registry of classifier-training methods.

A method is one module with a `TrainingMethod` subclass; registering it is one line in
`METHODS`, which also adds its parameters to `train_classifier.methods.<name>`.
`train_classifier.method` names one method or several joined by '+' (e.g. "puzzle+gain"):
their extra loss terms are added up.
"""
from __future__ import annotations

import dataclasses

from pipeline.data.voc import Manifest
from pipeline.methods.base import NoParams, TrainingMethod
from pipeline.methods.cam import CamMethod
from pipeline.methods.gain import GainMethod
from pipeline.methods.gain_ext import GainExtMethod
from pipeline.methods.puzzle import PuzzleMethod
from pipeline.methods.ssnet import SsnetMethod

METHODS: dict[str, type[TrainingMethod]] = {
    "cam": CamMethod,
    "puzzle": PuzzleMethod,
    "gain": GainMethod,
    "gain_ext": GainExtMethod,
    "ssnet": SsnetMethod,
}

# `train_classifier.methods`: one sub-section per registered method that has parameters.
MethodsParams = dataclasses.make_dataclass("MethodsParams", [
    (name, method.Params, dataclasses.field(default_factory=method.Params))
    for name, method in METHODS.items() if method.Params is not NoParams
])


def method_spec_problem(spec: str) -> str | None:
    """What is wrong with a method spec ("cam", "puzzle+gain", ...), or None."""
    names = [name.strip() for name in spec.split("+")]
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        return f"names an unknown method {unknown[0]!r}; known: {', '.join(METHODS)} (combine with '+')"
    if "gain" in names and "gain_ext" in names:
        return "combines gain and gain_ext; use one of them"
    return None


def build_methods(spec: str, params: MethodsParams, manifest: Manifest, split: str, seed: int) -> list[TrainingMethod]:
    """The configured method objects of a valid spec (see `method_spec_problem`)."""
    names = [name.strip() for name in spec.split("+")]
    return [METHODS[name](getattr(params, name, NoParams()), manifest, split, seed) for name in names]
