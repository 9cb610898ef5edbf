"""Stage eval_cams: score the CAMs on the train split, with the oracle threshold sweep."""
import click

from pipeline.eval.cam_scores import EvalCamsParams, score_cams
from pipeline.io.files import write_csv, write_json
from pipeline.io.maps import MapReader
from stages.common import logged_read, logged_write, output_option, stage_command, stage_inputs


@stage_command(metrics=True)
@click.option("--cams", required=True, help="HDF5 maps from extract_cams.")
@output_option("--sweep", "sweep_path", help="Threshold curve (CSV, for dvc plots).")
def main(manifest_path: str, cams: str, metrics_path: str, sweep_path: str) -> None:
    params, data, manifest = stage_inputs("eval_cams", EvalCamsParams, manifest_path)
    with MapReader(logged_read(cams), manifest.fingerprint) as reader:
        summary, curve = score_cams(reader, manifest, data.train_split, params)
    write_csv(sweep_path, curve)
    logged_write(sweep_path)
    write_json(metrics_path, {"cam": summary})
    logged_write(metrics_path, f"mIoU {summary['miou']:.3f} at threshold {params.bg_threshold}, "
                               f"oracle {summary['oracle_miou']:.3f} at {summary['oracle_threshold']}")


if __name__ == "__main__":
    main()
