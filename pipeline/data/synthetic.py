"""The built-in dataset: a small VOC-layout set that shows the two WSSS failure modes.

* Partial activation: every object has a body whose look (shape, colour, texture) is
  shared by all classes, and a small class-specific mark (a patterned patch of at most
  about a quarter of the object). A classifier only needs the mark, so a plain CAM
  covers part of each object.
* Co-occurrence bias: one class (`cooccurrence_class`) sits on water in most of its
  images, while water is rare elsewhere, like boats in PASCAL VOC.

Deterministic by seed; written as JPEGImages, SegmentationClass (palette PNGs),
SaliencyMaps (class-agnostic, softened like a real detector's), ImageSets and classes.txt.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image
from scipy.ndimage import distance_transform_cdt, gaussian_filter
from tqdm import tqdm

from pipeline.core.config import ascending_pair, bounded, choice, listed
from pipeline.io.files import atomic_path
from pipeline.io.label_png import save_label_png

CLASSES = ["stripes", "checks", "dots", "cross", "boat"]

# Class-specific mark colours (RGB); bodies draw from BODY_COLOURS, shared by every class.
MARK_COLOURS = np.array(
    [[225, 25, 25], [25, 205, 45], [245, 225, 20], [215, 40, 215], [250, 250, 250]], dtype=np.float32
)
BODY_COLOURS = np.array(
    [[150, 150, 160], [120, 100, 80], [170, 140, 120], [100, 120, 110], [140, 140, 100], [90, 90, 120]],
    dtype=np.float32,
)
WATER_COLOUR = np.array([40, 90, 170], dtype=np.float32)


@dataclass
class BuiltinParams:
    """Size and difficulty of the generated dataset."""

    seed: int = 0
    num_train: int = bounded(1000, 1)
    num_val: int = bounded(200, 1)
    image_size: int = bounded(128, 32)
    max_objects: int = bounded(3, 1)
    object_size: list[float] = listed([0.4, 0.75], length=2, low=0.05, high=1.0, check=ascending_pair)  # diameter / side
    mark_share: float = bounded(0.3, 0.1, 0.6)  # mark side / object diameter (about 1/8 of the area)
    cooccurrence_class: str = choice("boat", CLASSES)
    cooccurrence_rate: float = bounded(0.8, 0.0, 1.0)  # share of its images on water
    water_rate_others: float = bounded(0.05, 0.0, 1.0)  # share of other images with water
    noise_std: float = bounded(6.0, 0.0)


def _mark_pattern(class_index: int, side: int) -> np.ndarray:
    """A binary class-specific pattern on a side x side patch."""
    y, x = np.mgrid[0:side, 0:side]
    period = max(4, side // 4)
    if class_index == 0:  # horizontal stripes
        return (y // (period // 2)) % 2 == 0
    if class_index == 1:  # checkerboard
        return ((y // (period // 2)) + (x // (period // 2))) % 2 == 0
    if class_index == 2:  # dots on a grid
        cy, cx = (y % period) - period / 2, (x % period) - period / 2
        return cy**2 + cx**2 <= (period / 2.4) ** 2
    if class_index == 3:  # an X
        width = max(1.5, side / 7)
        return (np.abs(y - x) <= width) | (np.abs(y + x - side + 1) <= width)
    # a triangle (a sail)
    return (y >= side * 0.15) & (np.abs(x - side / 2) <= (y - side * 0.15) * 0.6)


def _body_mask(rng: np.random.Generator, size: int, cy: float, cx: float, radius: float) -> np.ndarray:
    """An ellipse, a rounded box or a blob: shapes shared by all classes."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    ry, rx = radius * rng.uniform(0.75, 1.0), radius * rng.uniform(0.75, 1.0)
    dy, dx = (y - cy) / ry, (x - cx) / rx
    kind = rng.integers(3)
    if kind == 0:
        return dy**2 + dx**2 <= 1.0
    if kind == 1:
        return np.abs(dy) ** 4 + np.abs(dx) ** 4 <= 1.0
    angle = np.arctan2(dy, dx)
    wobble = 1.0 + 0.15 * np.sin(3 * angle + rng.uniform(0, 2 * np.pi))
    return np.sqrt(dy**2 + dx**2) <= wobble * 0.9


