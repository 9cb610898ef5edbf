"""The built-in dataset: a small VOC-layout set with the properties of photographs that
WSSS methods are about.

* Graded class evidence: every object has a small, highly discriminative part (a
  class-coloured patterned mark, like a dog's head) and a body whose colour, texture
  orientation and shape follow class statistics that overlap between classes (like fur and
  legs: dog-like, but also cat-like). A classifier can be right from the mark alone, so a
  plain CAM covers part of each object; how much of the body it also uses is the
  classifier's choice, not a property of the pixels. Body texture is strongest next to the
  mark and fades away from it.
* Cluttered, varied scenes: four kinds of background (smooth colour fields with strokes,
  foliage-like multi-scale texture, box-like "indoor" scenes, sky over ground) and
  distractor objects with body-like colours and textures but no mark, labelled background.
* Co-occurrence bias: one class (`cooccurrence_class`) sits on water in most of its
  images, while water is rare elsewhere, like boats in PASCAL VOC. The water is annotated
  (ContextMasks/: the class index on its context pixels, 0 elsewhere), so the share of the
  context a stage labels as that class is a metric.

Deterministic by seed; written as JPEGImages, SegmentationClass (palette PNGs),
SaliencyMaps (class-agnostic, softened like a real detector's), ContextMasks, ImageSets
and classes.txt.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image
from scipy.ndimage import distance_transform_cdt, distance_transform_edt, gaussian_filter
from tqdm import tqdm

from pipeline.core.config import ascending_pair, bounded, choice, listed
from pipeline.io.files import atomic_path
from pipeline.io.label_png import save_label_png

CLASSES = ["stripes", "checks", "dots", "cross", "boat"]
CONTEXT_DIR = "ContextMasks"

# Class-specific mark colours (RGB): the highly discriminative part.
MARK_COLOURS = np.array(
    [[225, 25, 25], [25, 205, 45], [245, 225, 20], [215, 40, 215], [250, 250, 250]], dtype=np.float32
)
# Per class: the mean body colour (RGB), the mean texture orientation (degrees) and period
# (pixels), and how likely each body shape is (ellipse, rounded box, blob). Objects draw
# around these with spreads wide enough that neighbouring classes overlap.
BODY_COLOURS = np.array(
    [[160, 115, 95], [110, 145, 105], [150, 150, 105], [125, 110, 155], [155, 155, 165]], dtype=np.float32
)
TEXTURE_ANGLES = np.array([0.0, 36.0, 72.0, 108.0, 144.0])
TEXTURE_PERIODS = np.array([5.0, 6.0, 7.0, 8.0, 9.0])
SHAPE_ODDS = np.array(
    [[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4], [0.1, 0.5, 0.4]]
)
ASPECTS = np.array([1.0, 0.8, 1.0, 0.9, 0.65])  # mean height / width of the body
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
    body_colour_spread: float = bounded(20.0, 0.0)  # sd of a body's colour around its class mean (per channel)
    texture_contrast: float = bounded(18.0, 0.0)  # body texture amplitude next to the mark (grey levels)
    max_distractors: int = bounded(2, 0)  # unlabelled mark-less objects per image, 0 to this many
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


def _body_mask(rng: np.random.Generator, size: int, cy: float, cx: float, radius: float,
               shape_odds: np.ndarray, aspect: float) -> np.ndarray:
    """An ellipse, a rounded box or a blob, drawn with the given odds and mean aspect."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    stretch = aspect * rng.uniform(0.85, 1.15)
    ry, rx = radius * min(stretch, 1.0), radius / max(stretch, 1.0)
    dy, dx = (y - cy) / ry, (x - cx) / rx
    kind = rng.choice(3, p=shape_odds)
    if kind == 0:
        return dy**2 + dx**2 <= 1.0
    if kind == 1:
        return np.abs(dy) ** 4 + np.abs(dx) ** 4 <= 1.0
    angle = np.arctan2(dy, dx)
    wobble = 1.0 + 0.15 * np.sin(3 * angle + rng.uniform(0, 2 * np.pi))
    return np.sqrt(dy**2 + dx**2) <= wobble * 0.9


