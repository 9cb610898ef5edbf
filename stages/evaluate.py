"""Stage evaluate: score DeepLab (pseudo-labels) and the fully supervised reference on val."""
import click
from tqdm import tqdm

from pipeline.core.labels import label_names
from pipeline.core.runtime import RuntimeParams
from pipeline.data.datasets import ImageDataset
from pipeline.distributed.world import World
from pipeline.eval.metrics import summarise
from pipeline.eval.segmentation import EvaluateParams, score_predictions
from pipeline.io.files import write_json
from pipeline.models.deeplab import load_deeplab
from pipeline.training.runtime import setup_runtime, sum_over_processes
from stages.common import logged_read, logged_write, read_section, stage_command, stage_inputs


@stage_command(metrics=True, distributed=True)
@click.option("--model", "model_path", required=True, help="DeepLab trained on the pseudo-labels.")
@click.option("--reference", "reference_path", required=True, help="DeepLab trained on ground truth.")
def main(manifest_path, model_path, reference_path, metrics_path) -> None:
    params, data, manifest = stage_inputs("evaluate", EvaluateParams, manifest_path)
    runtime, world = read_section("runtime", RuntimeParams), World.from_env()
    device = setup_runtime(runtime, world)
    dataset = ImageDataset(manifest, data.val_split)
    names = label_names(manifest.classes)
    scores = []
    for name, path in (("weak", model_path), ("full", reference_path)):
        model = load_deeplab(logged_read(path), manifest.fingerprint).eval().to(device)
        shard = tqdm(world.shard(range(len(dataset))), desc=f"evaluate {name}", unit="img")
        scores.append(score_predictions(model, dataset, shard, params, device, runtime))
    for counts in scores:  # each process scored its share
        counts.confusion = sum_over_processes(counts.confusion, world, runtime, device)
        counts.context = sum_over_processes(counts.context, world, runtime, device)
    if not world.is_main:
        return
    weak, full = scores
    seg = {**weak.summary(names), "scored_images": len(dataset)}
    full_miou = summarise(full.confusion, names)["miou"]
    seg.update(full_miou=full_miou, ratio=seg["miou"] / max(full_miou, 1e-9))
    write_json(metrics_path, {"seg": seg})
    logged_write(metrics_path, f"val mIoU {seg['miou']:.3f}, fully supervised {seg['full_miou']:.3f}, "
                               f"ratio {seg['ratio']:.3f}")


if __name__ == "__main__":
    main()
