"""Stage crf: dense CRF over the random walk's maps; the final pseudo-labels."""
import click

from pipeline.data.voc import DataParams
from pipeline.eval.label_scores import write_label_scores
from pipeline.io.files import atomic_path
from pipeline.io.maps import MapReader
from pipeline.refine.crf_labels import CrfParams, write_crf_labels
from stages.common import load_manifest, logged_read, logged_write, read_section, stage


@click.command()
@click.option("--manifest", "manifest_path", required=True)
@click.option("--maps", "maps_path", required=True, help="HDF5 maps from random_walk.")
@click.option("--labels", "label_dir", required=True, help="Folder for the pseudo-label PNGs.")
@click.option("--metrics", "metrics_path", required=True)
@stage
def main(manifest_path, maps_path, label_dir, metrics_path) -> None:
    params = read_section("crf", CrfParams)
    data = read_section("data", DataParams)
    manifest = load_manifest(manifest_path)
    with MapReader(logged_read(maps_path), manifest.fingerprint) as reader, atomic_path(label_dir) as tmp:
        write_crf_labels(reader, manifest, data.train_split, params, tmp)
    summary = write_label_scores("crf", label_dir, manifest, data.train_split, metrics_path)
    logged_write(label_dir)
    logged_write(metrics_path, f"mIoU {summary['miou']:.3f}")


if __name__ == "__main__":
    main()
