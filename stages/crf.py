"""Stage crf: dense CRF over the random walk's maps; the final pseudo-labels."""
import click

from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.shards import sharded_folder
from pipeline.distributed.world import World
from pipeline.eval.label_scores import write_label_scores
from pipeline.io.maps import MapReader
from pipeline.refine.crf_labels import CrfParams, write_crf_labels
from stages.common import logged_read, logged_write, output_option, read_section, stage_command, stage_inputs


@stage_command(metrics=True, distributed=True)
@click.option("--maps", "maps_path", required=True, help="HDF5 maps from random_walk.")
@output_option("--labels", "label_dir", help="Folder for the pseudo-label PNGs.")
def main(manifest_path, maps_path, label_dir, metrics_path) -> None:
    params, data, manifest = stage_inputs("crf", CrfParams, manifest_path)
    world, timeout_s = World.from_env(), read_section("runtime", RuntimeParams).timeout_s
    with MapReader(logged_read(maps_path), manifest.fingerprint) as reader, \
            sharded_folder(label_dir, world, timeout_s) as tmp:
        write_crf_labels(reader, manifest, data.train_split, params, tmp, world)
    if not world.is_main:
        return
    summary = write_label_scores("crf", label_dir, manifest, data.train_split, metrics_path)
    logged_write(label_dir)
    logged_write(metrics_path, f"mIoU {summary['miou']:.3f}")


if __name__ == "__main__":
    main()
