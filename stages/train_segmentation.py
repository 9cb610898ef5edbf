"""Stage train_segmentation: DeepLab on the pseudo-labels, or on ground truth (--labels gt).

The pseudo-label DeepLab trains as many epochs as its fully supervised reference did
(`--epochs-of` the reference's history), not by the `convergence` rule on its own loss: the
weak/full ratio then compares two equally trained networks, and on the built-in data the
length rule's verdict on each DeepLab's own loss was near a coin flip at the default length
(its last-epoch fall spans about 6 % to 18 % over seeds, around the rule's 10 %).
"""
import dataclasses
import logging
from pathlib import Path

import click

from pipeline.core.errors import PipelineError
from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.world import World
from pipeline.eval.convergence import ConvergenceParams, read_history
from pipeline.io.checkpoints import load_checkpoint
from pipeline.io.label_png import read_label_png
from pipeline.training.deeplab import TrainSegmentationParams, train_deeplab
from pipeline.training.runtime import setup_runtime
from stages.common import logged_read, output_option, read_section, read_seed, stage_command, stage_inputs
from stages.training_outputs import write_training_outputs

log = logging.getLogger(__name__)


@stage_command(distributed=True)
@click.option("--labels", "labels", required=True, help="Folder of label PNGs, or 'gt' for the dataset's masks.")
@click.option("--classifier", "classifier_path", required=True, help="Backbone start when init: classifier.")
@click.option("--epochs-of", "epochs_of", default=None,
              help="History of a training run (the reference's): train exactly its epochs, no length rule.")
@output_option("--model", "model_path")
@output_option("--history", "history_path")
def main(manifest_path, labels, classifier_path, epochs_of, model_path, history_path) -> None:
    params, data, manifest = stage_inputs("train_segmentation", TrainSegmentationParams, manifest_path)
    convergence = read_section("convergence", ConvergenceParams)
    if epochs_of is not None:
        epochs = len(read_history(logged_read(epochs_of)))
        log.info("training %d epochs, as the run of %s did", epochs, epochs_of)
        params = dataclasses.replace(params, optim=dataclasses.replace(params.optim, epochs=epochs))
        convergence = dataclasses.replace(convergence, doublings=0)
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
                                   convergence, ids, world)
    if not world.is_main:
        return
    write_training_outputs(model_path, model, history_path, history, manifest.fingerprint,
                           labels="ground truth" if labels == "gt" else label_dir.name)


if __name__ == "__main__":
    main()
