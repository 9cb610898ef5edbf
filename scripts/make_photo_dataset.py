"""A second VOC-layout dataset, made from the real photographs that ship with scikit-image,
to check that the defaults were not tuned to the built-in data alone (issue #10).

    python scripts/make_photo_dataset.py data/photos [--train 800 --val 200 --size 128 --seed 0]
    dvc exp run -S data.root=data/photos        # or: scripts/results_table.py photos

Ten object classes, each cut from one photograph (a cat, an astronaut, a coffee cup, a
rocket, a motorcycle, a retina, a galaxy field, stained tissue, coins, and 200 different
faces), pasted as blobs onto tinted crops of nine grey texture photographs (brick, grass,
gravel, the moon, a page, ...). Every object is a random crop, flip, scale and brightness of
its photograph, so no two look alike. It is a composite: the pixels are photographs, the
scenes are not. No image is downloaded; scikit-image carries these files.

SaliencyMaps/ (for `method: ssnet`) holds each mask's objects, blurred: like the built-in
set's, a stand-in for a perfect salient-object model, so SSNet's figures on it are an upper
bound. They are drawn without the random generator, so the images and masks of a seed stay
the ones a dataset made without them had.

--context CLASS:BACKGROUND (e.g. cat:grass) adds co-occurrence, as the built-in set's boats on
water with `builtin.cooccurrence_rate=1.0, water_rate_others=0.0`: every image holding CLASS
is drawn on BACKGROUND and no other image is, so the background alone predicts the class.
ContextMasks/ then annotates that background (CLASS's index where no object covers it), and
the pipeline scores the share of it labelled CLASS (`context_fp`), GAIN_ext's target. Without
the option the dataset is byte for byte the one it was before the option existed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import skimage.data
from PIL import Image
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipeline.data.synthetic import CONTEXT_DIR  # noqa: E402
from pipeline.io.files import atomic_path  # noqa: E402
from pipeline.io.label_png import save_label_png  # noqa: E402

OBJECTS = {  # class name -> the scikit-image photograph(s) it is cut from
    "astronaut": skimage.data.astronaut, "cat": skimage.data.chelsea, "coffee": skimage.data.coffee,
    "rocket": skimage.data.rocket, "retina": skimage.data.retina, "galaxy": skimage.data.hubble_deep_field,
    "tissue": skimage.data.immunohistochemistry, "coins": skimage.data.coins,
    "motorcycle": lambda: np.asarray(Image.open(Path(skimage.data.__file__).parent / "motorcycle_left.png")),
    "face": skimage.data.lfw_subset,
}
BACKGROUNDS = ("brick", "grass", "gravel", "moon", "page", "camera", "cell", "clock", "text")


def _uint8(photo: np.ndarray) -> np.ndarray:
    photo = np.asarray(photo)
    return (photo * 255).astype(np.uint8) if photo.dtype.kind == "f" else photo.astype(np.uint8)


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image[..., :3]


def _crop(rng: np.random.Generator, photo: np.ndarray, size: int, share: tuple[float, float]) -> np.ndarray:
    """A random square crop of `photo` (a share of its shorter side), flipped at random, resized to `size`."""
    side = int(min(photo.shape[:2]) * rng.uniform(*share))
    top = rng.integers(0, photo.shape[0] - side + 1)
    left = rng.integers(0, photo.shape[1] - side + 1)
    crop = photo[top:top + side, left:left + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.BILINEAR), dtype=np.float64)


def _blob(rng: np.random.Generator, size: int, cy: float, cx: float, radius: float) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    ry, rx = radius * rng.uniform(0.7, 1.0, size=2)
    angle = np.arctan2((y - cy) / ry, (x - cx) / rx)
    wobble = 1.0 + 0.12 * np.sin(rng.integers(2, 5) * angle + rng.uniform(0, 2 * np.pi))
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= wobble**2


class Context(NamedTuple):
    """Co-occurrence: every image holding class `class_index` (0-based, as in classes.txt) is drawn
    on background `background` (an index of BACKGROUNDS), and no other image is."""

    class_index: int
    background: int

    def background_for(self, rng: np.random.Generator, classes: np.ndarray, drawn: int, count: int) -> int:
        """The background of an image holding `classes` whose background was drawn as `drawn`
        (of `count`): the context's where the class is present, any other where it is not."""
        if self.class_index in classes:
            return self.background
        if drawn != self.background:
            return drawn
        other = int(rng.integers(count - 1))
        return other + (other >= self.background)

    def annotate(self, mask: np.ndarray, background: int) -> np.ndarray:
        """The context mask: the class's label index on the context background's visible pixels, 0 elsewhere."""
        visible = (mask == 0) & (background == self.background)
        return np.where(visible, self.class_index + 1, 0).astype(np.uint8)


def _background(rng: np.random.Generator, texture: np.ndarray, size: int) -> np.ndarray:
    """A random crop of a grey texture photograph, tinted."""
    crop = _crop(rng, _rgb(texture), size, (0.3, 1.0))
    return crop * rng.uniform(0.5, 1.1, size=3) + rng.uniform(-20, 40, size=3)


