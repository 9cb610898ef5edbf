"""Any PASCAL VOC-layout dataset: index, validate, and read it.

A root holds JPEGImages/, SegmentationClass/ or SegmentationClassAug/,
ImageSets/Segmentation/<split>.txt and optionally classes.txt. `index_dataset` reads it
once, checks every image and mask, derives the image-level labels, and returns a
`Manifest` the later stages work from. Masks are used for labels and scoring only.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from pipeline.core.config import bounded
from pipeline.core.errors import PipelineError
from pipeline.core.labels import IGNORE_INDEX
from pipeline.io.files import atomic_path, read_json
from pipeline.io.label_png import read_label_png

log = logging.getLogger(__name__)

VOC_CLASSES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
]


@dataclass
class DataParams:
    """The `data` section: where the VOC-layout dataset lives and how to read it."""

    root: str = "data/builtin"
    classes: list[str] | None = None  # None: <root>/classes.txt, else the 20 VOC classes
    train_split: str = "train"
    val_split: str = "val"
    mask_dir: str = "auto"  # auto: SegmentationClassAug if present, else SegmentationClass
    labels_file: str | None = None  # "<id> <class name> ..." lines; default: labels from masks
    saliency_dir: str = "SaliencyMaps"
    context_dir: str = "ContextMasks"  # optional co-occurrence context annotation, scored when present
    max_image_pixels: int = bounded(50_000_000, 1)  # larger images are refused at prepare, not run out of memory


@dataclass
class Manifest:
    """What the stages know about the dataset: classes, split ids and image-level labels.

    Label indices: 0 is background, class `classes[i]` is index i + 1, 255 is ignore.
    """

    root: str
    classes: list[str]
    mask_dir: str
    saliency_dir: str
    splits: dict[str, dict[str, list[int]]]  # split -> {image id: present label indices}
    unmasked: dict[str, list[str]] = field(default_factory=dict)  # split -> ids labelled by data.labels_file only
    context_dir: str | None = None  # co-occurrence context annotation, when the dataset has it

    @property
    def num_classes(self) -> int:
        """Foreground classes (the classifier's outputs)."""
        return len(self.classes)

    @property
    def fingerprint(self) -> str:
        """Identifies classes and image ids; maps made for another dataset are refused."""
        text = json.dumps([self.classes, {s: sorted(v) for s, v in self.splits.items()}])
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def ids(self, split: str) -> list[str]:
        return list(self.splits[split])

    def labels(self, split: str, image_id: str) -> list[int]:
        return self.splits[split][image_id]

    @functools.cached_property
    def _unmasked_ids(self) -> frozenset[str]:
        return frozenset(i for ids in self.unmasked.values() for i in ids)

    def has_mask(self, image_id: str) -> bool:
        """Whether `image_id` has a ground-truth mask (images labelled by data.labels_file may not)."""
        return image_id not in self._unmasked_ids

    def masked_ids(self, split: str) -> list[str]:
        """The ids of `split` that have a ground-truth mask (the ones that can be scored)."""
        return [i for i in self.splits[split] if self.has_mask(i)]

    def image_path(self, image_id: str) -> Path:
        return Path(self.root) / "JPEGImages" / f"{image_id}.jpg"

    def mask_path(self, image_id: str) -> Path:
        return Path(self.root) / self.mask_dir / f"{image_id}.png"

    def saliency_path(self, image_id: str) -> Path:
        return Path(self.root) / self.saliency_dir / f"{image_id}.png"

    def context_path(self, image_id: str) -> Path | None:
        return Path(self.root) / self.context_dir / f"{image_id}.png" if self.context_dir else None

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        remedy = "rerun `dvc repro prepare`"
        fields = read_json(path, remedy)
        try:
            return cls(**fields)
        except TypeError as exc:  # JSON, but not a manifest
            raise PipelineError(f"{path}: not a dataset manifest ({exc}); {remedy}") from exc


# PIL modes that hold 8-bit colour or grey values; 16-bit, 32-bit and float images are refused
# rather than converted, because no conversion is right for all of them ("I;16" data often
# uses 12 bits, and PIL's convert("RGB") clips it to white).
EIGHT_BIT_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")
# EXIF orientations that swap width and height (rotations by 90 or 270 degrees).
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


def _unreadable(path: Path, exc: Exception) -> PipelineError:
    return PipelineError(f"{path}: corrupt or unreadable image ({exc}); replace or remove it")


def _open_image(path: Path, max_pixels: int | None) -> Image.Image:
    """Open an image, refusing what PIL would misread; the caller closes it."""
    limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # the size is checked here, against data.max_image_pixels
        image = Image.open(path)
    except FileNotFoundError as exc:
        raise PipelineError(f"{path}: image not found; check data.root and the split file") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise _unreadable(path, exc) from exc
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    if image.mode not in EIGHT_BIT_MODES:
        image.close()
        raise PipelineError(f"{path}: {image.mode} image (16-bit, 32-bit or float); save it as 8-bit RGB or greyscale")
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        image.close()
        raise PipelineError(
            f"{path}: image is {width}x{height} ({width * height:,} pixels), more than data.max_image_pixels "
            f"({max_pixels:,}); downscale or tile it, or raise data.max_image_pixels"
        )
    return image


def read_image(path: str | Path) -> np.ndarray:
    """An RGB image as uint8 (H, W, 3), turned upright by its EXIF orientation as viewers show it."""
    image = _open_image(Path(path), None)
    try:
        with image:
            return np.array(ImageOps.exif_transpose(image).convert("RGB"))
    except (OSError, SyntaxError) as exc:
        raise _unreadable(path, exc) from exc


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """(H, W) of an open image once its EXIF orientation is applied."""
    width, height = image.size
    if image.getexif().get(ImageOps.ExifTags.Base.Orientation) in TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    return height, width


def image_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image as `read_image` returns it, from its header, without decoding it."""
    with _open_image(Path(path), None) as image:
        return _upright_size(image)


def read_saliency(path: str | Path) -> np.ndarray:
    """A saliency map as float32 in [0, 1] (H, W)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except FileNotFoundError as exc:
        raise PipelineError(
            f"{path}: saliency map not found; set data.saliency_dir to a folder of saliency PNGs"
        ) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise PipelineError(f"{path}: corrupt saliency map ({exc})") from exc


def read_text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file (a byte-order mark and Windows line endings are fine)."""
    try:
        return path.read_bytes().decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise PipelineError(
            f"{path}: byte {exc.object[exc.start]:#04x} at offset {exc.start} is not UTF-8; save the file as UTF-8"
        ) from exc


def _read_classes(root: Path, classes: list[str] | None) -> list[str]:
    if classes is not None:
        if not classes or len(set(classes)) != len(classes):
            raise PipelineError("params.yaml: data.classes must be a non-empty list of unique names")
        return list(classes)
    listed = root / "classes.txt"
    if not listed.is_file():
        return list(VOC_CLASSES)
    names: dict[str, int] = {}
    for number, line in enumerate(read_text_lines(listed), 1):
        name = line.strip()
        if not name or name.lower() in ("background", "_background_"):
            continue
        if name in names:
            raise PipelineError(f"{listed}:{number}: class {name!r} is listed twice (first on line {names[name]}); "
                                "remove the duplicate")
        names[name] = number
    if not names:
        raise PipelineError(f"{listed}: lists no classes; one class name per line, in label-index order")
    return list(names)


def _split_line_id(line: str) -> str:
    """The image id of a split-file line: a plain id (spaces and dots allowed), or the image
    of a DeepLab-style "/JPEGImages/x.jpg /SegmentationClassAug/x.png" line."""
    first = line.split()[0]
    if first.startswith("/") and first.lower().endswith((".jpg", ".jpeg")):
        return Path(first).name.rsplit(".", 1)[0]
    return line


def _split_file(root: Path, split: str) -> Path:
    return root / "ImageSets" / "Segmentation" / f"{split}.txt"


def _read_split(root: Path, split: str) -> dict[str, int]:
    """{image id: line number} of a split file, in file order."""
    path = _split_file(root, split)
    if not path.is_file():
        raise PipelineError(f"{path}: split file not found; check data.train_split / data.val_split")
    ids: dict[str, int] = {}
    for number, line in enumerate(read_text_lines(path), 1):
        if not line.strip():
            continue
        image_id = _split_line_id(line.strip())
        if any(c in image_id for c in ("/", "\\", "\0")) or image_id in (".", ".."):
            raise PipelineError(f"{path}:{number}: {image_id!r} is not an image id; list file names without "
                                "folder or .jpg, one per line")
        if image_id in ids:
            raise PipelineError(f"{path}:{number}: image {image_id!r} is listed twice (first on line "
                                f"{ids[image_id]}); remove the duplicate")
        ids[image_id] = number
    if not ids:
        raise PipelineError(f"{path}: split file lists no images")
    return ids


def _read_labels_file(path: Path, classes: list[str]) -> dict[str, list[int]]:
    if not path.is_file():
        raise PipelineError(f"{path}: labels file not found; fix data.labels_file")
    index = {name: i + 1 for i, name in enumerate(classes)}
    labels = {}
    for number, line in enumerate(read_text_lines(path), 1):
        parts = line.split()
        if not parts:
            continue
        unknown = [p for p in parts[1:] if p not in index]
        if unknown:
            raise PipelineError(f"{path}:{number}: unknown class {unknown[0]!r}; known: {', '.join(classes)}")
        labels[parts[0]] = sorted(index[p] for p in parts[1:])
    return labels


def _check_mask(path: Path, size: tuple[int, int], num_classes: int) -> set[int]:
    """The label values of a mask, after checking it fits its image and the class list."""
    mask = read_label_png(path)
    if mask.shape != size:
        raise PipelineError(
            f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
            f"{size[1]}x{size[0]} (as EXIF orientation shows it); masks must match their images"
        )
    values = {int(v) for v in np.unique(mask)}
    bad = sorted(v for v in values if v != IGNORE_INDEX and v > num_classes)
    if bad:
        raise PipelineError(
            f"{path}: class index {bad[0]} is outside the class list (0..{num_classes}, 255); "
            "fix the mask or data.classes"
        )
    return values


def _missing_mask_error(mask_path: Path) -> PipelineError:
    jpeg = mask_path.with_suffix(".jpg")
    if jpeg.is_file():
        return PipelineError(f"{jpeg}: masks must be PNG (JPEG compression changes class indices at every edge); "
                             "save the class indices losslessly as PNG")
    return PipelineError(f"{mask_path}: mask not found; every val image and every train image without an "
                         "entry in data.labels_file needs one")


def _checked_image_size(path: Path, split_file: str, max_pixels: int) -> tuple[int, int]:
    """(H, W) of an image as `read_image` returns it, after decoding it fully once."""
    if not path.is_file():
        listed_with_extension = path.with_suffix("")
        hint = (" (the split file lists file names: list ids without .jpg)" if listed_with_extension.is_file()
                else "; check data.root and the split file")
        raise PipelineError(f"{path}: image not found, listed in {split_file}{hint}")
    image = _open_image(path, max_pixels)
    try:
        with image:
            image.load()  # decodes fully, so truncated files are caught here
            return _upright_size(image)
    except (OSError, SyntaxError) as exc:
        raise _unreadable(path, exc) from exc


def _no_foreground_error(split_file: Path, values: set[int]) -> PipelineError:
    seen = ", ".join(str(v) for v in sorted(values))
    hint = (" Binary 0/255 masks? Each object's pixels must hold its class index (1..K); 255 marks pixels to ignore."
            if values <= {0, IGNORE_INDEX} else "")
    return PipelineError(f"{split_file}: no image of this split has a foreground class (mask values seen: {seen}); "
                         f"nothing to train on.{hint}")


def check_root(params: DataParams) -> Path:
    """`data.root`, if it is a VOC-layout folder; a one-line error naming `data.root` if not."""
    root = Path(params.root)
    if not (root / "JPEGImages").is_dir():
        problem = "does not exist" if not root.exists() else "has no JPEGImages folder"
        raise PipelineError(f"data.root={params.root!r} {problem}; set data.root to a VOC-layout dataset root")
    return root


def index_dataset(params: DataParams) -> Manifest:
    """Check a VOC-layout root and derive image-level labels; one error per bad file.

    Every image is decoded once, every mask read; train images whose masks hold no
    foreground class are left out (with a warning: they teach a CAM nothing).
    """
    root = check_root(params)
    classes = _read_classes(root, params.classes)
    mask_dir = params.mask_dir
    if mask_dir == "auto":
        mask_dir = "SegmentationClassAug" if (root / "SegmentationClassAug").is_dir() else "SegmentationClass"
    given = _read_labels_file(Path(params.labels_file), classes) if params.labels_file else {}
    context_dir = params.context_dir if (root / params.context_dir).is_dir() else None
    manifest = Manifest(str(root), classes, mask_dir, params.saliency_dir, {}, context_dir=context_dir)
    for split in (params.train_split, params.val_split):
        split_file = _split_file(root, split)
        labels, unmasked, background_only, values = {}, [], [], set()
        for image_id, line in tqdm(_read_split(root, split).items(), desc=f"check {split}", unit="img"):
            size = _checked_image_size(manifest.image_path(image_id), f"{split_file}:{line}", params.max_image_pixels)
            mask_path = manifest.mask_path(image_id)
            if mask_path.is_file():
                mask_values = _check_mask(mask_path, size, len(classes))
                values |= mask_values
                from_mask = sorted(v for v in mask_values if 0 < v != IGNORE_INDEX)
            elif split == params.val_split or image_id not in given:
                raise _missing_mask_error(mask_path)
            else:
                unmasked.append(image_id)
                from_mask = []
            present = given.get(image_id, from_mask)
            if present or split == params.val_split:
                labels[image_id] = present
            else:
                background_only.append(image_id)
        if not labels:
            raise _no_foreground_error(split_file, values)
        if background_only:
            log.warning("%s: %d of %d images have no foreground class and are left out (%s%s)", split_file,
                        len(background_only), len(labels) + len(background_only), ", ".join(background_only[:3]),
                        ", ..." if len(background_only) > 3 else "")
        manifest.splits[split] = labels
        if unmasked and len(unmasked) == len(labels):
            raise PipelineError(f"{split_file}: no image of this split has a mask; every score and the fully "
                                "supervised reference use the masked train images, so give masks to some of them")
        if unmasked:
            manifest.unmasked[split] = unmasked
            log.info("%s: %d images have labels from data.labels_file but no mask; scores use the other %d",
                     split_file, len(unmasked), len(labels) - len(unmasked))
    return manifest
