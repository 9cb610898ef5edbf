"""Stage affinity_labels: confident foreground / background / ignore labels from the CAMs."""
import click

from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.shards import sharded_folder
from pipeline.distributed.world import World
from pipeline.io.maps import MapReader
from pipeline.refine.affinity_labels import AffinityLabelsParams, write_affinity_labels
from stages.common import logged_read, logged_write, output_option, read_section, stage_command, stage_inputs


@stage_command(distributed=True)
@click.option("--cams", required=True, help="HDF5 maps from extract_cams.")
@output_option("--labels", "label_dir", help="Folder for the confident labels (PNGs).")
def main(manifest_path: str, cams: str, label_dir: str) -> None:
    params, data, manifest = stage_inputs("affinity_labels", AffinityLabelsParams, manifest_path)
    world, timeout_s = World.from_env(), read_section("runtime", RuntimeParams).timeout_s
    with MapReader(logged_read(cams), manifest.fingerprint) as reader, \
            sharded_folder(label_dir, world, timeout_s) as tmp:
        write_affinity_labels(reader, manifest, data.train_split, params, tmp, world)
    logged_write(label_dir)


if __name__ == "__main__":
    main()
