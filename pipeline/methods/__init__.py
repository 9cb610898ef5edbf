"""The registry of classifier-training methods.

A method is one module with a `TrainingMethod` subclass; registering it is one line in
`METHODS`. `train_classifier.method` names one method or several joined by '+'
(e.g. "puzzle+gain"): their extra loss terms are added up.
"""
from __future__ import annotations

from pipeline.config import parse_section
from pipeline.data.voc import Manifest
from pipeline.errors import PipelineError
from pipeline.methods.base import TrainingMethod
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


def build_methods(spec: str, method_params: dict, manifest: Manifest, split: str, seed: int) -> list[TrainingMethod]:
    """Parse a method spec ("cam", "puzzle+gain", ...) into configured method objects."""
    names = [name.strip() for name in spec.split("+")]
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise PipelineError(
            f"params.yaml: train_classifier.method: unknown method {unknown[0]!r}; "
            f"known: {', '.join(METHODS)} (combine with '+')"
        )
    if "gain" in names and "gain_ext" in names:
        raise PipelineError("params.yaml: train_classifier.method: use gain or gain_ext, not both")
    extra = sorted(set(method_params) - set(METHODS))
    if extra:
        raise PipelineError(
            f"params.yaml: train_classifier.methods.{extra[0]} is not a known method; known: {', '.join(METHODS)}"
        )
    return [
        METHODS[name](parse_section(METHODS[name].Params, method_params.get(name), f"train_classifier.methods.{name}"),
                      manifest, split, seed)
        for name in names
    ]
