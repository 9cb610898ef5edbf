"""Shared fixtures: tiny VOC-layout datasets built on the fly."""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.data.synthetic import BuiltinParams, generate_dataset
from pipeline.data.voc import DataParams, index_dataset
from pipeline.io.label_png import save_label_png

REPO = Path(__file__).resolve().parents[1]


def write_voc(root: Path, masks: dict[str, np.ndarray], split_of: dict[str, str], classes: list[str] | None = None) -> Path:
    """A VOC-layout root: a random JPEG per mask, palette PNG masks, split files."""
    (root / "JPEGImages").mkdir(parents=True)
    (root / "SegmentationClass").mkdir()
    (root / "ImageSets/Segmentation").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for image_id, mask in masks.items():
        Image.fromarray(rng.integers(0, 255, (*mask.shape, 3), dtype=np.uint8)).save(root / "JPEGImages" / f"{image_id}.jpg")
        save_label_png(root / "SegmentationClass" / f"{image_id}.png", mask)
    for split in set(split_of.values()):
        ids = [i for i, s in split_of.items() if s == split]
        (root / "ImageSets/Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    if classes is not None:
        (root / "classes.txt").write_text("\n".join(classes) + "\n")
    return root


@pytest.fixture(scope="session")
def tiny_builtin(tmp_path_factory) -> Path:
    """The built-in dataset at a test size."""
    root = tmp_path_factory.mktemp("builtin") / "data"
    generate_dataset(root, BuiltinParams(num_train=12, num_val=4, image_size=64))
    return root


@pytest.fixture(scope="session")
def tiny_manifest(tiny_builtin):
    return index_dataset(DataParams(root=str(tiny_builtin)))


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie has ended: only its parent has not reaped it)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def assert_children_exit_with(process: subprocess.Popen, children: set[int], seconds: float) -> None:
    """SIGKILL `process`, then expect each of `children` to have ended within `seconds`."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in children)
