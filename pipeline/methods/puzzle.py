"""Puzzle-CAM (Jo and Yu, ICIP 2021): the maps of 2x2 tiles, stitched, must match the full map."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pipeline.core.config import bounded
from pipeline.methods.base import TrainingMethod


@dataclass
class PuzzleParams:
    alpha_max: float = bounded(4.0, 0.0)  # weight of L_re, reached at half of training
    tiles: int = bounded(2, 2)  # tiles per side
    one_sided: bool = True  # L_re only where the stitched map exceeds the full one; False: published |A_s - A_re|


def tile(images: torch.Tensor, tiles: int) -> torch.Tensor:
    """(B, C, H, W) -> (B * tiles^2, C, H / tiles, W / tiles), row-major tiles per image."""
    batch, channels, height, width = images.shape
    th, tw = height // tiles, width // tiles
    images = images[..., : th * tiles, : tw * tiles]
    grid = images.reshape(batch, channels, tiles, th, tiles, tw).permute(0, 2, 4, 1, 3, 5)
    return grid.reshape(batch * tiles * tiles, channels, th, tw)


def stitch(pieces: torch.Tensor, tiles: int) -> torch.Tensor:
    """The inverse of `tile`: (B * tiles^2, C, h, w) -> (B, C, h * tiles, w * tiles)."""
    count, channels, height, width = pieces.shape
    grid = pieces.reshape(count // (tiles * tiles), tiles, tiles, channels, height, width)
    return grid.permute(0, 3, 1, 4, 2, 5).reshape(-1, channels, height * tiles, width * tiles)


class PuzzleMethod(TrainingMethod):
    """`L_p-cls` on the stitched map's GAP and `alpha * L_re` (L1, present classes).

    The published `L_re` pulls the two maps towards each other both ways. Where a tile shows
    a part of an object whose class evidence lies elsewhere (the built-in data's dots and
    boat bodies, `scripts/tile_evidence.py`), the tiles' map is low, and agreeing means
    shrinking the full map. `one_sided` counts only the parts where the tiles find more than
    the full image: the tiles can widen the full map, never shrink it (README)."""

    Params = PuzzleParams

    def extra_losses(self, model, batch, output, progress):
        tiles = self.params.tiles
        stitched = stitch(model(tile(batch["image"], tiles)).class_maps, tiles)
        full = output.class_maps[..., : stitched.shape[2], : stitched.shape[3]]
        labels = batch["labels"]
        alpha = self.params.alpha_max * min(1.0, progress / 0.5)
        gap = (stitched - full).clamp(min=0) if self.params.one_sided else torch.abs(full - stitched)
        reconstruction = (gap * labels[:, :, None, None]).mean()
        return {
            "puzzle_cls": F.multilabel_soft_margin_loss(stitched.mean(dim=(2, 3)), labels),
            "puzzle_re": alpha * reconstruction,
        }
