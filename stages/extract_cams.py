"""Stage extract_cams: multi-scale + flip class maps of the train split into HDF5."""
import click

from pipeline.config import DataParams
from pipeline.maps.extract import ExtractParams, extract_maps
from stages.checkpoints import load_classifier, read_device
from stages.common import load_manifest, logged_write, read_section, stage


@click.command()
@click.option("--manifest", "manifest_path", required=True)
@click.option("--model", "model_path", required=True)
@click.option("--out", required=True, help="HDF5 file to write.")
@stage
def main(manifest_path: str, model_path: str, out: str) -> None:
    params = read_section("extract_cams", ExtractParams)
    data = read_section("data", DataParams)
    _, device = read_device()
    manifest = load_manifest(manifest_path)
    model = load_classifier(model_path, manifest)
    count = extract_maps(model, manifest, data.train_split, params, out, device)
    logged_write(f"{out} ({count} images, method {params.method}, scales {params.scales})")


if __name__ == "__main__":
    main()
