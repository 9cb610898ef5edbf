"""The HDF5 store of per-image class maps (CAMs, random-walk maps)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.io.files import atomic_path


class MapWriter:
    """Writes per-image class maps into one HDF5 file (float16, chunked, compressed).

    Layout: one group per image id holding `maps` (n, H, W), `classes` (n label indices,
    0 = background) and the attribute `size` (H, W); file attributes describe how the maps
    were made (method, scales, the dataset fingerprint). Use as a context manager: the
    file appears under its final name only when the block completes.

    HDF5's chunk cache is off: every image is written when `write` is called, so a full
    disk is an error there. With the cache on, the failed write surfaces only when HDF5
    closes the file or frees a dataset, where h5py can only print it, and then crashes.
    """

    def __init__(self, path: str | Path, attrs: dict):
        self.path = Path(path)
        self.attrs = attrs
        self._ctx = atomic_path(self.path)

    def __enter__(self) -> "MapWriter":
        self._tmp = self._ctx.__enter__()
        self._file = h5py.File(self._tmp, "w", rdcc_nbytes=0)
        for key, value in self.attrs.items():
            self._file.attrs[key] = json.dumps(value)
        return self

    def write(self, image_id: str, maps: np.ndarray, classes: np.ndarray) -> None:
        """Store `maps` (n, H, W) for label indices `classes` (n,) under `image_id`."""
        try:
            group = self._file.create_group(image_id)
            chunks = (1, *maps.shape[1:]) if maps.shape[0] else None
            group.create_dataset(
                "maps", data=maps.astype(np.float16), chunks=chunks, compression="gzip",
                compression_opts=4, shuffle=True,
            )
            group.create_dataset("classes", data=np.asarray(classes, dtype=np.int16))
            group.attrs["size"] = maps.shape[1:]
        except (OSError, RuntimeError) as exc:
            raise self._write_error(exc) from exc

    def _write_error(self, exc: Exception) -> PipelineError:
        errno = getattr(exc, "errno", None)
        reason = os.strerror(errno) if errno else str(exc).splitlines()[0]
        return PipelineError(f"{self.path}: writing the maps failed ({reason}); free disk space or fix permissions, "
                             "then rerun")

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self._file.close()
        except (OSError, RuntimeError) as close_error:  # HDF5 writes its index when it closes the file
            if exc is None:
                error = self._write_error(close_error)
                self._ctx.__exit__(PipelineError, error, None)  # removes the temporary
                raise error from close_error
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


def merge_map_files(parts: list[Path], target: Path, order: list[str]) -> None:
    """One map file at `target` holding every image of the `parts` (files written by
    MapWriter for disjoint images), in `order`. HDF5 copies the stored chunks as they
    are, so the merged maps are the parts' maps bit for bit."""
    sources = [h5py.File(part, "r") for part in parts]
    try:
        with h5py.File(target, "w", rdcc_nbytes=0) as merged:
            for key, value in sources[0].attrs.items():
                merged.attrs[key] = value
            holder = {image_id: source for source in sources for image_id in source}
            for image_id in order:
                if image_id not in holder:
                    raise PipelineError(f"{target}: no part holds the maps of image {image_id}; rerun the stage")
                holder[image_id].copy(holder[image_id][image_id], merged, name=image_id)
    except (OSError, RuntimeError) as exc:
        raise PipelineError(f"{target}: merging the parts failed ({str(exc).splitlines()[0]}); "
                            "free disk space or fix permissions, then rerun") from exc
    finally:
        for source in sources:
            source.close()
