"""Stage extract_cams: multi-scale + flip class maps of the train split into HDF5."""
import click

from pipeline.cams.extract import ExtractCamsParams, extract_maps
from pipeline.models.classifier import load_classifier
from pipeline.training.runtime import RuntimeParams, setup_runtime
from stages.common import logged_read, logged_write, output_option, read_section, stage_command, stage_inputs


@stage_command()
@click.option("--model", "model_path", required=True)
@output_option("--out", help="HDF5 file to write.")
def main(manifest_path: str, model_path: str, out: str) -> None:
    params, data, manifest = stage_inputs("extract_cams", ExtractCamsParams, manifest_path)
    runtime = read_section("runtime", RuntimeParams)
    device = setup_runtime(runtime)
    model = load_classifier(logged_read(model_path), manifest.fingerprint)
    count = extract_maps(model, manifest, data.train_split, params, out, device, runtime)
    logged_write(out, f"{count} images, method {params.method}, scales {params.scales}")


if __name__ == "__main__":
    main()
