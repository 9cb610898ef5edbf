"""The whole DVC pipeline on a tiny configuration, in a scratch copy of the repository."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import REPO

TINY = {
    "runtime": {"threads": 1},  # so that one process and each of two compute with the same thread count
    "convergence": {"doublings": 0},  # one epoch has no trend and would count as still learning
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


def _metrics(project, name):
    return json.loads((project / "metrics" / f"{name}.json").read_text())[name]


def test_repro_writes_every_stage_metric(project):
    for stage in ("cam", "rw", "crf", "seg"):
        metrics = _metrics(project, stage)
        assert 0.0 <= metrics["miou"] <= 1.0
        assert {"precision", "recall", "fp_share", "fn_share", "per_class"} <= set(metrics)
        # mIoU is the mean over the classes that occur of the per-class IoU it reports.
        per_class = [entry["iou"] for entry in metrics["per_class"].values()]
        assert metrics["miou"] == pytest.approx(sum(per_class) / len(per_class))
    assert len(list((project / "data/labels/crf").glob("*.png"))) == 16


def test_seg_ratio_is_weak_over_full(project):
    seg = _metrics(project, "seg")
    assert seg["ratio"] == pytest.approx(seg["miou"] / seg["full_miou"])


def test_cam_score_lies_on_its_own_sweep_and_the_oracle_is_the_best_of_it(project):
    cam = _metrics(project, "cam")
    rows = [line.split(",") for line in (project / "metrics/cam_sweep.csv").read_text().splitlines()]
    curve = {float(row[0]): float(row[1]) for row in rows[1:]}
    assert curve[cam["bg_threshold"]] == pytest.approx(cam["miou"], abs=1e-5)  # 0.25 is on the 0.05 grid
    assert cam["oracle_miou"] == pytest.approx(max(curve.values()), abs=1e-5)
    assert curve[cam["oracle_threshold"]] == pytest.approx(cam["oracle_miou"], abs=1e-5)


def test_labels_are_palette_pngs_and_affinity_labels_hold_all_three_kinds(project):
    from PIL import Image

    from pipeline.io.label_png import read_label_png

    with Image.open(next((project / "data/labels/crf").glob("*.png"))) as image:
        assert image.mode == "P"
    values = set()
    for path in (project / "data/labels/affinity").glob("*.png"):
        values |= set(read_label_png(path).ravel().tolist())
    assert 0 in values and 255 in values and values - {0, 255}  # background, ignore, some class


def test_report_shows_every_stage_as_scored(project):
    page = (project / "report/index.html").read_text()
    for stage in ("cam", "rw", "crf", "seg"):
        assert f"<td>{_metrics(project, stage)['miou']:.3f}</td>" in page
    assert (project / "report/samples.png").stat().st_size > 0


def test_report_flags_the_training_runs_still_learning(project):
    training = _metrics(project, "training")
    assert set(training) == {"classifier", "affinity", "deeplab", "deeplab_full"}
    assert all(run["epochs"] == 1 and run["still_learning"] for run in training.values())  # one epoch: no trend
    assert "still learning: raise train_segmentation.optim.epochs" in (project / "report/index.html").read_text()


def test_the_pseudo_label_deeplab_trains_the_epochs_its_reference_took(project, tmp_path):
    reference = tmp_path / "reference_history.csv"
    reference.write_text("epoch,ce,loss\n1,1.0,1.0\n2,0.5,0.5\n")  # the rule would train again: 50 % fall
    args = ["--manifest", "data/manifest.json", "--labels", "data/labels/crf", "--classifier", "data/models/classifier.pt",
            "--model", str(tmp_path / "deeplab.pt"), "--history", str(tmp_path / "history.csv")]
    result = _stage(project, "train_segmentation", *args, "--epochs-of", str(reference))
    assert result.returncode == 0, result.stderr[-3000:]
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 1 + 2  # TINY's 1 epoch gave way to 2
    assert f"training 2 epochs, as the run of {reference} did" in result.stderr
    assert "training again" not in result.stderr
    missing = _stage(project, "train_segmentation", *args, "--epochs-of", str(tmp_path / "none.csv"))
    assert missing.returncode != 0 and f"{tmp_path / 'none.csv'}: not a training history" in missing.stderr


def test_second_repro_is_a_no_op(project):
    result = dvc("repro", cwd=project)
    assert result.returncode == 0
    assert "Running stage" not in result.stdout
    assert "up to date" in result.stdout


def test_metrics_show_lists_every_stage(project):
    result = dvc("metrics", "show", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for key in ('"cam"', '"rw"', '"crf"', '"seg"', '"oracle_miou"', '"ratio"', '"still_learning"'):
        assert key in text


def test_plots_show_renders_the_threshold_curve(project):
    result = dvc("plots", "show", "-o", "plots_out", cwd=project)
    assert result.returncode == 0, result.stderr
    page = (project / "plots_out/index.html").read_text()
    assert "cam_sweep" in page or "cam_threshold_sweep" in page


def _changed_after(project, edit) -> set[str]:
    """The stages `dvc status` reports after `edit(params)` changes params.yaml (then restored)."""
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    edit(params)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        result = dvc("status", "--json", cwd=project)
    finally:
        (project / "params.yaml").write_text(original)
    return set(json.loads(result.stdout))


def test_swapping_the_cam_method_invalidates_only_what_depends_on_it(project):
    changed = _changed_after(project, lambda params: params["extract_cams"].update(method="gradcam"))
    assert "extract_cams" in changed
    assert not changed & {"make_builtin", "prepare", "train_classifier"}


def test_affinity_training_settings_do_not_relabel_the_train_split(project):
    changed = _changed_after(project, lambda params: params["train_affinity"]["optim"].update(lr=0.5))
    assert "train_affinity" in changed and "affinity_labels" not in changed


def test_evaluation_settings_rerun_evaluate_and_the_report_only(project):
    assert _changed_after(project, lambda params: params["evaluate"].update(flip=True)) == {"evaluate", "report"}


def _stage(project, module, *args):
    env = dict(os.environ, PYTHONPATH=str(project))
    return subprocess.run([sys.executable, "-m", f"stages.{module}", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def two_processes(project):
    """params.yaml with runtime.nproc: 2 for the duration of a test."""
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["runtime"]["nproc"] = 2
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    yield project
    (project / "params.yaml").write_text(original)


def test_inference_stages_on_two_processes_write_the_single_process_outputs(two_processes):
    import h5py

    project = two_processes
    out = project / "two"
    runs = [
        ("extract_cams", "--model", "data/models/classifier.pt", "--out", f"{out}/cams.h5"),
        ("affinity_labels", "--cams", "data/cams.h5", "--labels", f"{out}/affinity"),
        ("random_walk", "--cams", "data/cams.h5", "--classifier", "data/models/classifier.pt", "--affinity",
         "data/models/affinity.pt", "--out", f"{out}/rw.h5", "--labels", f"{out}/rw", "--metrics", f"{out}/rw.json"),
        ("crf", "--maps", "data/rw.h5", "--labels", f"{out}/crf", "--metrics", f"{out}/crf.json"),
        ("evaluate", "--model", "data/models/deeplab.pt", "--reference", "data/models/deeplab_full.pt",
         "--metrics", f"{out}/seg.json"),
    ]
    for stage, *args in runs:
        result = _stage(project, stage, "--manifest", "data/manifest.json", *args)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"running stages.{stage} as 2 processes under torchrun" in result.stderr
    for name in ("cams.h5", "rw.h5"):
        with h5py.File(project / "data" / name) as one, h5py.File(out / name) as two:
            assert list(one) == list(two)
            for image_id in one:
                for key in ("maps", "classes"):
                    assert np.array_equal(one[image_id][key][()], two[image_id][key][()])
    for folder, single in (("affinity", "labels/affinity"), ("rw", "labels/rw"), ("crf", "labels/crf")):
        files = sorted(p.name for p in (project / "data" / single).iterdir())
        assert files == sorted(p.name for p in (out / folder).iterdir())
        assert all((project / "data" / single / f).read_bytes() == (out / folder / f).read_bytes() for f in files)
    for name in ("rw", "crf", "seg"):
        assert json.loads((out / f"{name}.json").read_text()) == json.loads((project / "metrics" / f"{name}.json").read_text())
    assert not [p for p in out.rglob(".*")], "parts or temporaries left behind"


@pytest.mark.parametrize("method", ["cam", "gain", "puzzle"])
def test_a_training_stage_on_two_processes_writes_its_outputs_once(two_processes, method):
    """Also with GAIN's double backward and Puzzle's tile forward through BatchNorm over the global batch,
    and a run trained again at twice its length on both processes."""
    params = yaml.safe_load((two_processes / "params.yaml").read_text())
    params["train_classifier"]["method"] = method
    params["convergence"]["doublings"] = 1  # one epoch has no trend: both processes must agree to train again
    (two_processes / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = two_processes / f"two_train_{method}"
    result = _stage(two_processes, "train_classifier", "--manifest", "data/manifest.json", "--model",
                    f"{out}/classifier.pt", "--metrics", f"{out}/classifier.json", "--history", f"{out}/history.csv")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("wrote ") == 3  # rank 0 alone writes (and logs) the checkpoint, history and metrics
    classifier = json.loads((out / "classifier.json").read_text())["classifier"]
    assert 0.0 <= classifier["val_map"] <= 1.0 and classifier["epochs"] == 2
    assert result.stderr.count("training again from the start for 2 epochs") == 1


def test_a_missing_data_root_is_named_before_dvc_hashes_it(project):
    # Last in this file: DVC removes check_root's output before running it.
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["data"]["root"] = "nowhere"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        result = dvc("repro", cwd=project)
    finally:
        (project / "params.yaml").write_text(original)
    assert result.returncode != 0
    assert "error: data.root='nowhere' does not exist" in result.stderr
    assert "Errno 2" not in result.stdout + result.stderr
