"""Stage train_segmentation: DeepLab on the pseudo-labels, or on ground truth (--labels gt)."""
from pathlib import Path

import click

from pipeline.core.errors import PipelineError
from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.world import World
from pipeline.eval.convergence import ConvergenceParams
from pipeline.io.checkpoints import load_checkpoint
from pipeline.io.label_png import read_label_png
from pipeline.training.deeplab import TrainSegmentationParams, train_deeplab
from pipeline.training.runtime import setup_runtime
from stages.common import logged_read, output_option, read_section, read_seed, stage_command, stage_inputs
from stages.training_outputs import write_training_outputs


@stage_command(distributed=True)
@click.option("--labels", "labels", required=True, help="Folder of label PNGs, or 'gt' for the dataset's masks.")
@click.option("--classifier", "classifier_path", required=True, help="Backbone start when init: classifier.")
@output_option("--model", "model_path")
@output_option("--history", "history_path")
def main(manifest_path, labels, classifier_path, model_path, history_path) -> None:
    params, data, manifest = stage_inputs("train_segmentation", TrainSegmentationParams, manifest_path)
    runtime, world = read_section("runtime", RuntimeParams), World.from_env()
    ids = None
    if labels == "gt":
        label_dir = logged_read(Path(manifest.root) / manifest.mask_dir)
        ids = manifest.masked_ids(data.train_split)  # train images labelled by data.labels_file have no mask
    else:
        label_dir = logged_read(labels)
        if not label_dir.is_dir():
            raise PipelineError(f"{label_dir}: label folder not found; run the stage that writes it (dvc repro)")
    state = None
    if params.init == "classifier":
        state = load_checkpoint(logged_read(classifier_path), manifest.fingerprint)["state_dict"]
    model, history = train_deeplab(manifest, data.train_split, lambda image_id: read_label_png(label_dir / f"{image_id}.png"),
                                   params, state, read_seed(), runtime, setup_runtime(runtime, world),
                                   read_section("convergence", ConvergenceParams), ids, world)
    if not world.is_main:
        return
    write_training_outputs(model_path, model, history_path, history, manifest.fingerprint,
                           labels="ground truth" if labels == "gt" else label_dir.name)


if __name__ == "__main__":
    main()
