"""Stage train_affinity: AffinityNet on the classifier's backbone, from the confident labels."""
import click

from pipeline.core.runtime import RuntimeParams
from pipeline.distributed.world import World
from pipeline.eval.convergence import ConvergenceParams
from pipeline.models.classifier import load_classifier
from pipeline.training.affinity import TrainAffinityParams, train_affinity
from pipeline.training.runtime import setup_runtime
from stages.common import logged_read, output_option, read_section, read_seed, stage_command, stage_inputs
from stages.training_outputs import write_training_outputs


@stage_command(distributed=True)
@click.option("--classifier", "classifier_path", required=True)
@click.option("--labels", "label_dir", required=True, help="Confident labels from affinity_labels.")
@output_option("--model", "model_path", help="AffinityNet checkpoint to write.")
@output_option("--history", "history_path")
def main(manifest_path, classifier_path, label_dir, model_path, history_path) -> None:
    params, data, manifest = stage_inputs("train_affinity", TrainAffinityParams, manifest_path)
    runtime, world = read_section("runtime", RuntimeParams), World.from_env()
    classifier = load_classifier(logged_read(classifier_path), manifest.fingerprint)
    model, history = train_affinity(classifier, manifest, data.train_split, logged_read(label_dir), params,
                                    read_seed(), runtime, setup_runtime(runtime, world),
                                    read_section("convergence", ConvergenceParams), world)
    if not world.is_main:
        return
    write_training_outputs(model_path, model, history_path, history, manifest.fingerprint)


if __name__ == "__main__":
    main()
