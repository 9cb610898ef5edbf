"""How much of each class's body a classifier finds from a Puzzle-CAM tile, against the whole image.

    python scripts/tile_evidence.py cam=classifier.pt puzzle=puzzle.pt [--split val]

Puzzle-CAM's published `L_re` pulls the full image's class maps and the stitched maps of its 2x2
tiles towards each other. Where a tile shows part of an object's body but not its mark
(the built-in data's discriminative part), the tile's map holds only the evidence of the
body itself. This script measures that evidence per class: over the object pixels of
each class, split by whether their tile holds that object's mark, the share that the
full image's map and the stitched tiles' map label as the class (raw class map above
`eval_cams.bg_threshold` times the full map's peak, the threshold `eval_cams` applies to
max-normalised maps). A class whose body is found in the full image but not in tiles
without the mark is one that the published, two-sided `L_re` can only make agree by
shrinking the full map.

Built-in data only: the marks are found by their colours (`MARK_COLOURS`) inside each
class's ground-truth mask. Prints a markdown table, two columns per classifier.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from pipeline.data.synthetic import MARK_COLOURS
from pipeline.data.transforms import to_tensor
from pipeline.data.voc import Manifest, read_image
from pipeline.eval.label_scores import read_truth
from pipeline.methods.puzzle import stitch, tile
from pipeline.models.classifier import load_classifier

MARK_TOLERANCE = 40  # grey levels per channel: the marks' noise (sd 6) and clipping, far from any body colour


def mark_pixels(image: np.ndarray, truth: np.ndarray, class_index: int) -> np.ndarray:
    """Pixels of class `class_index` (1-based) painted in its mark colour."""
    close = np.abs(image.astype(np.float32) - MARK_COLOURS[class_index - 1]).max(axis=2) < MARK_TOLERANCE
    return close & (truth == class_index)


@torch.no_grad()
def full_and_tile_maps(model, image: np.ndarray, tiles: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw class maps (K, H, W) of the whole image and of its stitched tiles, at pixel resolution."""
    batch = to_tensor(image)[None]
    size = batch.shape[2:]
    full = F.interpolate(model(batch).class_maps, size=size, mode="bilinear", align_corners=False)
    tiled = stitch(model(tile(batch, tiles)).class_maps, tiles)
    tiled = F.interpolate(tiled, size=size, mode="bilinear", align_corners=False)
    return full[0].numpy(), tiled[0].numpy()


def count_found(counts: np.ndarray, image: np.ndarray, truth: np.ndarray, full: np.ndarray, tiled: np.ndarray,
                tiles: int, threshold: float) -> None:
    """Add one image's object pixels, and those its full and tiled maps find, to `counts`
    (classes, 2 tile kinds [holds the object's mark, does not], 3 [pixels, found in full, found in tiles])."""
    height, width = truth.shape
    tile_of = (np.arange(height)[:, None] * tiles // height) * tiles + np.arange(width)[None, :] * tiles // width
    for class_index in np.unique(truth[(truth > 0) & (truth <= counts.shape[0])]):
        k = class_index - 1
        body = truth == class_index
        marked = np.isin(tile_of, np.unique(tile_of[mark_pixels(image, truth, class_index)]))
        cut = threshold * full[k].max()
        for kind, pixels in enumerate((body & marked, body & ~marked)):
            counts[k, kind] += [pixels.sum(), (full[k][pixels] > cut).sum(), (tiled[k][pixels] > cut).sum()]


def tile_evidence(model_path: str, manifest: Manifest, split: str, threshold: float, tiles: int) -> np.ndarray:
    """`count_found`'s counts over the images of `split`."""
    model = load_classifier(model_path, manifest.fingerprint).eval()
    counts = np.zeros((manifest.num_classes, 2, 3), dtype=np.int64)
    for image_id in manifest.masked_ids(split):
        image = read_image(manifest.image_path(image_id))
        truth = read_truth(manifest, image_id, image.shape[:2])
        count_found(counts, image, truth, *full_and_tile_maps(model, image, tiles), tiles, threshold)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="NAME=PATH", help="train_classifier checkpoints, each with a name")
    parser.add_argument("--manifest", default="data/manifest.json")
    parser.add_argument("--split", default="val")
    parser.add_argument("--tiles", type=int, default=2, help="tiles per side")
    args = parser.parse_args()
    params = yaml.safe_load(Path("params.yaml").read_text())
    threshold = params["eval_cams"]["bg_threshold"]
    manifest = Manifest.load(args.manifest)
    columns = {name: tile_evidence(path, manifest, args.split, threshold, args.tiles)
               for name, path in (item.split("=", 1) for item in args.models)}
    print(f"| object pixels labelled as their class ({args.split}, threshold {threshold}) | "
          + " | ".join(f"{name}: full image | {name}: tiles" for name in columns) + " |")
    print("|---" * (2 * len(columns) + 1) + "|")
    pixels = next(iter(columns.values()))[..., 0]  # every classifier is scored on the same pixels
    found = {name: c[..., 1:] / np.maximum(c[..., :1], 1) for name, c in columns.items()}  # (classes, kinds, 2)
    for k, name in enumerate(manifest.classes):
        for kind, where in enumerate(("tile holds the mark", "tile without the mark")):
            print(f"| {name}, {where} ({pixels[k, kind] / max(pixels[k].sum(), 1):.0%} of it) | "
                  + " | ".join(f"{share[k, kind, 0]:.2f} | {share[k, kind, 1]:.2f}" for share in found.values()) + " |")


if __name__ == "__main__":
    main()
