import importlib.util

import numpy as np

from pipeline.data.synthetic import MARK_COLOURS
from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("tile_evidence", REPO / "scripts/tile_evidence.py")
tile_evidence = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tile_evidence)


def test_object_pixels_are_split_by_whether_their_tile_holds_the_mark():
    truth = np.zeros((8, 8), np.uint8)
    truth[:, :4] = 1  # one object of the first class down the left half: tiles 0 (top) and 2 (bottom)
    image = np.full((8, 8, 3), 128, np.uint8)
    image[1, 1] = MARK_COLOURS[0]  # its mark, in the top-left tile
    full = np.where(truth == 1, 2.0, -1.0)[None].astype(np.float32)  # the whole image finds the whole body
    tiled = full.copy()
    tiled[0, 4:] = -1.0  # the tiles find the top tile's half only
    counts = np.zeros((1, 2, 3), np.int64)
    tile_evidence.count_found(counts, image, truth, full, tiled, tiles=2, threshold=0.25)
    assert counts[0].tolist() == [[16, 16, 16], [16, 16, 0]]
