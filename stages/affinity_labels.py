"""Stage affinity_labels: confident foreground / background / ignore labels from the CAMs."""
import click

from pipeline.io.files import atomic_path
from pipeline.io.maps import MapReader
from pipeline.refine.affinity_labels import AffinityLabelsParams, write_affinity_labels
from stages.common import logged_read, logged_write, output_option, stage_command, stage_inputs


@stage_command()
@click.option("--cams", required=True, help="HDF5 maps from extract_cams.")
@output_option("--labels", "label_dir", help="Folder for the confident labels (PNGs).")
def main(manifest_path: str, cams: str, label_dir: str) -> None:
    params, data, manifest = stage_inputs("affinity_labels", AffinityLabelsParams, manifest_path)
    with MapReader(logged_read(cams), manifest.fingerprint) as reader, atomic_path(label_dir) as tmp:
        write_affinity_labels(reader, manifest, data.train_split, params, tmp)
    logged_write(label_dir)


if __name__ == "__main__":
    main()
