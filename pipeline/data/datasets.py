"""torch Datasets over a Manifest: images, image-level labels and optional pixel targets."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from pipeline.data.transforms import random_scale_crop_flip, to_tensor
from pipeline.data.voc import Manifest, image_size, read_image

PixelLoader = Callable[[str], np.ndarray]


class ImageDataset(Dataset):
    """Samples of one split: `image`, multi-hot `labels` over foreground classes, `index`.

    `pixel_targets` maps a name to (loader of a per-pixel map for an image id, padding
    value); integer maps (labels) become long tensors, float maps stay float. With
    `crop_size` set, a random scale / flip / crop is applied, seeded per sample from
    `seed` and the epoch so runs repeat exactly. `ids` narrows the split to some of its images.
    """

    def __init__(
        self,
        manifest: Manifest,
        split: str,
        pixel_targets: dict[str, tuple[PixelLoader, float]] | None = None,
        crop_size: int | None = None,
        scale_range: tuple[float, float] = (1.0, 1.0),
        seed: int = 0,
        ids: list[str] | None = None,
    ):
        self.manifest = manifest
        self.split = split
        self.ids = manifest.ids(split) if ids is None else ids
        self.pixel_targets = pixel_targets or {}
        self.crop_size = crop_size
        self.scale_range = tuple(scale_range)
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.ids)

    def label_vector(self, image_id: str) -> torch.Tensor:
        labels = torch.zeros(self.manifest.num_classes)
        for index in self.manifest.labels(self.split, image_id):
            labels[index - 1] = 1.0
        return labels

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image_id = self.ids[index]
        image = to_tensor(read_image(self.manifest.image_path(image_id)))
        targets = {}
        for name, (loader, fill) in self.pixel_targets.items():
            array = loader(image_id)
            dtype = torch.long if array.dtype == np.uint8 else torch.float32
            targets[name] = (torch.from_numpy(np.ascontiguousarray(array)).to(dtype), fill)
        if self.crop_size:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch * 10_007 + index)
            image, cropped = random_scale_crop_flip(image, targets, self.crop_size, self.scale_range, generator)
        else:
            cropped = {name: target for name, (target, _fill) in targets.items()}
        return {"image": image, "labels": self.label_vector(image_id), "index": torch.tensor(index), **cropped}


def size_batches(dataset: ImageDataset, batch_size: int) -> list[list[int]]:
    """Sample indices grouped into batches of consecutive images that share a size.

    Inference runs on whole images; VOC images differ in size, so a batch closes when
    the size changes or it is full. Sizes come from the image headers.
    """
    batches: list[list[int]] = []
    previous = None
    for index, image_id in enumerate(dataset.ids):
        size = image_size(dataset.manifest.image_path(image_id))
        if not batches or len(batches[-1]) == batch_size or size != previous:
            batches.append([])
        batches[-1].append(index)
        previous = size
    return batches


def load_batches(dataset: ImageDataset, batches: list[list[int]]) -> Iterator[dict[str, torch.Tensor]]:
    """Yield the collated samples of each batch of indices.

    Processes that share a split take shares of one `size_batches` plan, so every batch is
    the one a single process computes and their outputs are the single-process outputs.
    """
    for indices in batches:
        samples = [dataset[index] for index in indices]
        yield {key: torch.stack([s[key] for s in samples]) for key in samples[0]}


def same_size_batches(dataset: ImageDataset, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
    """Collated batches of the whole split (see `size_batches`)."""
    return load_batches(dataset, size_batches(dataset, batch_size))
