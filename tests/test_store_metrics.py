"""HDF5 map store, atomic writes, palette PNGs, and the scoring arithmetic."""
import numpy as np
import pytest

from pipeline.core.errors import PipelineError
from pipeline.core.labels import labels_from_maps
from pipeline.eval.metrics import confusion_matrix, mean_average_precision, summarise
from pipeline.io.files import atomic_path
from pipeline.io.label_png import read_label_png, save_label_png
from pipeline.io.maps import MapReader, MapWriter


def test_hdf5_round_trip(tmp_path):
    maps = np.random.default_rng(0).random((2, 5, 7)).astype(np.float32)
    with MapWriter(tmp_path / "m.h5", {"method": "cam", "scales": [1.0, 0.5], "fingerprint": "abc"}) as writer:
        writer.write("img1", maps, np.array([3, 7]))
        writer.write("img2", np.zeros((0, 5, 7), np.float32), np.array([], dtype=int))
    with MapReader(tmp_path / "m.h5", fingerprint="abc") as reader:
        assert reader.attrs["scales"] == [1.0, 0.5] and reader.attrs["method"] == "cam"
        assert reader.ids() == ["img1", "img2"]
        read, classes = reader.read("img1")
        assert np.allclose(read, maps, atol=1e-3)  # float16 storage
        assert classes.tolist() == [3, 7]
        assert reader.read("img2")[0].shape == (0, 5, 7)


def test_map_file_from_another_dataset_is_refused(tmp_path):
    with MapWriter(tmp_path / "m.h5", {"fingerprint": "abc"}):
        pass
    with pytest.raises(PipelineError, match="another dataset"):
        MapReader(tmp_path / "m.h5", fingerprint="xyz")


def test_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "m.h5"
    with pytest.raises(RuntimeError):
        with MapWriter(target, {}) as writer:
            writer.write("a", np.zeros((1, 2, 2), np.float32), np.array([1]))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError
    assert target.read_text() == "old"


def test_palette_png_round_trip(tmp_path):
    labels = np.array([[0, 1, 2], [255, 5, 0]], dtype=np.uint8)
    save_label_png(tmp_path / "l.png", labels)
    assert np.array_equal(read_label_png(tmp_path / "l.png"), labels)


def test_confusion_matrix_and_scores_by_hand():
    truth = np.array([0, 0, 1, 1, 2, 255])
    prediction = np.array([0, 1, 1, 1, 0, 2])
    confusion = confusion_matrix(prediction, truth, 3)
    assert confusion.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0]]  # last column: no class
    scores = summarise(confusion, ["bg", "a", "b"])
    # IoU: bg 1/(1+1+1), a 2/(2+1), b 0/(0+0+1)
    assert scores["miou"] == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert scores["per_class"]["a"]["fp_share"] == pytest.approx(1 / 3)
    assert scores["per_class"]["b"]["fn_share"] == pytest.approx(1.0)
    assert scores["fg_recall"] == pytest.approx(2 / 3)  # 3 foreground pixels, 2 predicted foreground
    assert scores["fg_precision"] == pytest.approx(2 / 3)  # 3 predicted foreground, 2 of them right


def test_a_prediction_outside_the_classes_is_wrong_never_a_class():
    truth = np.array([1, 1, 2, 2])
    prediction = np.array([1, 255, 2, 7])  # 255 (ignore) and 7 are no class of three
    confusion = confusion_matrix(prediction, truth, 3)
    assert confusion.tolist() == [[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 1]]
    scores = summarise(confusion, ["bg", "a", "b"])
    assert scores["per_class"]["a"]["iou"] == 0.5 and scores["per_class"]["b"]["iou"] == 0.5
    assert "bg" not in scores["per_class"]  # nothing was counted as background either
    assert scores["fg_recall"] == 0.5 and scores["fg_precision"] == 1.0


def test_labels_from_maps_uses_constant_background():
    maps = np.array([[[0.1, 0.6]], [[0.2, 0.9]]], dtype=np.float32)
    assert labels_from_maps(maps, np.array([4, 9]), 0.3).tolist() == [[0, 9]]


def test_mean_average_precision():
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.1, 0.2]])
    targets = np.array([[1, 0], [0, 1], [1, 0]])
    # class 0: positives at ranks 1 and 3 -> (1 + 2/3) / 2; class 1: rank 1 -> 1
    assert mean_average_precision(scores, targets) == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)
