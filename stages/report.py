"""Stage report: the per-stage table, per-class IoU and a sample grid, as HTML and PNG."""
from pathlib import Path

import click
from PIL import Image

from pipeline.core.labels import labels_from_maps
from pipeline.core.runtime import RuntimeParams
from pipeline.data.datasets import ImageDataset
from pipeline.data.voc import read_image
from pipeline.eval.cam_scores import EvalCamsParams
from pipeline.eval.label_scores import read_truth
from pipeline.eval.report import ReportParams, colourise, render_html, sample_grid
from pipeline.eval.segmentation import EvaluateParams, predict
from pipeline.io.files import atomic_path, read_json
from pipeline.io.label_png import read_label_png
from pipeline.io.maps import MapReader
from pipeline.models.deeplab import load_deeplab
from pipeline.training.runtime import setup_runtime
from stages.common import logged_read, logged_write, output_option, read_section, stage_command, stage_inputs


@stage_command()
@click.option("--metrics", "metric_paths", multiple=True, required=True, help="Stage metrics JSON files.")
@click.option("--cams", required=True)
@click.option("--rw-labels", "rw_dir", required=True)
@click.option("--crf-labels", "crf_dir", required=True)
@click.option("--model", "model_path", required=True, help="DeepLab trained on the pseudo-labels.")
@output_option("--html", "html_path")
@output_option("--samples", "samples_path", help="Sample grid PNG (a dvc plots image).")
def main(manifest_path, metric_paths, cams, rw_dir, crf_dir, model_path, html_path, samples_path) -> None:
    params, data, manifest = stage_inputs("report", ReportParams, manifest_path)
    runtime = read_section("runtime", RuntimeParams)
    device = setup_runtime(runtime)
    threshold = read_section("eval_cams", EvalCamsParams).bg_threshold
    evaluation = read_section("evaluate", EvaluateParams)  # the predictions shown are the ones scored
    metrics = {}
    for path in metric_paths:
        metrics.update(read_json(logged_read(path), "rerun `dvc repro` to write it again"))
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
    page = render_html(metrics, manifest.classes, relative.as_posix(), notes)
    with atomic_path(html_path) as tmp:
        tmp.write_text(page)
    logged_write(html_path)


if __name__ == "__main__":
    main()