def _background(rng: np.random.Generator, size: int, water: bool) -> np.ndarray:
    """Cluttered texture: smooth colour noise, random strokes, optional water band."""
    field = gaussian_filter(rng.normal(size=(size, size, 3)), sigma=(size / 10, size / 10, 0))
    field = field / (np.abs(field).max() + 1e-6)
    base = rng.uniform(60, 190, size=3)
    image = base + 50 * field
    y, x = np.mgrid[0:size, 0:size]
    for _ in range(rng.integers(3, 8)):  # thin strokes of random colours
        angle, offset = rng.uniform(0, np.pi), rng.uniform(0, size)
        distance = np.abs(np.cos(angle) * x + np.sin(angle) * y - offset)
        image[distance < rng.uniform(0.6, 1.6)] = rng.uniform(30, 220, size=3)
    if water:
        line = int(size * rng.uniform(0.45, 0.65))
        waves = 0.5 + 0.5 * np.sin(y[line:] * 1.3 + 2 * np.sin(x[line:] / 6.0))
        image[line:] = WATER_COLOUR + 35 * waves[..., None]
    return image


class Sample(NamedTuple):
    image: np.ndarray  # uint8 (H, W, 3)
    mask: np.ndarray  # uint8 label indices (H, W)
    saliency: np.ndarray  # uint8 (H, W)
    water: bool  # whether the co-occurrence context was drawn


def generate_sample(rng: np.random.Generator, params: BuiltinParams) -> Sample:
    """One image with its label mask and saliency map."""
    size, num_classes = params.image_size, len(CLASSES)
    co_class = CLASSES.index(params.cooccurrence_class)
    count = rng.integers(1, params.max_objects + 1)
    classes = rng.choice(num_classes, size=count, replace=count > num_classes)
    rate = params.cooccurrence_rate if co_class in classes else params.water_rate_others
    water = bool(rng.random() < rate)
    image = _background(rng, size, water)
    mask = np.zeros((size, size), dtype=np.uint8)
    marks = np.zeros((size, size), dtype=bool)
    for class_index in classes:
        for _attempt in range(30):
            radius = size * rng.uniform(*params.object_size) / 2
            cy, cx = rng.uniform(radius * 0.8, size - radius * 0.8, size=2)
            body = _body_mask(rng, size, cy, cx, radius)
            # Occlusion is partial: at most a quarter of the body, never an earlier mark,
            # so every labelled class keeps its evidence in the image.
            if (mask[body] > 0).mean() <= 0.25 and not marks[body].any():
                break
        else:
            continue
        colour = BODY_COLOURS[rng.integers(len(BODY_COLOURS))] + rng.normal(0, 12, size=3)
        shade = gaussian_filter(rng.normal(size=(size, size)), sigma=3) * 40
        image[body] = colour + shade[body, None]
        # The mark: a class-coloured pattern on a patch well inside the body.
        side = max(6, int(2 * radius * params.mark_share))
        ys, xs = np.nonzero(distance_transform_cdt(body, metric="chessboard") > side // 2)
        if len(ys):
            pick = rng.integers(len(ys))
            my, mx = ys[pick], xs[pick]
        else:
            my, mx = int(cy), int(cx)
        top, left = max(my - side // 2, 0), max(mx - side // 2, 0)
        pattern = _mark_pattern(class_index, side)[: size - top, : size - left]
        patch = image[top:top + pattern.shape[0], left:left + pattern.shape[1]]
        patch[pattern] = MARK_COLOURS[class_index]
        marks[top:top + pattern.shape[0], left:left + pattern.shape[1]] = True
        mask[body] = class_index + 1
    image = image + rng.normal(0, params.noise_std, size=image.shape)
    saliency = gaussian_filter((mask > 0).astype(np.float32), sigma=2.0)
    saliency = np.clip(saliency + rng.normal(0, 0.05, size=saliency.shape), 0, 1)
    return Sample(np.clip(image, 0, 255).astype(np.uint8), mask, (saliency * 255).astype(np.uint8), water)


def generate_dataset(root: str | Path, params: BuiltinParams) -> None:
    """Write the whole dataset under `root` in VOC layout, atomically."""
    with atomic_path(root) as tmp:
        for folder in ("JPEGImages", "SegmentationClass", "SaliencyMaps", "ImageSets/Segmentation"):
            (tmp / folder).mkdir(parents=True)
        (tmp / "classes.txt").write_text("\n".join(CLASSES) + "\n")
        rng = np.random.default_rng(params.seed)
        splits = {"train": params.num_train, "val": params.num_val}
        for split, count in splits.items():
            ids = [f"{split}_{i:05d}" for i in range(count)]
            for image_id in tqdm(ids, desc=f"generate {split}", unit="img"):
                image, mask, saliency, _ = generate_sample(rng, params)
                Image.fromarray(image).save(tmp / "JPEGImages" / f"{image_id}.jpg", quality=95)
                save_label_png(tmp / "SegmentationClass" / f"{image_id}.png", mask)
                Image.fromarray(saliency).save(tmp / "SaliencyMaps" / f"{image_id}.png")
            (tmp / "ImageSets/Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
