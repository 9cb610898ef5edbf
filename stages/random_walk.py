"""Stage random_walk: propagate the CAMs over AffinityNet's affinities; score the labels."""
import functools

import click

from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.shards import sharded_folder, sharded_output
from pipeline.distributed.world import World
from pipeline.eval.label_scores import write_label_scores
from pipeline.io.maps import MapReader, merge_map_files
from pipeline.models.affinity import load_affinity
from pipeline.models.classifier import load_classifier
from pipeline.refine.random_walk import RandomWalkParams, write_random_walk
from pipeline.training.runtime import setup_runtime
from stages.common import logged_read, logged_write, output_option, read_section, stage_command, stage_inputs


@stage_command(metrics=True, distributed=True)
@click.option("--cams", required=True)
@click.option("--classifier", "classifier_path", required=True)
@click.option("--affinity", "affinity_path", required=True)
@output_option("--out", help="HDF5 file of the walked maps (background first).")
@output_option("--labels", "label_dir", help="Folder for the label PNGs.")
def main(manifest_path, cams, classifier_path, affinity_path, out, label_dir, metrics_path) -> None:
    params, data, manifest = stage_inputs("random_walk", RandomWalkParams, manifest_path)
    runtime, world = read_section("runtime", RuntimeParams), World.from_env()
    device = setup_runtime(runtime, world)
    classifier = load_classifier(logged_read(classifier_path), manifest.fingerprint)
    model = load_affinity(logged_read(affinity_path), classifier, manifest.fingerprint)
    attrs = {"method": "random_walk", "fingerprint": manifest.fingerprint, "split": data.train_split,
             "classes": manifest.classes}
    merge = functools.partial(merge_map_files, order=manifest.ids(data.train_split))
    with MapReader(logged_read(cams), manifest.fingerprint) as reader, \
            sharded_output(out, world, runtime.timeout_s, merge) as maps_part, \
            sharded_folder(label_dir, world, runtime.timeout_s) as labels_part:
        write_random_walk(model, reader, manifest, data.train_split, params, maps_part, labels_part, attrs, device,
                          runtime, world)
    if not world.is_main:
        return
    logged_write(out)
    summary = write_label_scores("rw", label_dir, manifest, data.train_split, metrics_path)
    logged_write(label_dir)
    logged_write(metrics_path, f"mIoU {summary['miou']:.3f}")


if __name__ == "__main__":
    main()
