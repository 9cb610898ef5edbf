"""The catalogue of messy datasets (README, "What bad input gets"), through the stages' CLI.

Each case either works (where the README says it is supported) or stops with one line
naming the file or parameter, a non-zero exit, and no output left behind.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.io.label_png import save_label_png
from pipeline.io.maps import MapWriter
from stages import check_root, eval_cams, extract_cams, prepare, train_classifier
from tests.conftest import REPO, assert_children_exit_with, write_voc
from tests.test_stage_errors import one_line_error, run


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _voc(workdir, masks=None, split_of=None):
    masks = masks or {"a": np.array([[0, 1], [1, 1]], np.uint8), "b": np.array([[2, 2], [0, 0]], np.uint8),
                      "v": np.array([[2, 0], [0, 0]], np.uint8)}
    split_of = split_of or {"a": "train", "b": "train", "v": "val"}
    return write_voc(workdir / "voc", masks, split_of, ["cat", "dog"])


def _prepare(workdir, root, **params):
    return run(prepare, ["--out", "manifest.json"], {"data.root": str(root), **params}, workdir)


def _manifest(workdir) -> dict:
    return json.loads((workdir / "manifest.json").read_text())


def _prepare_error(workdir, root, **params) -> str:
    error = one_line_error(_prepare(workdir, root, **params))
    assert not (workdir / "manifest.json").exists()
    return error


# 2. 16-bit images and masks
def test_16_bit_image_is_refused_not_turned_white(workdir):
    root = _voc(workdir)
    Image.fromarray(np.full((2, 2), 4000, np.uint16)).save(root / "JPEGImages/a.jpg", format="PNG")
    error = _prepare_error(workdir, root)
    assert "JPEGImages/a.jpg" in error and "16-bit" in error


def test_16_bit_mask_value_above_255_is_refused_not_wrapped(workdir):
    root = _voc(workdir)
    Image.fromarray(np.array([[0, 258], [1, 1]], np.uint16)).save(root / "SegmentationClass/a.png")
    error = _prepare_error(workdir, root)
    assert "SegmentationClass/a.png" in error and "258" in error


def test_16_bit_mask_with_class_indices_works(workdir):
    root = _voc(workdir)
    Image.fromarray(np.array([[0, 2], [255, 2]], np.uint16)).save(root / "SegmentationClass/a.png")
    assert _prepare(workdir, root).exit_code == 0
    assert _manifest(workdir)["splits"]["train"]["a"] == [2]


# 3. background-only train images
def test_binary_0_255_masks_stop_prepare_with_the_likely_cause(workdir):
    root = _voc(workdir, {"a": np.array([[0, 255]], np.uint8), "v": np.array([[1, 0]], np.uint8)},
                {"a": "train", "v": "val"})
    error = _prepare_error(workdir, root)
    assert "ImageSets/Segmentation/train.txt" in error and "0/255" in error


def test_dropped_background_only_images_are_named(workdir, caplog):
    masks = {"a": np.array([[0, 1]], np.uint8), "empty": np.zeros((1, 2), np.uint8), "v": np.array([[1, 0]], np.uint8)}
    root = _voc(workdir, masks, {"a": "train", "empty": "train", "v": "val"})
    result = _prepare(workdir, root)
    assert result.exit_code == 0
    assert "1 of 2 images have no foreground class and are left out (empty)" in caplog.text
    assert list(_manifest(workdir)["splits"]["train"]) == ["a"]


# 4. train images labelled by data.labels_file, without masks
def test_images_without_masks_are_trained_on_and_scores_count_the_masked_ones(workdir, tiny_builtin):
    masks = {"a": np.array([[0, 1], [1, 1]], np.uint8), "v": np.array([[2, 0], [0, 0]], np.uint8)}
    root = _voc(workdir, masks, {"a": "train", "v": "val"})
    Image.new("RGB", (2, 2)).save(root / "JPEGImages/nomask.jpg")
    (root / "ImageSets/Segmentation/train.txt").write_text("a\nnomask\n")
    (workdir / "labels.txt").write_text("nomask dog\n")
    assert _prepare(workdir, root, **{"data.labels_file": "labels.txt"}).exit_code == 0
    assert _manifest(workdir)["splits"]["train"] == {"a": [1], "nomask": [2]}
    fingerprint = _fingerprint(workdir)
    with MapWriter(workdir / "cams.h5", {"fingerprint": fingerprint}) as writer:
        for image_id, cls in (("a", 1), ("nomask", 2)):
            writer.write(image_id, np.ones((1, 2, 2), np.float32), np.array([cls]))
    result = run(eval_cams, ["--manifest", "manifest.json", "--cams", "cams.h5", "--metrics", "m.json",
                             "--sweep", "s.csv"], {"data.root": str(root), "data.labels_file": "labels.txt"}, workdir)
    assert result.exit_code == 0, result.stderr
    cam = json.loads((workdir / "m.json").read_text())["cam"]
    assert cam["scored_images"] == 1 and cam["images"] == 2
    assert cam["per_class"]["cat"]["iou"] == 0.75  # image a alone: 3 cat pixels of 4 predicted cat


def _fingerprint(workdir) -> str:
    from pipeline.data.voc import Manifest
    return Manifest.load(workdir / "manifest.json").fingerprint


def test_labels_file_without_any_train_mask_is_refused(workdir):
    root = _voc(workdir)
    for image_id in ("a", "b"):
        (root / f"SegmentationClass/{image_id}.png").unlink()
    (workdir / "labels.txt").write_text("a cat\nb dog\n")
    error = _prepare_error(workdir, root, **{"data.labels_file": "labels.txt"})
    assert "train.txt" in error and "no image of this split has a mask" in error


# 5. classes.txt and split files
def test_duplicate_class_names_are_refused(workdir):
    root = _voc(workdir)
    (root / "classes.txt").write_text("cat\ndog\ncat\n")
    assert "classes.txt:3: class 'cat' is listed twice (first on line 1)" in _prepare_error(workdir, root)


@pytest.mark.parametrize("name", ["classes.txt", "ImageSets/Segmentation/train.txt"])
def test_text_files_that_are_not_utf8_are_named(workdir, name):
    root = _voc(workdir)
    (root / name).write_bytes((root / name).read_bytes() + b"caf\xe9\n")
    error = _prepare_error(workdir, root)
    assert name in error and "not UTF-8" in error


def test_windows_line_endings_and_a_byte_order_mark_work(workdir):
    root = _voc(workdir)
    (root / "ImageSets/Segmentation/train.txt").write_bytes(b"\xef\xbb\xbfa\r\nb\r\n")
    (root / "classes.txt").write_bytes(b"cat\r\ndog\r\n")
    assert _prepare(workdir, root).exit_code == 0
    assert list(_manifest(workdir)["splits"]["train"]) == ["a", "b"] and _manifest(workdir)["classes"] == ["cat", "dog"]


# 6. list parameters
@pytest.mark.parametrize("key, value, message", [
    ("train_classifier.scale_range", [1.0], "train_classifier.scale_range=[1.0] must have exactly 2 values"),
    ("eval_cams.sweep", [0.1], "eval_cams.sweep=[0.1] must have exactly 3 values"),
    ("eval_cams.sweep", [0.1, 0.5, 0.0], "eval_cams.sweep=[0.1, 0.5, 0.0] must be [start, stop, step]"),
])
def test_list_parameters_of_the_wrong_shape_are_named(workdir, tiny_builtin, key, value, message):
    _prepare(workdir, tiny_builtin)
    stage, args = {
        "train_classifier": (train_classifier, ["--model", "c.pt", "--metrics", "m.json", "--history", "h.csv"]),
        "eval_cams": (eval_cams, ["--cams", "cams.h5", "--metrics", "m.json", "--sweep", "s.csv"]),
    }[key.split(".")[0]]
    result = run(stage, ["--manifest", "manifest.json", *args], {"data.root": str(tiny_builtin), key: value}, workdir)
    assert message in one_line_error(result)
    assert not (workdir / "m.json").exists()


# 7. image ids
def test_ids_with_dots_and_spaces_are_kept_whole(workdir):
    masks = {"x.1": np.array([[1, 0]], np.uint8), "x.2": np.array([[2, 0]], np.uint8),
             "my photo": np.array([[1, 1]], np.uint8), "v": np.array([[1, 0]], np.uint8)}
    root = _voc(workdir, masks, {"x.1": "train", "x.2": "train", "my photo": "train", "v": "val"})
    assert _prepare(workdir, root).exit_code == 0
    assert _manifest(workdir)["splits"]["train"] == {"x.1": [1], "x.2": [2], "my photo": [1]}


@pytest.mark.parametrize("lines, message", [
    ("a\n../a\n", "train.txt:2: '../a' is not an image id"),
    ("a\nb\na\n", "train.txt:3: image 'a' is listed twice (first on line 1)"),
])
def test_bad_or_duplicate_ids_name_the_split_line(workdir, lines, message):
    root = _voc(workdir)
    (root / "ImageSets/Segmentation/train.txt").write_text(lines)
    assert message in _prepare_error(workdir, root)


def test_ids_listed_as_file_names_get_a_hint(workdir):
    root = _voc(workdir)
    (root / "JPEGImages/a.jpg").rename(root / "JPEGImages/a.jpg.jpg")  # so "a.jpg" names a file
    (root / "JPEGImages/a.jpg.jpg").rename(root / "JPEGImages/a.jpg")
    (root / "ImageSets/Segmentation/train.txt").write_text("a.jpg\nb\n")
    error = _prepare_error(workdir, root)
    assert "JPEGImages/a.jpg.jpg: image not found, listed in" in error and "train.txt:1" in error
    assert "list ids without .jpg" in error


# 8. a truncated manifest
def test_truncated_manifest_is_named(workdir, tiny_builtin):
    _prepare(workdir, tiny_builtin)
    text = (workdir / "manifest.json").read_text()
    (workdir / "manifest.json").write_text(text[:len(text) // 2])
    result = run(extract_cams, ["--manifest", "manifest.json", "--model", "c.pt", "--out", "cams.h5"],
                 {"data.root": str(tiny_builtin)}, workdir)
    error = one_line_error(result)
    assert "manifest.json: not complete JSON" in error and "dvc repro prepare" in error


# 9. a missing data.root (under dvc repro: tests/test_pipeline_e2e.py)
def test_check_root_names_the_parameter(workdir):
    error = one_line_error(run(check_root, ["--out", "root.json"], {"data.root": "nowhere"}, workdir))
    assert error == ("error: data.root='nowhere' does not exist; set data.root to a VOC-layout dataset root")
    assert not (workdir / "root.json").exists()


# 10. what a killed run leaves behind
def test_a_stale_temporary_is_removed_when_its_stage_starts(workdir, tiny_builtin, caplog):
    _prepare(workdir, tiny_builtin)
    (workdir / ".cams.h5.tmp").write_bytes(b"half an HDF5 file")
    result = run(extract_cams, ["--manifest", "manifest.json", "--model", "missing.pt", "--out", "cams.h5"],
                 {"data.root": str(tiny_builtin)}, workdir)
    assert "checkpoint not found" in one_line_error(result)  # the stage failed, but cleared the temporary first
    assert "removed .cams.h5.tmp" in caplog.text
    assert not (workdir / ".cams.h5.tmp").exists()


POOL_SCRIPT = """
import os, sys, time
from pipeline.refine.pool import parallel_map

