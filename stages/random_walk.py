"""Stage random_walk: propagate the CAMs over AffinityNet's affinities; score the labels."""
import click

from pipeline.config import DataParams
from pipeline.models.affinity import AffinityNet
from pipeline.refine.random_walk import RandomWalkParams
from pipeline.refine.steps import write_random_walk
from pipeline.scoring import write_label_scores
from pipeline.store import MapReader, atomic_path
from stages.checkpoints import load_checked, load_classifier, read_device
from stages.common import load_manifest, logged_read, logged_write, read_section, stage


@click.command()
@click.option("--manifest", "manifest_path", required=True)
@click.option("--cams", required=True)
@click.option("--classifier", "classifier_path", required=True)
@click.option("--affinity", "affinity_path", required=True)
@click.option("--out", required=True, help="HDF5 file of the walked maps (background first).")
@click.option("--labels", "label_dir", required=True, help="Folder for the label PNGs.")
@click.option("--metrics", "metrics_path", required=True)
@click.option("--batch-size", default=16, show_default=True)
@stage
def main(manifest_path, cams, classifier_path, affinity_path, out, label_dir, metrics_path, batch_size) -> None:
    params = read_section("random_walk", RandomWalkParams)
    data = read_section("data", DataParams)
    _, device = read_device()
    manifest = load_manifest(manifest_path)
    checkpoint = load_checked(affinity_path, manifest)
    model = AffinityNet(load_classifier(classifier_path, manifest), checkpoint["meta"]["channels"], checkpoint["meta"]["dim"],
                        freeze_backbone=True)
    model.load_state_dict(checkpoint["state_dict"])
    attrs = {"method": "random_walk", "fingerprint": manifest.fingerprint, "split": data.train_split,
             "classes": manifest.classes}
    with MapReader(logged_read(cams), manifest.fingerprint) as reader, atomic_path(label_dir) as tmp:
        write_random_walk(model, reader, manifest, data.train_split, params, batch_size, out, tmp, attrs, device)
    logged_write(out)
    logged_write(label_dir)
    summary = write_label_scores("rw", label_dir, manifest, data.train_split, metrics_path)
    logged_write(f"{metrics_path} (mIoU {summary['miou']:.3f})")


if __name__ == "__main__":
    main()
