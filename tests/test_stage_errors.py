"""Bad input stops a stage with one line naming the file or parameter, and writes nothing."""
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from pipeline.io.label_png import save_label_png
from pipeline.io.maps import MapWriter
from stages import eval_cams, extract_cams, prepare, train_classifier
from tests.conftest import REPO, write_voc


def run(command, args, params: dict, workdir: Path):
    defaults = yaml.safe_load((REPO / "params.yaml").read_text())
    for key, value in params.items():
        section = defaults
        *parents, last = key.split(".")
        for parent in parents:
            section = section[parent]
        section[last] = value
    (workdir / "params.yaml").write_text(yaml.safe_dump(defaults))
    result = CliRunner().invoke(command.main, args, catch_exceptions=False)
    return result


def one_line_error(result) -> str:
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _voc(workdir):
    masks = {"a": np.array([[0, 1], [1, 1]], np.uint8), "v": np.array([[2, 0], [0, 0]], np.uint8)}
    return write_voc(workdir / "voc", masks, {"a": "train", "v": "val"}, ["cat", "dog"])


def test_missing_dataset_root(workdir):
    result = run(prepare, ["--out", "manifest.json"], {"data.root": "nowhere"}, workdir)
    assert "nowhere" in one_line_error(result) and "data.root" in one_line_error(result)
    assert not (workdir / "manifest.json").exists()


def test_corrupt_image(workdir):
    root = _voc(workdir)
    (root / "JPEGImages/a.jpg").write_bytes(b"not a jpeg")
    result = run(prepare, ["--out", "manifest.json"], {"data.root": str(root)}, workdir)
    assert "JPEGImages/a.jpg" in one_line_error(result)
    assert not (workdir / "manifest.json").exists()


def test_mask_of_another_size(workdir):
    root = _voc(workdir)
    save_label_png(root / "SegmentationClass/v.png", np.zeros((3, 3), np.uint8))
    result = run(prepare, ["--out", "manifest.json"], {"data.root": str(root)}, workdir)
    error = one_line_error(result)
    assert "SegmentationClass/v.png" in error and "3x3" in error
    assert not (workdir / "manifest.json").exists()


def test_class_index_outside_the_class_list(workdir):
    root = _voc(workdir)
    save_label_png(root / "SegmentationClass/a.png", np.array([[0, 7], [1, 1]], np.uint8))
    result = run(prepare, ["--out", "manifest.json"], {"data.root": str(root)}, workdir)
    error = one_line_error(result)
    assert "SegmentationClass/a.png" in error and "class index 7" in error


@pytest.mark.parametrize("key, value, named", [
    ("train_classifier.arch", "resnet7", "train_classifier.arch"),
    ("train_classifier.method", "magic", "cam, puzzle, gain, gain_ext, ssnet"),
    ("train_classifier.optim.lr", "fast", "train_classifier.optim.lr"),
    ("train_classifier.optim.epochs", 0, "train_classifier.optim.epochs"),
])
def test_unknown_or_bad_parameter_value(workdir, tiny_builtin, key, value, named):
    run(prepare, ["--out", "manifest.json"], {"data.root": str(tiny_builtin)}, workdir)
    args = ["--manifest", "manifest.json", "--model", "c.pt", "--metrics", "m.json", "--history", "h.csv"]
    error = one_line_error(run(train_classifier, args, {"data.root": str(tiny_builtin), key: value}, workdir))
    assert named in error
    assert not any((workdir / name).exists() for name in ("c.pt", "m.json", "h.csv"))


def test_unknown_parameter_key(workdir, tiny_builtin):
    run(prepare, ["--out", "manifest.json"], {"data.root": str(tiny_builtin)}, workdir)
    result = run(extract_cams, ["--manifest", "manifest.json", "--model", "c.pt", "--out", "cams.h5"],
                 {"data.root": str(tiny_builtin), "extract_cams.scale": [1.0]}, workdir)
    assert "extract_cams.scale is not a known parameter" in one_line_error(result)


def test_missing_checkpoint(workdir, tiny_builtin):
    run(prepare, ["--out", "manifest.json"], {"data.root": str(tiny_builtin)}, workdir)
    result = run(extract_cams, ["--manifest", "manifest.json", "--model", "missing.pt", "--out", "cams.h5"],
                 {"data.root": str(tiny_builtin)}, workdir)
    assert "missing.pt: checkpoint not found" in one_line_error(result)
    assert not (workdir / "cams.h5").exists()


def test_cam_file_from_another_dataset(workdir, tiny_builtin):
    run(prepare, ["--out", "manifest.json"], {"data.root": str(tiny_builtin)}, workdir)
    with MapWriter(workdir / "cams.h5", {"fingerprint": "0123456789abcdef"}):
        pass
    result = run(eval_cams, ["--manifest", "manifest.json", "--cams", "cams.h5", "--metrics", "m.json",
                             "--sweep", "s.csv"], {"data.root": str(tiny_builtin)}, workdir)
    assert "another dataset" in one_line_error(result)
    assert not (workdir / "m.json").exists()


@pytest.mark.parametrize("key, value, message", [
    ("extract_cams.scales", [], "extract_cams.scales=[] must have at least 1 value"),
    ("extract_cams.scales", [1.0, -1.0], "extract_cams.scales[1]=-1.0 must be at least 0.1"),
    ("extract_cams.method", "scorecam", "extract_cams.method='scorecam' is not one of"),
])
def test_list_and_choice_parameters_are_checked_before_any_work(workdir, tiny_builtin, key, value, message):
    run(prepare, ["--out", "manifest.json"], {"data.root": str(tiny_builtin)}, workdir)
    result = run(extract_cams, ["--manifest", "manifest.json", "--model", "c.pt", "--out", "cams.h5"],
                 {"data.root": str(tiny_builtin), key: value}, workdir)
    assert message in one_line_error(result)
    assert not (workdir / "cams.h5").exists()


def test_a_misspelled_section_names_itself(workdir, tiny_builtin):
    result = run(prepare, ["--out", "manifest.json"], {"data.root": str(tiny_builtin), "extract_cam": {}}, workdir)
    assert "extract_cam is not a known section" in one_line_error(result)
