"""Stage check_root: name `data.root` in the error when it is not a VOC-layout folder.

DVC hashes a stage's dependencies before it runs the stage, so with a wrong `data.root`
the `prepare` stage (which depends on the folder) would fail inside DVC with a bare
"No such file or directory". This stage depends on the `data.root` parameter only and runs
before `prepare`, so the error names the parameter and the fix.
"""
from pipeline.data.voc import DataParams, check_root
from pipeline.io.files import write_json
from stages.common import logged_write, output_option, read_section, stage_command


@stage_command(manifest=False)
@output_option("--out", help="JSON naming the checked root (prepare depends on it).")
def main(out: str) -> None:
    root = check_root(read_section("data", DataParams))
    write_json(out, {"root": root.as_posix()})
    logged_write(out, f"data.root {root} is a VOC-layout folder")


if __name__ == "__main__":
    main()
