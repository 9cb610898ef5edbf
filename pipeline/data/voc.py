"""Any PASCAL VOC-layout dataset: index, validate, and read it.

A root holds JPEGImages/, SegmentationClass/ or SegmentationClassAug/,
ImageSets/Segmentation/<split>.txt and optionally classes.txt. `index_dataset` reads it
once, checks every image and mask, derives the image-level labels, and returns a
`Manifest` the later stages work from. Masks are used for labels and scoring only.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from pipeline.core.errors import PipelineError
from pipeline.core.labels import IGNORE_INDEX
from pipeline.io.files import atomic_path
from pipeline.io.label_png import read_label_png

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

    def image_path(self, image_id: str) -> Path:
        return Path(self.root) / "JPEGImages" / f"{image_id}.jpg"

    def mask_path(self, image_id: str) -> Path:
        return Path(self.root) / self.mask_dir / f"{image_id}.png"

    def saliency_path(self, image_id: str) -> Path:
        return Path(self.root) / self.saliency_dir / f"{image_id}.png"

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        path = Path(path)
        if not path.is_file():
            raise PipelineError(f"{path}: dataset manifest not found; run `dvc repro prepare`")
        return cls(**json.loads(path.read_text()))


def read_image(path: str | Path) -> np.ndarray:
    """An RGB image as uint8 (H, W, 3); unreadable files are a one-line error."""
    try:
        with Image.open(path) as image:
            return np.array(image.convert("RGB"))
    except FileNotFoundError as exc:
        raise PipelineError(f"{path}: image not found; check data.root and the split file") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise PipelineError(f"{path}: corrupt or unreadable image ({exc}); replace or remove it") from exc


def image_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image from its header, without decoding it."""
    with Image.open(path) as image:
        return image.size[1], image.size[0]


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


def _read_classes(root: Path, classes: list[str] | None) -> list[str]:
    if classes is not None:
        if not classes or len(set(classes)) != len(classes):
            raise PipelineError("params.yaml: data.classes must be a non-empty list of unique names")
        return list(classes)
    listed = root / "classes.txt"
    if listed.is_file():
        names = [line.strip() for line in listed.read_text().splitlines() if line.strip()]
        return [n for n in names if n.lower() not in ("background", "_background_")]
    return list(VOC_CLASSES)


def _read_split(root: Path, split: str) -> list[str]:
    path = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not path.is_file():
        raise PipelineError(f"{path}: split file not found; check data.train_split / data.val_split")
    ids = []
    for line in path.read_text().splitlines():
        if line.strip():
            # Plain ids, or DeepLab-style "/JPEGImages/x.jpg /SegmentationClassAug/x.png".
            ids.append(Path(line.split()[0]).stem)
    if not ids:
        raise PipelineError(f"{path}: split file lists no images")
    return ids


def _read_labels_file(path: Path, classes: list[str]) -> dict[str, list[int]]:
    if not path.is_file():
        raise PipelineError(f"{path}: labels file not found; fix data.labels_file")
    index = {name: i + 1 for i, name in enumerate(classes)}
    labels = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        unknown = [p for p in parts[1:] if p not in index]
        if unknown:
            raise PipelineError(f"{path}:{number}: unknown class {unknown[0]!r}; known: {', '.join(classes)}")
        labels[parts[0]] = sorted(index[p] for p in parts[1:])
    return labels


def _check_mask(path: Path, size: tuple[int, int], num_classes: int) -> list[int]:
    mask = read_label_png(path)
    if mask.shape != size:
        raise PipelineError(
            f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
            f"{size[1]}x{size[0]}; masks must match their images"
        )
    values = np.unique(mask)
    bad = [int(v) for v in values if v != IGNORE_INDEX and v > num_classes]
    if bad:
        raise PipelineError(
            f"{path}: class index {bad[0]} is outside the class list (0..{num_classes}, 255); "
            "fix the mask or data.classes"
        )
    return [int(v) for v in values if 0 < v <= num_classes]


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            image.load()  # decodes fully, so truncated files are caught here
            return image.size[1], image.size[0]
    except FileNotFoundError as exc:
        raise PipelineError(f"{path}: image not found; check data.root and the split file") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise PipelineError(f"{path}: corrupt or unreadable image ({exc}); replace or remove it") from exc


def index_dataset(params: DataParams) -> Manifest:
    """Check a VOC-layout root and derive image-level labels; one error per bad file."""
    root = Path(params.root)
    if not (root / "JPEGImages").is_dir():
        raise PipelineError(
            f"{root}: no JPEGImages folder; set data.root to a VOC-layout dataset root"
        )
    classes = _read_classes(root, params.classes)
    mask_dir = params.mask_dir
    if mask_dir == "auto":
        mask_dir = "SegmentationClassAug" if (root / "SegmentationClassAug").is_dir() else "SegmentationClass"
    given = _read_labels_file(Path(params.labels_file), classes) if params.labels_file else {}
    manifest = Manifest(str(root), classes, mask_dir, params.saliency_dir, {})
    for split in (params.train_split, params.val_split):
        labels = {}
        for image_id in tqdm(_read_split(root, split), desc=f"check {split}", unit="img"):
            size = _image_size(manifest.image_path(image_id))
            mask_path = manifest.mask_path(image_id)
            if mask_path.is_file():
                from_mask = _check_mask(mask_path, size, len(classes))
            elif split == params.val_split or image_id not in given:
                raise PipelineError(
                    f"{mask_path}: mask not found; every val image and every train image "
                    "without an entry in data.labels_file needs one"
                )
            present = given.get(image_id, from_mask if mask_path.is_file() else [])
            # Training images without any foreground class teach a CAM nothing: skip them.
            if present or split == params.val_split:
                labels[image_id] = present
        manifest.splits[split] = labels
    return manifest
