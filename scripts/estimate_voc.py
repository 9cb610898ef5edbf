"""On paper: PASCAL VOC train_aug at the published settings on one and on eight H100s.

    python scripts/estimate_voc.py            # print the table and write it into the README
    python scripts/estimate_voc.py --measure  # on a GPU first: time the networks, write results/voc_throughput.json

FLOPs are counted by torch (torch.utils.flop_counter) on this project's own networks at
the published sizes (ResNet-50, crop 512, VOC's typical image 500x375, the published
scales), forward and backward; the GPU seconds follow from an assumed sustained bf16
throughput, the CRF from one VOC-sized image timed on this machine's CPU. `--measure` times
the same networks on a GPU (bf16 autocast, as the stages run them), and the table then
adds the time that measured throughput gives for VOC's image counts.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.core.labels import scaled_size  # noqa: E402
from pipeline.models.affinity import AffinityNet  # noqa: E402
from pipeline.models.classifier import Classifier  # noqa: E402
from pipeline.models.deeplab import build_deeplab  # noqa: E402
from pipeline.refine.crf import DenseCrfParams, crf_probabilities  # noqa: E402

README = Path("README.md")
THROUGHPUT = Path("results/voc_throughput.json")
MARKERS = ("<!-- estimate:start -->", "<!-- estimate:end -->")
TRAIN_AUG, VAL = 10_582, 1_449
CLASSES = 20
VOC_IMAGE = (375, 500)  # VOC's typical image (H, W)
CROP = 512
H100_PEAK_TFLOPS = 989  # dense bf16, SXM
UTILISATION = 0.35  # sustained share of peak assumed for ResNet training and inference
SCALING_8 = 0.9  # assumed efficiency of 8 GPUs over one (DDP, sharded inference)
EPOCHS = {"classifier": 5, "affinity": 3, "deeplab": 30}  # IRN's 5 and 3 epochs; DeepLab ~20k iterations of 16
CAM_SCALES = (1.0, 0.5, 1.5, 2.0)  # each with its flip
EVAL_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)  # each with its flip
CPU_CORES = 16  # one H100 machine of the device pool
CRFS_PER_IMAGE = 3  # affinity_labels runs two (at its foreground and background thresholds), crf one
BATCH = 16  # the published training batch; inference is timed on batches of as many VOC-sized images
TIMED_STEPS, WARMUP_STEPS = 10, 3


def _output_tensor(output) -> torch.Tensor:
    """The tensor a network's loss is computed from: classifier logits, DeepLab's "out", AffinityNet's embeddings."""
    return output.logits if hasattr(output, "logits") else (output["out"] if isinstance(output, dict) else output)


def flops(model: torch.nn.Module, size: tuple[int, int], train: bool) -> float:
    """FLOPs of one image through `model` at `size`: forward, plus backward when `train`
    (counted on a batch of two, which BatchNorm needs in training, and halved)."""
    model.train(train)
    images = torch.randn(2, 3, *size)
    with FlopCounterMode(display=False) as counter:
        output = model(images)
        if train:
            _output_tensor(output).float().sum().backward()
    return counter.get_total_flops() / 2


def networks() -> dict[str, torch.nn.Module]:
    """The three networks at the published sizes (ResNet-50; AffinityNet on the classifier's backbone)."""
    torch.manual_seed(0)
    classifier = Classifier("resnet50", CLASSES, output_stride=16)
    return {"classifier": classifier, "affinity": AffinityNet(classifier, [64, 128, 256, 256], 128),
            "deeplab": build_deeplab("resnet50", CLASSES + 1)}


def _seconds_per_image(step, images_per_step: int) -> float:
    for _ in range(WARMUP_STEPS):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(TIMED_STEPS):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / (TIMED_STEPS * images_per_step)


