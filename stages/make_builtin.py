"""Stage make_builtin: generate the built-in VOC-layout dataset."""
from pipeline.data.synthetic import BuiltinParams, generate_dataset
from stages.common import logged_write, output_option, read_section, stage_command


@stage_command(manifest=False)
@output_option("--out", help="Dataset root to create.")
def main(out: str) -> None:
    params = read_section("builtin", BuiltinParams)
    generate_dataset(out, params)
    logged_write(out, f"{params.num_train} train, {params.num_val} val images")


if __name__ == "__main__":
    main()