def slow(item):
    time.sleep(0.2)
    return os.getpid()

if __name__ == "__main__":
    for pid in parallel_map(slow, range(10_000), 2, 10_000, "test"):
        print(pid, flush=True)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_pool_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "pool_script.py"
    script.write_text(POOL_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env=env, text=True)
    workers = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline:
        workers.add(int(process.stdout.readline()))
    assert len(workers) == 2, "the pool never started two workers"
    assert_children_exit_with(process, workers, 5)


# 11. scoring: tests/test_store_metrics.py (a prediction outside the classes counts as wrong)

# Beyond the list: what VOC, COCO-converted and hand-labelled datasets bring
def test_palette_masks_with_a_255_border_work(workdir):
    mask = np.full((4, 4), 255, np.uint8)
    mask[1:3, 1:3] = 1
    root = _voc(workdir, {"a": mask, "v": mask}, {"a": "train", "v": "val"})
    assert _prepare(workdir, root).exit_code == 0
    assert _manifest(workdir)["splits"]["train"] == {"a": [1]}


def test_masks_saved_as_jpeg_are_refused_with_the_reason(workdir):
    root = _voc(workdir)
    (root / "SegmentationClass/a.png").unlink()
    Image.new("L", (2, 2)).save(root / "SegmentationClass/a.jpg")
    error = _prepare_error(workdir, root)
    assert "SegmentationClass/a.jpg: masks must be PNG" in error


