"""Stage train_classifier: train the CAM classifier with the configured method."""
from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.world import World
from pipeline.eval.convergence import ConvergenceParams
from pipeline.io.files import write_json
from pipeline.training.classifier import TrainClassifierParams, train_classifier
from pipeline.training.runtime import setup_runtime
from stages.common import logged_write, output_option, read_section, read_seed, stage_command, stage_inputs
from stages.training_outputs import write_training_outputs


@stage_command(metrics=True, distributed=True)
@output_option("--model", "model_path", help="Checkpoint to write.")
@output_option("--history", "history_path", help="Per-epoch figures (CSV, for dvc plots).")
def main(manifest_path: str, model_path: str, metrics_path: str, history_path: str) -> None:
    params, data, manifest = stage_inputs("train_classifier", TrainClassifierParams, manifest_path)
    runtime, world = read_section("runtime", RuntimeParams), World.from_env()
    convergence = read_section("convergence", ConvergenceParams)
    model, history = train_classifier(manifest, data.train_split, data.val_split, params, read_seed(), runtime,
                                      setup_runtime(runtime, world), convergence, world)
    if not world.is_main:
        return
    write_training_outputs(model_path, model, history_path, history, manifest.fingerprint, method=params.method,
                           classes=manifest.classes)
    final = history[-1]
    write_json(metrics_path, {"classifier": {"method": params.method, "val_map": final["val_map"],
                                             "loss": final["loss"], "epochs": len(history)}})
    logged_write(metrics_path, f"val mAP {final['val_map']:.3f}")


if __name__ == "__main__":
    main()
