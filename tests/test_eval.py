"""Scoring: the CAM oracle sweep on hand-made maps, DeepLab prediction with scales and flip."""
import numpy as np
import pytest
import torch

from pipeline.core.runtime import RuntimeParams
from pipeline.eval.cam_scores import EvalCamsParams, score_cams, sweep_thresholds
from pipeline.eval.context import context_counts, summarise_context
from pipeline.eval.segmentation import EvaluateParams, predict
from pipeline.io.label_png import save_label_png
from pipeline.io.maps import MapReader, MapWriter
from tests.conftest import write_voc

CPU = torch.device("cpu")


def test_sweep_thresholds_include_both_ends():
    assert sweep_thresholds([0.1, 0.5, 0.1]) == [0.1, 0.2, 0.3, 0.4, 0.5]


def test_cam_oracle_picks_the_best_threshold_but_the_score_uses_the_fixed_one(tmp_path):
    from pipeline.data.voc import DataParams, index_dataset

    # One image, class 1 on the left half. Its CAM is 0.9 on the object and 0.35 next to it:
    # a threshold of 0.4 or more gives perfect labels, 0.3 or less calls the middle object.
    mask = np.zeros((4, 8), np.uint8)
    mask[:, :4] = 1
    root = write_voc(tmp_path / "voc", {"a": mask, "v": mask}, {"a": "train", "v": "val"}, ["thing"])
    manifest = index_dataset(DataParams(root=str(root)))
    cam = np.zeros((1, 4, 8), np.float32)
    cam[0, :, :4], cam[0, :, 4:6] = 0.9, 0.35
    with MapWriter(tmp_path / "cams.h5", {"fingerprint": manifest.fingerprint}) as writer:
        writer.write("a", cam, np.array([1]))
    with MapReader(tmp_path / "cams.h5", manifest.fingerprint) as reader:
        summary, curve = score_cams(reader, manifest, "train", EvalCamsParams(bg_threshold=0.3, sweep=[0.1, 0.5, 0.1]))
    # At 0.3, 8 background pixels are called object: object IoU 16/24, background IoU 8/16.
    assert summary["miou"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert summary["oracle_threshold"] == 0.4 and summary["oracle_miou"] == 1.0
    assert [row["miou"] for row in curve] == pytest.approx([7 / 12, 7 / 12, 7 / 12, 1.0, 1.0])


def test_context_fp_is_the_share_of_a_class_context_labelled_as_it():
    truth = np.array([[0, 0, 0, 2], [0, 0, 2, 2], [255, 1, 0, 0]], np.uint8)
    context = np.array([[2, 2, 2, 2], [2, 2, 0, 0], [2, 2, 0, 0]], np.uint8)  # class 2's context
    prediction = np.array([[2, 2, 0, 2], [0, 1, 2, 2], [2, 2, 0, 0]], np.uint8)
    counts = context_counts(prediction, truth, context, 3)
    # Scored: context pixels truly not class 2 and not ignored: 6 of them; 3 called class 2.
    assert counts.tolist() == [[0, 0], [0, 0], [6, 3]]
    assert summarise_context(counts, ["background", "a", "b"]) == {"context_fp": {"b": 0.5}}
    assert summarise_context(context_counts(prediction, truth, None, 3), ["background", "a", "b"]) == {}


def test_label_scores_carry_the_context_fp_of_an_annotated_dataset(tmp_path):
    from pipeline.data.voc import DataParams, index_dataset
    from pipeline.eval.label_scores import score_label_dir

    mask = np.zeros((4, 8), np.uint8)
    mask[:2, :4] = 1
    root = write_voc(tmp_path / "voc", {"a": mask, "v": mask}, {"a": "train", "v": "val"}, ["boat"])
    context = np.zeros_like(mask)
    context[2:] = 1  # water under the boat
    (root / "ContextMasks").mkdir()
    save_label_png(root / "ContextMasks" / "a.png", context)
    manifest = index_dataset(DataParams(root=str(root)))
    prediction = mask.copy()
    prediction[2:, :2] = 1  # a quarter of the water called boat
    (tmp_path / "labels").mkdir()
    save_label_png(tmp_path / "labels" / "a.png", prediction)
    assert score_label_dir(tmp_path / "labels", manifest, "train")["context_fp"] == {"boat": 0.25}


class SignNet(torch.nn.Module):
    """A stand-in DeepLab: class 1 where the first channel is positive, else class 0, per pixel."""

    def forward(self, images):
        return {"out": torch.cat([-images[:, :1], images[:, :1]], dim=1) * 10}


@pytest.mark.parametrize("scales, flip", [([1.0], False), ([1.0], True), ([1.0, 2.0], True)])
def test_predict_averages_scales_and_flips_of_a_per_pixel_model(scales, flip):
    image = torch.zeros(3, 8, 8)
    image[0, :, :3] = 1.0  # class 1 on the left three columns
    image[0, :, 3:] = -1.0
    labels = predict(SignNet(), image, EvaluateParams(scales=scales, flip=flip), CPU, RuntimeParams())
    assert labels.dtype == np.uint8 and labels.shape == (8, 8)
    expected = np.zeros((8, 8), np.uint8)
    expected[:, :3] = 1
    assert np.array_equal(labels, expected)


def test_predict_with_crf_returns_labels_of_the_image_size():
    from pipeline.refine.crf import DenseCrfParams

    image = torch.zeros(3, 8, 8)
    image[0, :, :4] = 1.0
    image[0, :, 4:] = -1.0
    labels = predict(SignNet(), image, EvaluateParams(crf=DenseCrfParams(iterations=2)), CPU, RuntimeParams())
    assert labels.shape == (8, 8) and (labels[:, :2] == 1).all() and (labels[:, 6:] == 0).all()


def test_label_png_round_trip_keeps_ignore(tmp_path):
    from pipeline.io.label_png import read_label_png

    label = np.array([[0, 1], [255, 20]], np.uint8)
    save_label_png(tmp_path / "l.png", label)
    assert np.array_equal(read_label_png(tmp_path / "l.png"), label)
