import importlib.util

import numpy as np

from pipeline.data.voc import DataParams, index_dataset
from pipeline.io.label_png import save_label_png
from pipeline.io.maps import MapWriter
from tests.conftest import REPO, write_voc

spec = importlib.util.spec_from_file_location("context_by_distance", REPO / "scripts/context_by_distance.py")
context_by_distance = importlib.util.module_from_spec(spec)
spec.loader.exec_module(context_by_distance)


def test_context_false_positives_are_binned_by_their_distance_to_the_object(tmp_path):
    mask = np.zeros((2, 12), np.uint8)
    mask[:, :2] = 1  # a boat in the first two columns, water in the other ten
    root = write_voc(tmp_path / "voc", {"a": mask, "v": mask}, {"a": "train", "v": "val"}, ["boat"])
    (root / "ContextMasks").mkdir()
    save_label_png(root / "ContextMasks" / "a.png", np.where(mask == 0, 1, 0).astype(np.uint8))
    manifest = index_dataset(DataParams(root=str(root)))
    boat_map = np.zeros((1, 2, 12), np.float32)
    boat_map[:, :, :5] = 1.0  # the map runs 3 px over the boat's edge ...
    boat_map[:, :, 11] = 1.0  # ... and calls the far end of the water boat
    with MapWriter(tmp_path / "cams.h5", {}) as writer:
        writer.write("a", boat_map, np.array([1]))
    bands = context_by_distance.context_by_distance(str(tmp_path / "cams.h5"), manifest, "train", 0.25,
                                                    [2, 4])["boat"]
    # Water columns 2..11 lie 1..10 px from the boat: (0, 2] holds 2 columns, (2, 4] 2, beyond 6.
    assert [(n, round(share, 3)) for _, _, n, share in bands] == [(4, 1.0), (4, 0.5), (12, round(1 / 6, 3))]