def _grating(rng: np.random.Generator, size: int, angle_deg: float, period: float) -> np.ndarray:
    """A sinusoidal texture in [-1, 1] at the given orientation and period, random phase."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    theta = np.deg2rad(angle_deg)
    return np.sin(2 * np.pi * (np.cos(theta) * x + np.sin(theta) * y) / period + rng.uniform(0, 2 * np.pi))


def _paint_body(rng: np.random.Generator, image: np.ndarray, body: np.ndarray, colour: np.ndarray,
                texture: np.ndarray, contrast: np.ndarray | float) -> None:
    """Fill `body` with a colour, smooth shading and a texture of the given (per-pixel) contrast."""
    size = image.shape[0]
    shade = gaussian_filter(rng.normal(size=(size, size)), sigma=3) * 30
    strength = contrast[body] if isinstance(contrast, np.ndarray) else contrast
    image[body] = colour + (shade[body] + strength * texture[body])[:, None]


def _background(rng: np.random.Generator, size: int, water: bool) -> tuple[np.ndarray, np.ndarray]:
    """A cluttered scene of one of four kinds, with an optional water band; and the water's pixels."""
    y, x = np.mgrid[0:size, 0:size]
    kind = rng.integers(4)
    if kind == 0:  # smooth colour field with thin strokes
        field = gaussian_filter(rng.normal(size=(size, size, 3)), sigma=(size / 10, size / 10, 0))
        image = rng.uniform(60, 190, size=3) + 50 * field / (np.abs(field).max() + 1e-6)
        for _ in range(rng.integers(3, 8)):
            angle, offset = rng.uniform(0, np.pi), rng.uniform(0, size)
            distance = np.abs(np.cos(angle) * x + np.sin(angle) * y - offset)
            image[distance < rng.uniform(0.6, 1.6)] = rng.uniform(30, 220, size=3)
    elif kind == 1:  # foliage: texture at several scales in greens and browns
        image = np.zeros((size, size, 3))
        for sigma, weight in ((size / 8, 60), (3, 35), (1, 20)):
            field = gaussian_filter(rng.normal(size=(size, size)), sigma)
            image += weight * (field / (np.abs(field).max() + 1e-6))[..., None]
        image += rng.uniform([40, 70, 30], [120, 150, 80])
    elif kind == 2:  # indoor: overlapping flat boxes with edges
        image = np.broadcast_to(rng.uniform(70, 200, size=3), (size, size, 3)).copy()
        for _ in range(rng.integers(4, 10)):
            top, left = rng.integers(0, size, size=2)
            height, width = rng.integers(size // 8, size // 2, size=2)
            image[top:top + height, left:left + width] = rng.uniform(40, 220, size=3)
        image += 10 * gaussian_filter(rng.normal(size=(size, size)), 1)[..., None]
    else:  # sky over ground
        horizon = int(size * rng.uniform(0.3, 0.6))
        sky, ground = rng.uniform([120, 150, 180], [190, 210, 250]), rng.uniform([60, 60, 40], [160, 140, 110])
        image = np.where((y < horizon)[..., None], sky + 25 * (y / size)[..., None], ground)
        image += 25 * gaussian_filter(rng.normal(size=(size, size)), 2)[..., None] * (y >= horizon)[..., None]
    water_pixels = np.zeros((size, size), dtype=bool)
    if water:
        line = int(size * rng.uniform(0.45, 0.65))
        waves = 0.5 + 0.5 * np.sin(y[line:] * 1.3 + 2 * np.sin(x[line:] / 6.0))
        image[line:] = WATER_COLOUR + 35 * waves[..., None]
        water_pixels[line:] = True
    return image.astype(np.float64), water_pixels


def _class_look(rng: np.random.Generator, class_index: int, params: BuiltinParams) -> tuple[np.ndarray, float, float]:
    """A body colour, texture angle and period drawn around the class's means."""
    colour = BODY_COLOURS[class_index] + rng.normal(0, params.body_colour_spread, size=3)
    angle = TEXTURE_ANGLES[class_index] + rng.normal(0, 12.0)
    period = TEXTURE_PERIODS[class_index] * rng.uniform(0.85, 1.15)
    return colour, angle, period


class Sample(NamedTuple):
    image: np.ndarray  # uint8 (H, W, 3)
    mask: np.ndarray  # uint8 label indices (H, W)
    saliency: np.ndarray  # uint8 (H, W)
    context: np.ndarray  # uint8 (H, W): the co-occurrence class index on visible water, else 0

    @property
    def water(self) -> bool:
        """Whether the co-occurrence context was drawn (and is visible)."""
        return bool(self.context.any())


def _place(rng: np.random.Generator, size: int, params: BuiltinParams, class_index: int,
           mask: np.ndarray, marks: np.ndarray) -> tuple[np.ndarray, float] | None:
    """A body for a new object that hides at most a quarter of itself and no earlier mark."""
    for _attempt in range(30):
        radius = size * rng.uniform(*params.object_size) / 2
        cy, cx = rng.uniform(radius * 0.8, size - radius * 0.8, size=2)
        body = _body_mask(rng, size, cy, cx, radius, SHAPE_ODDS[class_index], ASPECTS[class_index])
        if body.any() and (mask[body] > 0).mean() <= 0.25 and not marks[body].any():
            return body, radius
    return None


def generate_sample(rng: np.random.Generator, params: BuiltinParams) -> Sample:
    """One image with its label mask, saliency map and context annotation."""
    size, num_classes = params.image_size, len(CLASSES)
    co_class = CLASSES.index(params.cooccurrence_class)
    count = rng.integers(1, params.max_objects + 1)
    classes = rng.choice(num_classes, size=count, replace=count > num_classes)
    rate = params.cooccurrence_rate if co_class in classes else params.water_rate_others
    water = bool(rng.random() < rate)
    image, water_pixels = _background(rng, size, water)
    occupied = np.zeros((size, size), dtype=np.uint8)
    # Distractors first, so labelled objects may cover them: object-like shapes of any colour,
    # a texture at any orientation and period, weaker than a body's, and no mark.
    for _ in range(rng.integers(0, params.max_distractors + 1)):
        placed = _place(rng, size, params, rng.integers(num_classes), occupied, np.zeros_like(water_pixels))
        if placed is not None:
            body = placed[0] & (occupied == 0)
            texture = _grating(rng, size, rng.uniform(0, 180), rng.uniform(3.0, 12.0))
            _paint_body(rng, image, body, rng.uniform(40, 220, size=3), texture,
                        params.texture_contrast * rng.uniform(0.2, 0.6))
            occupied[body] = 1
    mask = np.zeros((size, size), dtype=np.uint8)
    marks = np.zeros((size, size), dtype=bool)
    for class_index in classes:
        placed = _place(rng, size, params, class_index, mask, marks)
        if placed is None:
            continue
        body, radius = placed
        # The mark: a class-coloured pattern on a patch well inside the body.
        side = max(6, int(2 * radius * params.mark_share))
        ys, xs = np.nonzero(distance_transform_cdt(body, metric="chessboard") > side // 2)
        pick = rng.integers(len(ys)) if len(ys) else None
        my, mx = (ys[pick], xs[pick]) if pick is not None else np.argwhere(body)[0]
        top, left = max(my - side // 2, 0), max(mx - side // 2, 0)
        # Body evidence graded by distance from the mark: full contrast next to it, 40 % far away.
        away = np.ones((size, size), dtype=bool)
        away[my, mx] = False
        fade = 0.4 + 0.6 * np.exp(-distance_transform_edt(away) / radius)
        colour, angle, period = _class_look(rng, class_index, params)
        _paint_body(rng, image, body, colour, _grating(rng, size, angle, period), params.texture_contrast * fade)
        pattern = _mark_pattern(class_index, side)[: size - top, : size - left]
        patch = image[top:top + pattern.shape[0], left:left + pattern.shape[1]]
        patch[pattern] = MARK_COLOURS[class_index]
        marks[top:top + pattern.shape[0], left:left + pattern.shape[1]] = True
        mask[body] = class_index + 1
    image = image + rng.normal(0, params.noise_std, size=image.shape)
    saliency = gaussian_filter((mask > 0).astype(np.float32), sigma=2.0)
    saliency = np.clip(saliency + rng.normal(0, 0.05, size=saliency.shape), 0, 1)
    context = np.where(water_pixels & (mask == 0) & (occupied == 0), co_class + 1, 0).astype(np.uint8)
    return Sample(np.clip(image, 0, 255).astype(np.uint8), mask, (saliency * 255).astype(np.uint8), context)


def generate_dataset(root: str | Path, params: BuiltinParams) -> None:
    """Write the whole dataset under `root` in VOC layout, atomically."""
    with atomic_path(root) as tmp:
        for folder in ("JPEGImages", "SegmentationClass", "SaliencyMaps", CONTEXT_DIR, "ImageSets/Segmentation"):
            (tmp / folder).mkdir(parents=True)
        (tmp / "classes.txt").write_text("\n".join(CLASSES) + "\n")
        rng = np.random.default_rng(params.seed)
        splits = {"train": params.num_train, "val": params.num_val}
        for split, count in splits.items():
            ids = [f"{split}_{i:05d}" for i in range(count)]
            for image_id in tqdm(ids, desc=f"generate {split}", unit="img"):
                image, mask, saliency, context = generate_sample(rng, params)
                Image.fromarray(image).save(tmp / "JPEGImages" / f"{image_id}.jpg", quality=95)
                save_label_png(tmp / "SegmentationClass" / f"{image_id}.png", mask)
                Image.fromarray(saliency).save(tmp / "SaliencyMaps" / f"{image_id}.png")
                save_label_png(tmp / CONTEXT_DIR / f"{image_id}.png", context)
            (tmp / "ImageSets/Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