def _train_step(model: torch.nn.Module, device: torch.device):
    """One bf16-autocast training step on a batch of crops: forward, backward, AdamW."""
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images = torch.randn(BATCH, 3, CROP, CROP, device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = _output_tensor(model(images)).float().mean()
        loss.backward()
        optimizer.step()
    return step


def _inference_step(model: torch.nn.Module, scales: tuple[float, ...], device: torch.device):
    """Multi-scale inference of a batch of VOC-sized images: each scale and its flip."""
    model.eval()
    images = torch.randn(BATCH, 3, *VOC_IMAGE, device=device)

    @torch.no_grad()
    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            for scale in scales:
                scaled = torch.nn.functional.interpolate(images, scaled_size(VOC_IMAGE, scale), mode="bilinear")
                _output_tensor(model(torch.cat([scaled, scaled.flip(-1)])))
    return step


def measure(device: torch.device) -> dict:
    """Seconds per image of each GPU stage's network on the GPU `device`, bf16 autocast."""
    torch.backends.cudnn.benchmark = True
    models = {name: model.to(device) for name, model in networks().items()}
    steps = {
        "classifier_train": _train_step(models["classifier"], device),
        "cam_extraction": _inference_step(models["classifier"], CAM_SCALES, device),
        "affinity_train": _train_step(models["affinity"], device),
        "random_walk_forward": _inference_step(models["affinity"], (1.0,), device),
        "deeplab_train": _train_step(models["deeplab"], device),
        "evaluate": _inference_step(models["deeplab"], EVAL_SCALES, device),
    }
    seconds = {}
    for name, step in steps.items():
        seconds[name] = _seconds_per_image(step, BATCH)
        print(f"{name}: {1 / seconds[name]:.0f} images/s", flush=True)
    return {"device": torch.cuda.get_device_name(device), "torch": torch.__version__, "batch": BATCH,
            "crop": CROP, "seconds_per_image": seconds}


def crf_seconds(repeats: int = 5) -> float:
    """CPU seconds of the final CRF (10 iterations) on one VOC-sized image with 3 labels (median of `repeats`)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (*VOC_IMAGE, 3), dtype=np.uint8)
    probabilities = rng.dirichlet(np.ones(3), size=VOC_IMAGE).transpose(2, 0, 1).astype(np.float32)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        crf_probabilities(image, probabilities, DenseCrfParams(bilateral_sxy=80.0, bilateral_srgb=13.0))
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


def estimate(measured: dict | None) -> dict:
    models = networks()
    classifier, affinity, deeplab = models["classifier"], models["affinity"], models["deeplab"]
    classifier_train = flops(classifier, (CROP, CROP), True)
    cam_image = sum(2 * flops(classifier, scaled_size(VOC_IMAGE, s), False) for s in CAM_SCALES)
    affinity_train = flops(affinity, (CROP, CROP), True)
    walk_image = flops(affinity, VOC_IMAGE, False)
    deeplab_train = flops(deeplab, (CROP, CROP), True)
    eval_image = sum(2 * flops(deeplab, scaled_size(VOC_IMAGE, s), False) for s in EVAL_SCALES)
    crf = crf_seconds()
    # (stage, FLOPs per image (None: the CPU stage), images it processes, measured key)
    rows = [
        ("train_classifier (CAM; Puzzle-CAM about 2x)", classifier_train, TRAIN_AUG * EPOCHS["classifier"],
         "classifier_train"),
        ("extract_cams (4 scales + flips)", cam_image, TRAIN_AUG, "cam_extraction"),
        ("train_affinity", affinity_train, TRAIN_AUG * EPOCHS["affinity"], "affinity_train"),
        ("random_walk (AffinityNet forward)", walk_image, TRAIN_AUG, "random_walk_forward"),
        (f"affinity_labels + crf (CPU: {CRFS_PER_IMAGE} CRFs an image)", None, TRAIN_AUG, None),
        ("train_segmentation, both DeepLabs", deeplab_train, 2 * TRAIN_AUG * EPOCHS["deeplab"], "deeplab_train"),
        ("evaluate (7 scales + flips, 2 models)", eval_image, 2 * VAL, "evaluate"),
    ]
    sustained = H100_PEAK_TFLOPS * 1e12 * UTILISATION
    table = []
    for name, per_image, count, key in rows:
        if per_image is None:
            seconds = CRFS_PER_IMAGE * crf * count / CPU_CORES
            table.append({"stage": name, "pflop": None, "one_s": seconds, "eight_s": seconds / 8,
                          "measured_one_s": seconds, "measured_eight_s": seconds / 8})
            continue
        one = per_image * count / sustained
        row = {"stage": name, "pflop": round(per_image * count / 1e15, 1), "one_s": one, "eight_s": one / 8 / SCALING_8}
        if measured:
            measured_one = measured["seconds_per_image"][key] * count
            row.update(measured_one_s=measured_one, measured_eight_s=measured_one / 8 / SCALING_8)
        table.append(row)
    return {"rows": table, "per_image_gflop": {
        "classifier train step at 512": classifier_train / 1e9, "CAM extraction of one VOC image": cam_image / 1e9,
        "DeepLab train step at 512": deeplab_train / 1e9}, "crf_s": crf, "measured": measured}


def _time(seconds: float) -> str:
    if seconds < 1:
        return "< 1 s"
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _measured_over_flops(rows: list[dict]) -> float:
    """The GPU stages' measured time over their time from FLOPs (the CPU stage left out)."""
    gpu = [row for row in rows if row["pflop"] is not None]
    return sum(row["measured_one_s"] for row in gpu) / sum(row["one_s"] for row in gpu)


def render(result: dict) -> str:
    measured = result["measured"]
    lines = [
        f"PASCAL VOC train_aug ({TRAIN_AUG:,} images; val {VAL:,}) with ResNet-50 backbones at crop {CROP}, "
        f"{EPOCHS['classifier']} classifier, {EPOCHS['affinity']} AffinityNet and {EPOCHS['deeplab']} DeepLab epochs. "
        f"FLOPs counted by torch on this project's networks (forward + backward for training); GPU time at an "
        f"assumed {UTILISATION:.0%} of the H100's {H100_PEAK_TFLOPS} bf16 TFLOPS, eight GPUs at "
        f"{SCALING_8:.0%} scaling; the CRF timed on this machine's CPU ({result['crf_s']:.2f} s a VOC image, median of 5), "
        f"spread over {CPU_CORES} cores a machine (eight machines for eight GPUs)."]
    if measured:
        rates = ", ".join(f"{name} {1 / s:,.0f}" for name, s in measured["seconds_per_image"].items())
        lines[0] += (
            f" Measured: the same networks timed on one {measured['device']} (torch {measured['torch']}, bf16 "
            f"autocast, batches of {measured['batch']}: {measured['crop']} px crops for training, VOC-sized images "
            f"for inference), images a second: {rates}; eight GPUs at the same {SCALING_8:.0%} scaling. The GPU "
            f"stages measured take {_measured_over_flops(result['rows']):.1f}x their FLOPs estimate.")
    lines[0] += " An estimate: data loading, start-up and the merge of the parts are left out."
    header = "| stage | PFLOP | one H100 (FLOPs) | eight H100s (FLOPs) |"
    if measured:
        header += " one H100 (measured) | eight H100s (measured) |"
    lines += ["", header, "|---" * header.count(" | ") + "|---|"]
    keys = ("one_s", "eight_s", "measured_one_s", "measured_eight_s") if measured else ("one_s", "eight_s")
    for row in result["rows"]:
        pflop = "CPU" if row["pflop"] is None else f"{row['pflop']:,}"
        lines.append(f"| {row['stage']} | {pflop} | " + " | ".join(_time(row[k]) for k in keys) + " |")
    totals = [_time(sum(row[k] for row in result["rows"])) for k in keys]
    lines.append("| **total** | | " + " | ".join(f"**{t}**" for t in totals) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", action="store_true", help=f"time the networks on a GPU and write {THROUGHPUT}")
    if parser.parse_args().measure:
        THROUGHPUT.parent.mkdir(exist_ok=True)
        THROUGHPUT.write_text(json.dumps(measure(torch.device("cuda", 0)), indent=1) + "\n")
        return 0
    result = estimate(json.loads(THROUGHPUT.read_text()) if THROUGHPUT.is_file() else None)
    print(json.dumps(result, indent=1))
    text = render(result)
    print(text)
    readme = README.read_text()
    start, end = readme.index(MARKERS[0]) + len(MARKERS[0]), readme.index(MARKERS[1])
    README.write_text(readme[:start] + "\n" + text + readme[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
