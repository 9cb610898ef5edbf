"""Stage train_segmentation: DeepLab on the pseudo-labels, or on ground truth (--labels gt)."""
from pathlib import Path

import click

from pipeline.config import DataParams
from pipeline.errors import PipelineError
from pipeline.segmentation import SegmentationParams, train_deeplab
from pipeline.store import read_label_png, write_csv
from pipeline.training import save_checkpoint
from stages.checkpoints import load_checked, read_device
from stages.common import load_manifest, logged_read, logged_write, read_section, read_seed, stage


@click.command()
@click.option("--manifest", "manifest_path", required=True)
@click.option("--labels", "labels", required=True, help="Folder of label PNGs, or 'gt' for the dataset's masks.")
@click.option("--classifier", "classifier_path", required=True, help="Backbone start when init: classifier.")
@click.option("--model", "model_path", required=True)
@click.option("--history", "history_path", required=True)
@stage
def main(manifest_path, labels, classifier_path, model_path, history_path) -> None:
    params = read_section("train_segmentation", SegmentationParams)
    data = read_section("data", DataParams)
    runtime, device = read_device()
    manifest = load_manifest(manifest_path)
    if labels == "gt":
        loader = lambda image_id: read_label_png(manifest.mask_path(image_id))  # noqa: E731
    else:
        label_dir = logged_read(labels)
        if not label_dir.is_dir():
            raise PipelineError(f"{label_dir}: label folder not found; run the stage that writes it (dvc repro)")
        loader = lambda image_id: read_label_png(label_dir / f"{image_id}.png")  # noqa: E731
    state = load_checked(classifier_path, manifest)["state_dict"] if params.init == "classifier" else None
    model, history = train_deeplab(manifest, data.train_split, loader, params, state, read_seed(), runtime, device)
    meta = {"arch": params.arch, "num_labels": manifest.num_classes + 1, "fingerprint": manifest.fingerprint,
            "labels": "ground truth" if labels == "gt" else Path(labels).name}
    save_checkpoint(model_path, model, meta)
    logged_write(model_path)
    write_csv(history_path, history)
    logged_write(history_path)


if __name__ == "__main__":
    main()
