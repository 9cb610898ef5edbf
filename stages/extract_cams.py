"""Stage extract_cams: multi-scale + flip class maps of the train split into HDF5."""
import functools

import click

from pipeline.cams.extract import ExtractCamsParams, extract_maps
from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.shards import sharded_output
from pipeline.distributed.world import World
from pipeline.io.maps import merge_map_files
from pipeline.models.classifier import load_classifier
from pipeline.training.runtime import setup_runtime
from stages.common import logged_read, logged_write, output_option, read_section, stage_command, stage_inputs


@stage_command(distributed=True)
@click.option("--model", "model_path", required=True)
@output_option("--out", help="HDF5 file to write.")
def main(manifest_path: str, model_path: str, out: str) -> None:
    params, data, manifest = stage_inputs("extract_cams", ExtractCamsParams, manifest_path)
    runtime, world = read_section("runtime", RuntimeParams), World.from_env()
    device = setup_runtime(runtime, world)
    model = load_classifier(logged_read(model_path), manifest.fingerprint)
    merge = functools.partial(merge_map_files, order=manifest.ids(data.train_split))
    with sharded_output(out, world, runtime.timeout_s, merge) as part:
        extract_maps(model, manifest, data.train_split, params, part, device, runtime, world)
    logged_write(out, f"{len(manifest.ids(data.train_split))} images, method {params.method}, scales {params.scales}")


if __name__ == "__main__":
    main()
