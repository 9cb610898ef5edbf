"""Stage prepare: check the VOC-layout dataset at data.root and write its manifest."""
from pipeline.data.voc import DataParams, index_dataset
from stages.common import logged_read, logged_write, output_option, read_section, stage_command


@stage_command(manifest=False)
@output_option("--out", help="Manifest JSON to write.")
def main(out: str) -> None:
    params = read_section("data", DataParams)
    logged_read(params.root)
    manifest = index_dataset(params)
    manifest.save(out)
    counts = ", ".join(f"{len(v)} {k}" for k, v in manifest.splits.items())
    logged_write(out, f"{counts} images, {manifest.num_classes} classes, fingerprint {manifest.fingerprint}")


if __name__ == "__main__":
    main()
