"""Stage report: the per-stage table, per-class IoU, whether each training run was still
learning when it stopped, and a sample grid, as HTML, PNG and a metrics JSON."""
from pathlib import Path

import click
from PIL import Image

from pipeline.core.errors import PipelineError
from pipeline.core.labels import labels_from_maps
from pipeline.core.runtime import RuntimeParams
from pipeline.data.datasets import ImageDataset
from pipeline.data.voc import read_image
from pipeline.eval.cam_scores import EvalCamsParams
from pipeline.eval.convergence import ConvergenceParams, TrainingRun, describe_progress, training_progress
from pipeline.eval.label_scores import read_truth
from pipeline.eval.report import ReportParams, colourise, render_html, sample_grid
from pipeline.eval.segmentation import EvaluateParams, predict
from pipeline.io.files import atomic_path, read_json, write_json
from pipeline.io.label_png import read_label_png
from pipeline.io.maps import MapReader
from pipeline.models.deeplab import load_deeplab
from pipeline.training.runtime import setup_runtime
from stages.common import log, logged_read, logged_write, output_option, read_section, stage_command, stage_inputs

# The params key that sets each training run's length, by its history's name (<name>_history.csv).
EPOCHS_KEYS = {"classifier": "train_classifier.optim.epochs", "affinity": "train_affinity.optim.epochs",
               "deeplab": "train_segmentation.optim.epochs", "deeplab_full": "train_segmentation.optim.epochs"}
HISTORY_SUFFIX = "_history"


def training_run(history_path: str) -> TrainingRun:
    """The training run whose history `history_path` is, named after the file."""
    name = Path(history_path).stem.removesuffix(HISTORY_SUFFIX)
    if name not in EPOCHS_KEYS:
        raise PipelineError(f"--history {history_path}: not a training history this pipeline writes; "
                            f"pass metrics/<name>{HISTORY_SUFFIX}.csv with name one of {', '.join(EPOCHS_KEYS)}")
    return TrainingRun(name, logged_read(history_path), EPOCHS_KEYS[name])


@stage_command()
@click.option("--metrics", "metric_paths", multiple=True, required=True, help="Stage metrics JSON files.")
@click.option("--cams", required=True)
@click.option("--rw-labels", "rw_dir", required=True)
@click.option("--crf-labels", "crf_dir", required=True)
@click.option("--model", "model_path", required=True, help="DeepLab trained on the pseudo-labels.")
@click.option("--history", "history_paths", multiple=True, required=True,
              help=f"A training stage's per-epoch history CSV: <name>{HISTORY_SUFFIX}.csv, name one of "
                   f"{', '.join(EPOCHS_KEYS)}.")
@output_option("--html", "html_path")
@output_option("--samples", "samples_path", help="Sample grid PNG (a dvc plots image).")
@output_option("--training", "training_path", help="Metrics JSON: each training run's last epoch.")
def main(manifest_path, metric_paths, cams, rw_dir, crf_dir, model_path, history_paths, html_path, samples_path,
         training_path) -> None:
    params, data, manifest = stage_inputs("report", ReportParams, manifest_path)
    runtime = read_section("runtime", RuntimeParams)
    device = setup_runtime(runtime)
    threshold = read_section("eval_cams", EvalCamsParams).bg_threshold
    evaluation = read_section("evaluate", EvaluateParams)  # the predictions shown are the ones scored
    metrics = {}
    for path in metric_paths:
        metrics.update(read_json(logged_read(path), "rerun `dvc repro` to write it again"))
    convergence = read_section("convergence", ConvergenceParams)  # the rule the training stages grew their runs by
    training = training_progress([training_run(path) for path in history_paths], convergence)
    for name, run in training.items():
        if run["still_learning"]:
            log.warning("%s", describe_progress(name, run))
    write_json(training_path, {"training": {name: {key: value for key, value in run.items() if key != "raise"}
                                            for name, run in training.items()}})
    logged_write(training_path, f"{sum(run['still_learning'] for run in training.values())} of {len(training)} "
                                "runs still learning")
    model = load_deeplab(logged_read(model_path), manifest.fingerprint).eval().to(device)
    dataset = ImageDataset(manifest, data.train_split)
    rows = []
    with MapReader(logged_read(cams), manifest.fingerprint) as reader:
        for index, image_id in enumerate(dataset.ids[:params.samples]):
            image = read_image(manifest.image_path(image_id))
            rows.append([
                image,
                colourise(read_truth(manifest, image_id, image.shape[:2])),
                colourise(labels_from_maps(*reader.read(image_id), threshold)),
                colourise(read_label_png(Path(rw_dir) / f"{image_id}.png")),
                colourise(read_label_png(Path(crf_dir) / f"{image_id}.png")),
                colourise(predict(model, dataset[index]["image"], evaluation, device, runtime)),
            ])
    with atomic_path(samples_path) as tmp:
        Image.fromarray(sample_grid(rows)).save(tmp, format="PNG")
    logged_write(samples_path)
    notes = [f"CAM labels at the configured background threshold {threshold}; the oracle threshold "
             f"{metrics['cam']['oracle_threshold']} (tuned on ground truth, as published code does) would give "
             f"{metrics['cam']['oracle_miou']:.3f}."]
    if "seg" in metrics:
        notes.append(f"DeepLab on the pseudo-labels reaches {metrics['seg']['ratio']:.1%} of the fully supervised "
                     f"DeepLab ({metrics['seg']['full_miou']:.3f} val mIoU).")
    relative = Path(samples_path).resolve().relative_to(Path(html_path).resolve().parent)
    page = render_html(metrics, manifest.classes, relative.as_posix(), notes, training)
    with atomic_path(html_path) as tmp:
        tmp.write_text(page)
    logged_write(html_path)


if __name__ == "__main__":
    main()
