"""How far from the object a CAM's context false positives lie.

    python scripts/context_by_distance.py cam=cam.h5 gain_ext=gain_ext.h5 [--bands 2 4 8 16]

For each class with annotated context (the water under boats), the context pixels that
are not that class are binned by their distance to the nearest pixel of the class, and
each bin's share labelled as the class is printed (labels as `eval_cams` makes them, at
`eval_cams.bg_threshold`). A share that falls to zero a few pixels from the object is a
map that bleeds over the object's edge; one that stays up far from it is co-occurrence
bias: the class read from its context. Prints a markdown table, one column per maps file
(extract_cams outputs of the dataset `--manifest` describes).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml
from scipy.ndimage import distance_transform_edt

from pipeline.core.labels import IGNORE_INDEX, labels_from_maps
from pipeline.data.voc import Manifest
from pipeline.eval.context import read_context
from pipeline.eval.label_scores import read_truth
from pipeline.io.maps import MapReader


def context_by_distance(maps_path: str, manifest: Manifest, split: str, threshold: float,
                        bands: list[float]) -> dict:
    """{class: [(band start, band end, context pixels, share labelled as the class)]} over `split`."""
    edges = [0.0, *bands, np.inf]
    counts: dict[int, np.ndarray] = {}
    with MapReader(maps_path) as reader:
        for image_id in manifest.masked_ids(split):
            maps, classes = reader.read(image_id)
            truth = read_truth(manifest, image_id, maps.shape[1:])
            context = read_context(manifest, image_id, truth.shape)
            if context is None:
                continue
            prediction = labels_from_maps(maps, classes, threshold)
            for owner in np.unique(context[context > 0]):
                scored = (context == owner) & (truth != IGNORE_INDEX) & (truth != owner)
                distance = distance_transform_edt(truth != owner) if (truth == owner).any() else np.full(truth.shape, np.inf)
                bins = np.digitize(distance[scored], edges[1:-1], right=True)
                hits = prediction[scored] == owner
                table = counts.setdefault(int(owner), np.zeros((len(edges) - 1, 2), dtype=np.int64))
                table[:, 0] += np.bincount(bins, minlength=len(edges) - 1)
                table[:, 1] += np.bincount(bins[hits], minlength=len(edges) - 1)
    return {manifest.classes[owner - 1]: [(edges[i], edges[i + 1], int(n), float(k / n) if n else 0.0)
                                          for i, (n, k) in enumerate(table)] for owner, table in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("maps", nargs="+", metavar="NAME=PATH", help="extract_cams HDF5 files, each with a column name")
    parser.add_argument("--manifest", default="data/manifest.json")
    parser.add_argument("--bands", nargs="+", type=float, default=[2, 4, 8, 16], help="band edges in pixels")
    args = parser.parse_args()
    params = yaml.safe_load(Path("params.yaml").read_text())
    split, threshold = params["data"]["train_split"], params["eval_cams"]["bg_threshold"]
    manifest = Manifest.load(args.manifest)
    columns = {name: context_by_distance(path, manifest, split, threshold, args.bands)
               for name, path in (item.split("=", 1) for item in args.maps)}
    for owner, rows in next(iter(columns.values())).items():  # every column scores the same pixels
        total = sum(n for _, _, n, _ in rows)
        print(f"| '{owner}' context labelled '{owner}' (threshold {threshold}) | " + " | ".join(columns) + " |")
        print("|---" * (len(columns) + 1) + "|")
        print("| all of it | " + " | ".join(
            f"{sum(n * share for _, _, n, share in table[owner]) / total:.3f}" for table in columns.values()) + " |")
        for index, (start, end, n, _) in enumerate(rows):
            where = f"beyond {start:g} px" if end == np.inf else f"{start:g}-{end:g} px"
            print(f"| {where} from a {owner} ({n / total:.0%} of it) | "
                  + " | ".join(f"{table[owner][index][3]:.3f}" for table in columns.values()) + " |")


if __name__ == "__main__":
    main()
