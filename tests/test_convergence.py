"""Whether a training run was still learning when it stopped, from its history CSV."""
import pytest

from pipeline.core.errors import PipelineError
from pipeline.eval.convergence import ConvergenceParams, TrainingRun, describe_progress, training_progress
from pipeline.eval.report import render_html
from pipeline.io.files import write_csv

RULE = ConvergenceParams(val_map_rise=0.005, loss_fall=0.1)


def _run(tmp_path, name, rows):
    path = tmp_path / f"{name}_history.csv"
    write_csv(path, [{"epoch": i + 1, **row} for i, row in enumerate(rows)])
    return TrainingRun(name, path, f"{name}.optim.epochs")


def test_the_classifier_is_judged_on_val_map_and_the_others_on_the_relative_fall_of_their_loss(tmp_path):
    runs = [
        # the loss still falls by a third, but the val mAP has levelled off: the classifier is done
        _run(tmp_path, "classifier", [{"loss": 0.09, "val_map": 0.95}, {"loss": 0.06, "val_map": 0.952}]),
        _run(tmp_path, "climbing", [{"loss": 0.5, "val_map": 0.70}, {"loss": 0.49, "val_map": 0.75}]),
        _run(tmp_path, "deeplab", [{"loss": 0.40}, {"loss": 0.38}]),  # 5 % in the last epoch
        _run(tmp_path, "deeplab_full", [{"loss": 0.9}, {"loss": 0.6}, {"loss": 0.45}]),  # 25 %
    ]
    progress = training_progress(runs, RULE)
    assert progress["classifier"] == {"epochs": 2, "val_map_rise": pytest.approx(0.002), "still_learning": False}
    assert progress["climbing"]["still_learning"] and progress["climbing"]["raise"] == "climbing.optim.epochs"
    assert progress["deeplab"] == {"epochs": 2, "loss_fall": pytest.approx(0.05), "still_learning": False}
    assert progress["deeplab_full"]["loss_fall"] == pytest.approx(0.25)
    assert describe_progress("deeplab_full", progress["deeplab_full"]) == (
        "deeplab_full: loss fell 25.0% in the last of 3 epochs; still learning: raise deeplab_full.optim.epochs")
    page = render_html({}, ["a"], "grid.png", [], progress)
    assert "<td>deeplab</td><td>2</td><td>loss fell 5.0%</td><td>levelled off</td>" in page


def test_a_single_epoch_has_no_trend_and_counts_as_still_learning(tmp_path):
    progress = training_progress([_run(tmp_path, "affinity", [{"loss": 0.3}])], RULE)["affinity"]
    assert progress == {"epochs": 1, "loss_fall": None, "still_learning": True, "raise": "affinity.optim.epochs"}
    assert "one epoch, no trend" in describe_progress("affinity", progress)


@pytest.mark.parametrize("text", ["", "epoch,loss\n1,abc\n", "epoch,ce\n1,0.5\n"])
def test_a_history_that_is_not_one_is_named_with_the_fix(tmp_path, text):
    path = tmp_path / "deeplab_history.csv"
    path.write_text(text)
    with pytest.raises(PipelineError, match="deeplab_history.csv.*rerun `dvc repro`"):
        training_progress([TrainingRun("deeplab", path, "k")], RULE)
    with pytest.raises(PipelineError, match="missing_history.csv"):
        training_progress([TrainingRun("x", tmp_path / "missing_history.csv", "k")], RULE)


def test_the_report_stage_refuses_a_history_it_cannot_name_the_epochs_key_of():
    from stages.report import training_run

    assert training_run("metrics/deeplab_full_history.csv").epochs_key == "train_segmentation.optim.epochs"
    with pytest.raises(PipelineError, match="--history metrics/unet_history.csv: .* one of classifier, affinity"):
        training_run("metrics/unet_history.csv")
