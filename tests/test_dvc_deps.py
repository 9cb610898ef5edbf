"""Every DVC stage declares exactly the code it runs: no file missing, none extra.

DVC only knows the dependencies dvc.yaml lists: a stage that imports an undeclared module
keeps its cached outputs (and metrics) after that module changes, and a stage that lists
code it no longer imports reruns for nothing. scripts/dvc_deps.py follows each stage's
imports through `pipeline/` and `stages/`; `python scripts/dvc_deps.py --write` fixes
dvc.yaml when this test fails.
"""
import importlib.util

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("dvc_deps", REPO / "scripts/dvc_deps.py")
dvc_deps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dvc_deps)


def test_every_stage_declares_exactly_the_code_it_imports():
    wrong = dvc_deps.differences()
    assert not wrong, f"dvc.yaml: code deps differ from the imports (python scripts/dvc_deps.py --write): {wrong}"


def test_the_import_walk_reaches_the_method_registry():
    files = dvc_deps.imported_files("stages.train_classifier")
    assert REPO / "pipeline/methods/__init__.py" in files
    assert REPO / "pipeline/methods/gain_ext.py" in files
    assert REPO / "pipeline/__init__.py" not in files  # docstring only


def test_the_pseudo_label_deeplab_waits_for_the_reference_length():
    stages = dvc_deps.stages()
    assert "data/labels/crf" in stages["train_segmentation"]["deps"]
    assert "metrics/deeplab_full_history.csv" in stages["train_segmentation"]["deps"]
    assert "--epochs-of metrics/deeplab_full_history.csv" in stages["train_segmentation"]["cmd"]
    assert "--labels gt" in stages["train_reference"]["cmd"]


def test_the_crf_stage_runs_no_network_code():
    files = {str(p.relative_to(REPO)) for p in dvc_deps.imported_files("stages.crf")}
    assert not any(f.startswith(("pipeline/models", "pipeline/training")) for f in files), files


def test_folder_dependencies_ignore_python_byte_code():
    # pipeline/core and other folders are deps: without this, dvc.lock would hash .pyc
    # files, which differ by interpreter and appear once code has run.
    patterns = (REPO / ".dvcignore").read_text().split()
    assert "__pycache__/" in patterns and "*.pyc" in patterns
