"""On paper: PASCAL VOC train_aug at the published settings on one and on eight H100s.

    python scripts/estimate_voc.py          # print the table and write it into the README

FLOPs are counted by torch (torch.utils.flop_counter) on this project's own networks at
the published sizes (ResNet-50, crop 512, VOC's mean image 500x375, the published scales),
forward and backward; the GPU seconds follow from an assumed sustained bf16 throughput, the
CRF from one VOC-sized image timed on this machine's CPU. Assumptions are printed beside
the figures; nothing here was run on a GPU.
"""
from __future__ import annotations

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


def flops(model: torch.nn.Module, size: tuple[int, int], train: bool) -> float:
    """FLOPs of one image through `model` at `size`: forward, plus backward when `train`
    (counted on a batch of two, which BatchNorm needs in training, and halved)."""
    model.train(train)
    images = torch.randn(2, 3, *size)
    with FlopCounterMode(display=False) as counter:
        output = model(images)
        if train:
            tensor = output.logits if hasattr(output, "logits") else (output["out"] if isinstance(output, dict) else output)
            tensor.float().sum().backward()
    return counter.get_total_flops() / 2


def crf_seconds() -> float:
    """CPU seconds of the final CRF (10 iterations) on one VOC-sized image with 3 labels."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (*VOC_IMAGE, 3), dtype=np.uint8)
    probabilities = rng.dirichlet(np.ones(3), size=VOC_IMAGE).transpose(2, 0, 1).astype(np.float32)
    start = time.perf_counter()
    crf_probabilities(image, probabilities, DenseCrfParams(bilateral_sxy=80.0, bilateral_srgb=13.0))
    return time.perf_counter() - start


def estimate() -> dict:
    torch.manual_seed(0)
    classifier = Classifier("resnet50", CLASSES, output_stride=16)
    affinity = AffinityNet(classifier, [64, 128, 256, 256], 128)
    deeplab = build_deeplab("resnet50", CLASSES + 1)
    classifier_train = flops(classifier, (CROP, CROP), True)
    cam_image = sum(2 * flops(classifier, scaled_size(VOC_IMAGE, s), False) for s in CAM_SCALES)
    affinity_train = flops(affinity, (CROP, CROP), True)
    walk_image = flops(affinity, VOC_IMAGE, False)
    deeplab_train = flops(deeplab, (CROP, CROP), True)
    eval_image = sum(2 * flops(deeplab, scaled_size(VOC_IMAGE, s), False) for s in EVAL_SCALES)
    crf = crf_seconds()
    rows = [
        ("train_classifier (CAM; Puzzle-CAM about 2x)", classifier_train * TRAIN_AUG * EPOCHS["classifier"], None),
        ("extract_cams (4 scales + flips)", cam_image * TRAIN_AUG, None),
        ("train_affinity", affinity_train * TRAIN_AUG * EPOCHS["affinity"], None),
        ("random_walk (AffinityNet forward)", walk_image * TRAIN_AUG, None),
        ("affinity_labels + crf (CPU: 3 CRFs an image)", None, 3 * crf * TRAIN_AUG),
        ("train_segmentation, both DeepLabs", 2 * deeplab_train * TRAIN_AUG * EPOCHS["deeplab"], None),
        ("evaluate (7 scales + flips, 2 models)", 2 * eval_image * VAL, None),
    ]
    sustained = H100_PEAK_TFLOPS * 1e12 * UTILISATION
    table = []
    for name, total, cpu in rows:
        if total is not None:
            one = total / sustained
            table.append({"stage": name, "pflop": round(total / 1e15, 1), "one_s": one, "eight_s": one / 8 / SCALING_8})
        else:
            table.append({"stage": name, "pflop": None, "one_s": cpu / CPU_CORES, "eight_s": cpu / CPU_CORES / 8})
    return {"rows": table, "per_image_gflop": {
        "classifier train step at 512": classifier_train / 1e9, "CAM extraction of one VOC image": cam_image / 1e9,
        "DeepLab train step at 512": deeplab_train / 1e9}, "crf_s": crf}


def _time(seconds: float) -> str:
    if seconds < 1:
        return "< 1 s"
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def render(result: dict) -> str:
    lines = [
        f"PASCAL VOC train_aug ({TRAIN_AUG:,} images; val {VAL:,}) with ResNet-50 backbones at crop {CROP}, "
        f"{EPOCHS['classifier']} classifier, {EPOCHS['affinity']} AffinityNet and {EPOCHS['deeplab']} DeepLab epochs. "
        f"FLOPs counted by torch on this project's networks (forward + backward for training); GPU time at an "
        f"assumed {UTILISATION:.0%} of the H100's {H100_PEAK_TFLOPS} bf16 TFLOPS, eight GPUs at "
        f"{SCALING_8:.0%} scaling; the CRF timed on this machine's CPU ({result['crf_s']:.2f} s a VOC image), "
        f"spread over {CPU_CORES} cores a machine (eight machines for eight GPUs). An estimate, not a measurement: "
        "data loading, start-up and the merge of the parts are left out.", "",
        "| stage | PFLOP | one H100 | eight H100s |", "|---|---|---|---|"]
    for row in result["rows"]:
        pflop = "CPU" if row["pflop"] is None else f"{row['pflop']:,}"
        lines.append(f"| {row['stage']} | {pflop} | {_time(row['one_s'])} | {_time(row['eight_s'])} |")
    one, eight = sum(r["one_s"] for r in result["rows"]), sum(r["eight_s"] for r in result["rows"])
    lines.append(f"| **total** | | **{_time(one)}** | **{_time(eight)}** |")
    return "\n".join(lines) + "\n"


def main() -> int:
    result = estimate()
    print(json.dumps(result, indent=1))
    text = render(result)
    print(text)
    readme = README.read_text()
    start, end = readme.index(MARKERS[0]) + len(MARKERS[0]), readme.index(MARKERS[1])
    README.write_text(readme[:start] + "\n" + text + readme[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
