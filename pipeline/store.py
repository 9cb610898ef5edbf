"""Files the stages exchange: atomic writes, palette label PNGs, the HDF5 map store.

Everything is written under a temporary name next to its target and renamed into place
when complete, so an interrupted stage never leaves a half-written file behind.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from pipeline.errors import PipelineError

IGNORE_INDEX = 255


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` on success only.

    Works for files and directories. On any exception the temporary is removed and the
    previous `target` (if any) is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    _remove(target)
    os.replace(tmp, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_json(path: str | Path, data: object) -> None:
    """Write JSON atomically, pretty-printed so diffs of metrics stay readable."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_csv(path: str | Path, rows: list[dict]) -> None:
    """Write a list of flat dicts as CSV (the format `dvc plots` reads)."""
    if not rows:
        raise ValueError("write_csv needs at least one row")
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(_fmt(row[k]) for k in header) for row in rows]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def _fmt(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def voc_palette() -> np.ndarray:
    """The PASCAL VOC colour map (256 x 3, uint8); index 255 (ignore) is white-ish cream."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        c, r, g, b = index, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette[index] = (r, g, b)
    return palette


def save_label_png(path: str | Path, label: np.ndarray) -> None:
    """Save a label map as an indexed PNG with the VOC palette, so viewers show colours."""
    image = Image.fromarray(label.astype(np.uint8), mode="P")
    image.putpalette(voc_palette().ravel().tolist())
    image.save(path)


def read_label_png(path: str | Path) -> np.ndarray:
    """Read a label PNG (palette or greyscale) as its class indices."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L", "I", "I;16"):
                raise PipelineError(
                    f"{path}: label image has mode {image.mode}; expected class indices "
                    "(a palette or greyscale PNG)"
                )
            return np.array(image, dtype=np.uint8)
    except (OSError, SyntaxError) as exc:
        raise PipelineError(f"{path}: cannot read label image ({exc})") from exc


class MapWriter:
    """Writes per-image class maps into one HDF5 file (float16, chunked, compressed).

    Layout: one group per image id holding `maps` (n, H, W), `classes` (n label indices,
    0 = background) and the attribute `size` (H, W); file attributes describe how the maps
    were made (method, scales, the dataset fingerprint). Use as a context manager: the
    file appears under its final name only when the block completes.
    """

    def __init__(self, path: str | Path, attrs: dict):
        self.path = Path(path)
        self.attrs = attrs
        self._ctx = atomic_path(self.path)

    def __enter__(self) -> "MapWriter":
        self._tmp = self._ctx.__enter__()
        self._file = h5py.File(self._tmp, "w")
        for key, value in self.attrs.items():
            self._file.attrs[key] = json.dumps(value)
        return self

    def write(self, image_id: str, maps: np.ndarray, classes: np.ndarray) -> None:
        """Store `maps` (n, H, W) for label indices `classes` (n,) under `image_id`."""
        group = self._file.create_group(image_id)
        chunks = (1, *maps.shape[1:]) if maps.shape[0] else None
        group.create_dataset(
            "maps", data=maps.astype(np.float16), chunks=chunks, compression="gzip",
            compression_opts=4, shuffle=True,
        )
        group.create_dataset("classes", data=np.asarray(classes, dtype=np.int16))
        group.attrs["size"] = maps.shape[1:]

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._file.close()
        return bool(self._ctx.__exit__(exc_type, exc, tb))


class MapReader:
    """Reads a file written by MapWriter; checks it belongs to the expected dataset."""

    def __init__(self, path: str | Path, fingerprint: str | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise PipelineError(f"{self.path}: map file not found; run the stage that writes it")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise PipelineError(f"{self.path}: not a readable HDF5 file ({exc})") from exc
        self.attrs = {k: json.loads(v) for k, v in self._file.attrs.items()}
        found = self.attrs.get("fingerprint")
        if fingerprint is not None and found != fingerprint:
            raise PipelineError(
                f"{self.path}: maps were made for another dataset (fingerprint {found}, "
                f"expected {fingerprint}); rerun the stage that writes it (dvc repro)"
            )

    def ids(self) -> list[str]:
        return sorted(self._file.keys())

    def read(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Return (maps as float32 (n, H, W), label indices (n,)) of one image."""
        if image_id not in self._file:
            raise PipelineError(
                f"{self.path}: no maps for image {image_id}; rerun the stage that writes it"
            )
        group = self._file[image_id]
        return group["maps"][()].astype(np.float32), group["classes"][()].astype(np.int64)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "MapReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
