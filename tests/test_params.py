"""params.yaml and the library's defaults are one source: they cannot drift apart.

Every section of params.yaml parses to exactly its dataclass's default, and lists every
field, so deleting a key from params.yaml runs the shipped value and reading params.yaml
shows every knob. Bad values stop with one error naming the parameter.
"""
import dataclasses

import pytest
import yaml

from pipeline.cams.extract import ExtractCamsParams
from pipeline.core.config import SECTIONS, load_params, parse_section, section
from pipeline.core.errors import PipelineError
from pipeline.core.runtime import RuntimeParams
from pipeline.data.synthetic import BuiltinParams
from pipeline.data.voc import DataParams
from pipeline.eval.cam_scores import EvalCamsParams
from pipeline.eval.convergence import ConvergenceParams
from pipeline.eval.report import ReportParams
from pipeline.eval.segmentation import EvaluateParams
from pipeline.refine.affinity_labels import AffinityLabelsParams
from pipeline.refine.crf_labels import CrfParams
from pipeline.refine.random_walk import RandomWalkParams
from pipeline.training.affinity import TrainAffinityParams
from pipeline.training.classifier import TrainClassifierParams
from pipeline.training.deeplab import TrainSegmentationParams
from tests.conftest import REPO

SECTION_CLASSES = {
    "runtime": RuntimeParams, "convergence": ConvergenceParams, "builtin": BuiltinParams, "data": DataParams,
    "train_classifier": TrainClassifierParams,
    "extract_cams": ExtractCamsParams, "eval_cams": EvalCamsParams, "affinity_labels": AffinityLabelsParams,
    "train_affinity": TrainAffinityParams, "random_walk": RandomWalkParams, "crf": CrfParams,
    "train_segmentation": TrainSegmentationParams, "evaluate": EvaluateParams, "report": ReportParams,
}
SHIPPED = yaml.safe_load((REPO / "params.yaml").read_text())


def _missing_keys(cls, raw: dict, name: str) -> list[str]:
    """Fields of `cls` (recursively) that `raw` leaves out."""
    missing = []
    for field in dataclasses.fields(cls):
        if field.name not in raw:
            missing.append(f"{name}.{field.name}")
            continue
        value = getattr(cls(), field.name)
        if dataclasses.is_dataclass(value) and isinstance(raw[field.name], dict):
            missing += _missing_keys(type(value), raw[field.name], f"{name}.{field.name}")
    return missing


def test_params_yaml_has_exactly_the_known_sections():
    assert set(SHIPPED) == set(SECTIONS) == set(SECTION_CLASSES) | {"seed"}


@pytest.mark.parametrize("name", sorted(SECTION_CLASSES))
def test_params_yaml_equals_the_dataclass_defaults(name):
    cls = SECTION_CLASSES[name]
    assert section(SHIPPED, cls, name) == cls()
    assert _missing_keys(cls, SHIPPED[name], name) == []


def test_a_deleted_optim_key_runs_the_shipped_default():
    raw = yaml.safe_load(yaml.safe_dump(SHIPPED["train_affinity"]))
    del raw["optim"]["lr"], raw["optim"]["optimizer"]
    assert parse_section(TrainAffinityParams, raw, "train_affinity") == TrainAffinityParams()


def test_a_misspelled_section_is_an_error(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**SHIPPED, "extract_cam": {"scales": [1.0]}}))
    with pytest.raises(PipelineError, match="extract_cam is not a known section"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("cls, name, raw, message", [
    (TrainAffinityParams, "train_affinity", {"channels": [32, 64, 128]},
     r"train_affinity.channels=\[32, 64, 128\] must have exactly 4 values"),
    (EvalCamsParams, "eval_cams", {"sweep": [0.1]}, r"eval_cams.sweep=\[0.1\] must have exactly 3 values"),
    (EvalCamsParams, "eval_cams", {"sweep": [0.1, 0.5, 0.0]}, "step > 0"),
    (EvalCamsParams, "eval_cams", {"sweep": [0.5, 0.1, 0.05]}, "start <= stop"),
    (TrainClassifierParams, "train_classifier", {"scale_range": [1.0]}, "must have exactly 2 values"),
    (TrainClassifierParams, "train_classifier", {"scale_range": [1.0, 0.5]}, "low <= high"),
    (TrainClassifierParams, "train_classifier", {"output_stride": 12}, "output_stride=12 is not one of: 8, 16, 32"),
    (TrainClassifierParams, "train_classifier", {"methods": {"puzzle": {"alpha": 1.0}}},
     "train_classifier.methods.puzzle.alpha is not a known parameter"),
    (ExtractCamsParams, "extract_cams", {"scales": []}, "must have at least 1 value"),
    (ExtractCamsParams, "extract_cams", {"scales": [1.0, 0.0]}, r"extract_cams.scales\[1\]=0.0 must be at least 0.1"),
    (EvaluateParams, "evaluate", {"crf": {"iterations": 0}}, "evaluate.crf.iterations=0 must be at least 1"),
    (BuiltinParams, "builtin", {"cooccurrence_class": "car"}, "builtin.cooccurrence_class='car' is not one of"),
])
def test_bad_values_name_the_parameter(cls, name, raw, message):
    with pytest.raises(PipelineError, match=message):
        parse_section(cls, raw, name)


def test_evaluate_crf_is_off_by_null_and_on_by_its_settings():
    assert parse_section(EvaluateParams, {"crf": None}, "evaluate").crf is None
    assert parse_section(EvaluateParams, {"crf": {}}, "evaluate").crf.iterations == 10
