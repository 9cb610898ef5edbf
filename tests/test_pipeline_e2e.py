"""The whole DVC pipeline on a tiny configuration, in a scratch copy of the repository."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

TINY = {
    "builtin": {"num_train": 16, "num_val": 8, "image_size": 64},
    "train_classifier": {"crop_size": 64, "optim": {"epochs": 1, "batch_size": 8}},
    "extract_cams": {"scales": [1.0, 0.5], "batch_size": 8},
    "train_affinity": {"crop_size": 64, "optim": {"epochs": 1, "batch_size": 8}},
    "random_walk": {"exp_times": 3},
    "crf": {"crf": {"iterations": 2}, "workers": 2},
    "train_segmentation": {"crop_size": 64, "optim": {"epochs": 1, "batch_size": 8}},
}


def merge(base: dict, override: dict) -> dict:
    for key, value in override.items():
        base[key] = merge(base[key], value) if isinstance(value, dict) else value
    return base


def dvc(*args, cwd):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(cwd))
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    for name in ("pipeline", "stages", ".dvc"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "tmp", "cache"))
    shutil.copy(REPO / "dvc.yaml", root)
    params = merge(yaml.safe_load((REPO / "params.yaml").read_text()), TINY)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    result = dvc("repro", cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root


def test_repro_writes_every_stage_metric(project):
    for stage in ("cam", "rw", "crf", "seg"):
        metrics = json.loads((project / "metrics" / f"{stage}.json").read_text())[stage]
        assert 0.0 <= metrics["miou"] <= 1.0
        assert {"precision", "recall", "fp_share", "fn_share", "per_class"} <= set(metrics)
    seg = json.loads((project / "metrics/seg.json").read_text())["seg"]
    assert {"full_miou", "ratio"} <= set(seg)
    cam = json.loads((project / "metrics/cam.json").read_text())["cam"]
    assert cam["oracle_miou"] >= cam["miou"] - 1e-9
    assert (project / "report/index.html").read_text().count("<tr>") > 4
    assert (project / "report/samples.png").stat().st_size > 0
    assert len(list((project / "data/labels/crf").glob("*.png"))) == 16


def test_second_repro_is_a_no_op(project):
    result = dvc("repro", cwd=project)
    assert result.returncode == 0
    assert "Running stage" not in result.stdout
    assert "up to date" in result.stdout


def test_metrics_show_lists_every_stage(project):
    result = dvc("metrics", "show", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for key in ('"cam"', '"rw"', '"crf"', '"seg"', '"oracle_miou"', '"ratio"'):
        assert key in text


def test_plots_show_renders_the_threshold_curve(project):
    result = dvc("plots", "show", "-o", "plots_out", cwd=project)
    assert result.returncode == 0, result.stderr
    page = (project / "plots_out/index.html").read_text()
    assert "cam_sweep" in page or "cam_threshold_sweep" in page


def test_swapping_the_cam_method_invalidates_only_what_depends_on_it(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    original = (project / "params.yaml").read_text()
    params["extract_cams"]["method"] = "gradcam"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        result = dvc("status", "--json", cwd=project)
    finally:
        (project / "params.yaml").write_text(original)
    changed = set(json.loads(result.stdout))
    assert "extract_cams" in changed
    assert not changed & {"make_builtin", "prepare", "train_classifier"}
