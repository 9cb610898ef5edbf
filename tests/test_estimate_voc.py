"""The VOC estimate's table text comes from scripts/estimate_voc.py, never by hand."""
import importlib.util

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("estimate_voc", REPO / "scripts/estimate_voc.py")
estimate_voc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(estimate_voc)


def test_the_measured_text_states_how_far_the_gpu_stages_fall_behind_their_flops_estimate():
    rows = [{"stage": "train", "pflop": 1.0, "one_s": 60.0, "eight_s": 8.0, "measured_one_s": 150.0,
             "measured_eight_s": 20.0},
            {"stage": "crf", "pflop": None, "one_s": 600.0, "eight_s": 75.0, "measured_one_s": 600.0,
             "measured_eight_s": 75.0}]
    measured = {"device": "GPU", "torch": "2", "batch": 16, "crop": 512, "seconds_per_image": {"train": 0.01}}
    text = estimate_voc.render({"rows": rows, "crf_s": 0.5, "measured": measured})
    assert "The GPU stages measured take 2.5x their FLOPs estimate." in text  # the CPU stage left out
    assert "| **total** | | **11 min** | **83 s** | **12 min** | **2 min** |" in text
