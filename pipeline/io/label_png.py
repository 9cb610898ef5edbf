"""Label maps as palette PNGs (VOC colours), so any viewer shows them instead of black."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.core.errors import PipelineError


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
    """Read a label PNG (palette, 8-bit or 16-bit greyscale) as its class indices (uint8).

    A 16-bit mask is read as the numbers it holds: a value above 255 is an error, never
    wrapped around (258 would otherwise become class 2).
    """
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L", "I", "I;16", "I;16B", "I;16L"):
                raise PipelineError(
                    f"{path}: label image has mode {image.mode}; expected class indices "
                    "(a palette or greyscale PNG, not colours)"
                )
            values = np.array(image)
    except (OSError, SyntaxError) as exc:
        raise PipelineError(f"{path}: cannot read label image ({exc})") from exc
    if values.dtype != np.uint8 and values.size and (values.min() < 0 or values.max() > 255):
        outside = int(values.max()) if values.max() > 255 else int(values.min())
        raise PipelineError(f"{path}: label value {outside} is not a class index (0..254, 255 ignore); fix the mask")
    return values.astype(np.uint8)
