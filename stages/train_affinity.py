"""Stage train_affinity: AffinityNet on the classifier's backbone, from the confident labels."""
import click

from pipeline.data.voc import DataParams
from pipeline.io.checkpoints import save_checkpoint
from pipeline.io.files import write_csv
from pipeline.models.classifier import load_classifier
from pipeline.training.affinity import TrainAffinityParams, train_affinity
from pipeline.training.runtime import RuntimeParams, resolve_device
from stages.common import load_manifest, logged_read, logged_write, read_section, read_seed, stage


@click.command()
@click.option("--manifest", "manifest_path", required=True)
@click.option("--classifier", "classifier_path", required=True)
@click.option("--labels", "label_dir", required=True, help="Confident labels from affinity_labels.")
@click.option("--model", "model_path", required=True, help="AffinityNet checkpoint to write.")
@click.option("--history", "history_path", required=True)
@stage
def main(manifest_path, classifier_path, label_dir, model_path, history_path) -> None:
    params = read_section("train_affinity", TrainAffinityParams)
    data = read_section("data", DataParams)
    runtime = read_section("runtime", RuntimeParams)
    manifest = load_manifest(manifest_path)
    classifier = load_classifier(logged_read(classifier_path), manifest.fingerprint)
    model, history = train_affinity(classifier, manifest, data.train_split, logged_read(label_dir), params,
                                    read_seed(), runtime, resolve_device(runtime))
    save_checkpoint(model_path, model, manifest.fingerprint)
    logged_write(model_path)
    write_csv(history_path, history)
    logged_write(history_path)


if __name__ == "__main__":
    main()