def make_sample(rng: np.random.Generator, objects: dict, backgrounds: list, size: int,
                context: Context | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One composite image, its mask (label indices, 0 background) and, with `context`, its context mask."""
    background = int(rng.integers(len(backgrounds)))
    image = _background(rng, backgrounds[background], size)
    mask = np.zeros((size, size), np.uint8)
    names = list(objects)
    classes = rng.choice(len(names), size=rng.integers(1, 4), replace=False)
    if context is not None:
        wanted = context.background_for(rng, classes, background, len(backgrounds))
        if wanted != background:
            background, image = wanted, _background(rng, backgrounds[wanted], size)
    for class_index in classes:
        for _attempt in range(30):
            radius = size * rng.uniform(0.35, 0.7) / 2
            cy, cx = rng.uniform(radius * 0.8, size - radius * 0.8, size=2)
            body = _blob(rng, size, cy, cx, radius)
            if (mask[body] > 0).mean() <= 0.25:
                break
        else:
            continue
        photos = objects[names[class_index]]
        photo = photos[rng.integers(len(photos))] if photos.ndim == 3 and photos.shape[-1] != 3 else photos
        patch = _crop(rng, _rgb(photo), size, (0.25, 0.7) if photo.shape[0] > 100 else (0.8, 1.0))
        patch = patch * rng.uniform(0.8, 1.2) + rng.uniform(-15, 15)
        soft = gaussian_filter(body.astype(np.float64), 0.7)[..., None]  # anti-aliased edge, as a photo has
        image = soft * patch + (1 - soft) * image
        mask[body] = class_index + 1
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    return image, mask, None if context is None else context.annotate(mask, background)


def saliency_map(mask: np.ndarray, sigma: float) -> np.ndarray:
    """The union of the objects of `mask`, blurred by `sigma` px, as uint8 in [0, 255]."""
    return np.round(gaussian_filter((mask > 0).astype(np.float64), sigma) * 255).astype(np.uint8)


def make_dataset(root: Path, counts: dict[str, int], size: int, seed: int, saliency_sigma: float,
                 context: Context | None = None) -> None:
    objects = {name: _uint8(load()) for name, load in OBJECTS.items()}
    backgrounds = [np.asarray(getattr(skimage.data, name)(), dtype=np.uint8) for name in BACKGROUNDS]
    rng = np.random.default_rng(seed)
    with atomic_path(root) as tmp:
        folders = ("JPEGImages", "SegmentationClass", "SaliencyMaps", "ImageSets/Segmentation")
        for folder in folders + ((CONTEXT_DIR,) if context is not None else ()):
            (tmp / folder).mkdir(parents=True)
        (tmp / "classes.txt").write_text("\n".join(OBJECTS) + "\n")
        for split, count in counts.items():
            ids = [f"{split}_{i:05d}" for i in range(count)]
            for image_id in tqdm(ids, desc=f"photos {split}", unit="img"):
                image, mask, context_mask = make_sample(rng, objects, backgrounds, size, context)
                Image.fromarray(image).save(tmp / "JPEGImages" / f"{image_id}.jpg", quality=92)
                save_label_png(tmp / "SegmentationClass" / f"{image_id}.png", mask)
                Image.fromarray(saliency_map(mask, saliency_sigma)).save(tmp / "SaliencyMaps" / f"{image_id}.png")
                if context_mask is not None:
                    save_label_png(tmp / CONTEXT_DIR / f"{image_id}.png", context_mask)
            (tmp / "ImageSets/Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")


def parse_context(parser: argparse.ArgumentParser, value: str | None) -> Context | None:
    """--context's CLASS:BACKGROUND as a Context; a usage error naming the choices for anything else."""
    if value is None:
        return None
    name, _, background = value.partition(":")
    if name not in OBJECTS or background not in BACKGROUNDS:
        parser.error(f"--context {value}: expected CLASS:BACKGROUND with CLASS one of {', '.join(OBJECTS)} "
                     f"and BACKGROUND one of {', '.join(BACKGROUNDS)} (e.g. --context cat:grass)")
    return Context(list(OBJECTS).index(name), BACKGROUNDS.index(background))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--val", type=int, default=200)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--saliency-sigma", type=float, default=2.0, help="blur of the saliency maps, px (as built-in)")
    parser.add_argument("--context", metavar="CLASS:BACKGROUND",
                        help=f"draw every image of CLASS on BACKGROUND, no other image on it, and annotate it "
                             f"(classes: {', '.join(OBJECTS)}; backgrounds: {', '.join(BACKGROUNDS)})")
    args = parser.parse_args()
    make_dataset(args.root, {"train": args.train, "val": args.val}, args.size, args.seed, args.saliency_sigma,
                 parse_context(parser, args.context))
    print(f"wrote {args.root}: point data.root at it (dvc exp run -S data.root={args.root})")


if __name__ == "__main__":
    main()
