"""Stage train_affinity: confident labels from the CAMs, then AffinityNet on them."""
from pathlib import Path

import click

from pipeline.config import DataParams
from pipeline.refine.steps import AffinityParams, train_affinity, write_affinity_labels
from pipeline.store import MapReader, atomic_path, write_csv
from pipeline.training import save_checkpoint
from stages.checkpoints import load_classifier, read_device
from stages.common import load_manifest, logged_read, logged_write, read_section, read_seed, stage


@click.command()
@click.option("--manifest", "manifest_path", required=True)
@click.option("--cams", required=True)
@click.option("--classifier", "classifier_path", required=True)
@click.option("--labels", "label_dir", required=True, help="Folder for the confident labels (PNGs).")
@click.option("--model", "model_path", required=True, help="AffinityNet checkpoint to write.")
@click.option("--history", "history_path", required=True)
@stage
def main(manifest_path, cams, classifier_path, label_dir, model_path, history_path) -> None:
    params = read_section("train_affinity", AffinityParams)
    data = read_section("data", DataParams)
    runtime, device = read_device()
    manifest = load_manifest(manifest_path)
    classifier = load_classifier(classifier_path, manifest)
    with MapReader(logged_read(cams), manifest.fingerprint) as reader, atomic_path(label_dir) as tmp:
        write_affinity_labels(reader, manifest, data.train_split, params, tmp)
    logged_write(label_dir)
    model, history = train_affinity(classifier, manifest, data.train_split, Path(label_dir), params, read_seed(), runtime, device)
    save_checkpoint(model_path, model, {"fingerprint": manifest.fingerprint, "channels": list(params.channels),
                                        "dim": params.dim, "radius": params.radius})
    logged_write(model_path)
    write_csv(history_path, history)
    logged_write(history_path)


if __name__ == "__main__":
    main()
