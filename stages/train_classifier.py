"""Stage train_classifier: train the CAM classifier with the configured method."""
import click

from pipeline.data.voc import DataParams
from pipeline.io.checkpoints import save_checkpoint
from pipeline.io.files import write_csv, write_json
from pipeline.training.classifier import TrainClassifierParams, train_classifier
from pipeline.training.runtime import RuntimeParams, resolve_device
from stages.common import load_manifest, logged_write, read_section, read_seed, stage


@click.command()
@click.option("--manifest", "manifest_path", required=True)
@click.option("--model", "model_path", required=True, help="Checkpoint to write.")
@click.option("--metrics", "metrics_path", required=True, help="Final figures (JSON).")
@click.option("--history", "history_path", required=True, help="Per-epoch figures (CSV, for dvc plots).")
@stage
def main(manifest_path: str, model_path: str, metrics_path: str, history_path: str) -> None:
    params = read_section("train_classifier", TrainClassifierParams)
    runtime = read_section("runtime", RuntimeParams)
    data = read_section("data", DataParams)
    manifest = load_manifest(manifest_path)
    model, history = train_classifier(manifest, data.train_split, data.val_split, params, read_seed(), runtime,
                                      resolve_device(runtime))
    save_checkpoint(model_path, model, manifest.fingerprint, method=params.method, classes=manifest.classes)
    logged_write(model_path)
    write_csv(history_path, history)
    logged_write(history_path)
    final = history[-1]
    write_json(metrics_path, {"classifier": {"method": params.method, "val_map": final["val_map"],
                                             "loss": final["loss"], "epochs": len(history)}})
    logged_write(metrics_path, f"val mAP {final['val_map']:.3f}")


if __name__ == "__main__":
    main()