def test_colour_masks_are_refused(workdir):
    root = _voc(workdir)
    Image.new("RGB", (2, 2), (128, 0, 0)).save(root / "SegmentationClass/a.png")
    assert "SegmentationClass/a.png: label image has mode RGB" in _prepare_error(workdir, root)


def _exif_rotated_jpeg(path: Path, width: int, height: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated by 90 degrees (portrait)
    Image.new("RGB", (width, height), (200, 30, 30)).save(path, exif=exif)


def test_exif_rotated_photos_are_read_upright(workdir):
    from pipeline.data.voc import read_image

    root = _voc(workdir)
    _exif_rotated_jpeg(root / "JPEGImages/a.jpg", 4, 2)
    save_label_png(root / "SegmentationClass/a.png", np.ones((4, 2), np.uint8))  # drawn on the upright photo
    assert _prepare(workdir, root).exit_code == 0
    assert read_image(root / "JPEGImages/a.jpg").shape == (4, 2, 3)


def test_a_mask_drawn_on_the_stored_pixels_of_a_rotated_photo_is_named(workdir):
    root = _voc(workdir)
    _exif_rotated_jpeg(root / "JPEGImages/a.jpg", 4, 2)
    save_label_png(root / "SegmentationClass/a.png", np.ones((2, 4), np.uint8))
    error = _prepare_error(workdir, root)
    assert "SegmentationClass/a.png: mask is 4x2 but its image is 2x4 (as EXIF orientation shows it)" in error


def test_one_pixel_images_work(workdir):
    one = np.array([[1]], np.uint8)
    root = _voc(workdir, {"a": one, "v": one}, {"a": "train", "v": "val"})
    assert _prepare(workdir, root).exit_code == 0


def test_huge_images_are_refused_before_decoding(workdir):
    root = _voc(workdir)
    Image.new("L", (20_000, 3_000)).save(root / "JPEGImages/a.jpg")
    error = _prepare_error(workdir, root)
    assert "JPEGImages/a.jpg: image is 20000x3000 (60,000,000 pixels), more than data.max_image_pixels" in error


def test_a_read_only_dataset_works(workdir):
    root = _voc(workdir)
    modes = {path: path.stat().st_mode for path in [root, *root.rglob("*")]}
    for path in modes:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        assert _prepare(workdir, root).exit_code == 0
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


FULL_DISK_SCRIPT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
from stages import extract_cams
sys.argv = ["extract_cams", "--manifest", "manifest.json", "--model", "c.pt", "--out", "cams.h5"]
extract_cams.main()
"""


def test_a_full_disk_while_writing_the_hdf5_leaves_nothing(workdir, tiny_builtin):
    _prepare(workdir, tiny_builtin)
    args = ["--manifest", "manifest.json", "--model", "c.pt", "--metrics", "m.json", "--history", "h.csv"]
    params = {"data.root": str(tiny_builtin), "train_classifier.optim.epochs": 1, "convergence.doublings": 0,
              "train_classifier.crop_size": 32}
    assert run(train_classifier, args, params, workdir).exit_code == 0
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", FULL_DISK_SCRIPT], cwd=workdir, env=env, capture_output=True,
                            text=True, timeout=300)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr[-2000:]
    assert errors[0] == "error: cams.h5: writing the maps failed (File too large); free disk space or fix permissions, then rerun"
    assert not (workdir / "cams.h5").exists() and not (workdir / ".cams.h5.tmp").exists()
