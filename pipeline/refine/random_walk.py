"""Random walk over learned affinities (Ahn and Kwak, CVPR 2018), local and sparse.

The transition `T = D^-1 A^beta` links each position only to neighbours within
`radius`, stored as a (window, h, w) tensor: memory linear in the pixel count. The
published code builds a dense (hw x hw) matrix and squares it `exp_times` times, which
runs out of memory on large images; squaring a local operator fills it in, so here the
local operator is applied 2^exp_times times instead, which is the same product T^t v.
T is row-stochastic, so every position's class distribution stays a distribution and a
uniform region stays uniform.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from pipeline.core.config import bounded
from pipeline.core.runtime import RuntimeParams
from pipeline.data.datasets import ImageDataset, load_batches, size_batches
from pipeline.data.voc import Manifest
from pipeline.distributed.world import World
from pipeline.io.label_png import save_label_png
from pipeline.io.maps import MapReader, MapWriter
from pipeline.models.affinity import AffinityNet
from pipeline.models.multiscale import resize_bilinear
from pipeline.training.runtime import autocast


@dataclass
class RandomWalkParams:
    """The `random_walk` section."""

    beta: float = bounded(8.0, 0.0)  # affinity exponent
    exp_times: int = bounded(8, 0, 12)  # 2^exp_times walk steps
    radius: int = bounded(5, 1)  # neighbourhood radius at the feature stride
    bg_power: float = bounded(8.0, 0.0)  # background map = (1 - max_c CAM_c)^bg_power
    rescale_to_peak: bool = True  # each walked map (background too) divided by its own peak before the argmax
    batch_size: int = bounded(16, 1)  # images walked together


def window_mask(radius: int) -> torch.Tensor:
    """(2r+1)^2 booleans: which offsets of the square window lie within `radius`."""
    span = torch.arange(-radius, radius + 1)
    dy, dx = torch.meshgrid(span, span, indexing="ij")
    return (dy**2 + dx**2 < radius**2).flatten()


def transition(features: torch.Tensor, radius: int, beta: float) -> torch.Tensor:
    """Row-stochastic local transition (B, (2r+1)^2, h*w) from embeddings (B, C, h, w).

    Entry k of position p is T[p, p + offset_k] = a^beta / sum over p's neighbours,
    a = exp(-mean_c |f_p - f_q|); offsets outside the disk or the image get 0.
    """
    batch, _, height, width = features.shape
    size = 2 * radius + 1
    padded = F.pad(features, (radius,) * 4)
    inside = F.pad(torch.ones(batch, height, width, dtype=features.dtype), (radius,) * 4)
    affinity = torch.zeros(batch, size * size, height, width, dtype=features.dtype)
    for k in window_mask(radius).nonzero()[:, 0].tolist():
        dy, dx = divmod(k, size)
        neighbour = padded[:, :, dy:dy + height, dx:dx + width]
        distance = (features - neighbour).abs().mean(dim=1)
        affinity[:, k] = torch.exp(-beta * distance) * inside[:, dy:dy + height, dx:dx + width]
    affinity = affinity.view(batch, size * size, height * width)
    return affinity / affinity.sum(dim=1, keepdim=True)


def sparse_transition(matrix: torch.Tensor, radius: int, width: int) -> torch.Tensor:
    """The local transition (B, (2r+1)^2, h*w) as one block-diagonal CSR matrix (B*hw, B*hw).

    Only the non-zero entries are stored: at most (2r+1)^2 per position.
    """
    batch, window, pixels = matrix.shape
    size = 2 * radius + 1
    k = np.arange(window)
    shift = (k // size - radius) * width + (k % size - radius)  # column - row for offset k
    by_row = matrix.permute(0, 2, 1).numpy()  # (B, hw, window): rows in order, columns ascending
    keep = by_row > 0
    columns = (np.arange(batch * pixels).reshape(batch, pixels, 1) + shift)[keep]
    crow = np.concatenate([[0], keep.sum(axis=2).reshape(-1).cumsum()])
    with warnings.catch_warnings():  # torch calls its CSR support beta; the product used here is stable
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(columns),
                                       torch.from_numpy(by_row[keep]), size=(batch * pixels,) * 2,
                                       check_invariants=False)


def propagate(maps: torch.Tensor, transition_matrix: torch.Tensor, radius: int, steps: int) -> torch.Tensor:
    """Apply the walk `steps` times, v <- T v, to maps (B, K, h, w), with a sparse T.

    torch's CSR product (MKL's sparse BLAS on x86) runs this several times faster than SciPy's.
    """
    batch, channels, height, width = maps.shape
    sparse = sparse_transition(transition_matrix, radius, width)
    vectors = maps.permute(0, 2, 3, 1).reshape(batch * height * width, channels).float().contiguous()
    for _ in range(steps):
        vectors = sparse @ vectors
    return vectors.reshape(batch, height, width, channels).permute(0, 3, 1, 2).contiguous()


def with_background(maps: np.ndarray, bg_power: float) -> np.ndarray:
    """Prepend the background map (1 - max_c A_c)^bg_power to foreground maps (n, H, W)."""
    peak = maps.max(axis=0) if len(maps) else np.zeros(maps.shape[1:], dtype=maps.dtype)
    return np.concatenate([np.power(1.0 - peak, bg_power)[None], maps])


def rescale_to_peak(maps: np.ndarray) -> np.ndarray:
    """Each map of (n, H, W) divided by its own peak (an all-zero map stays zero).

    The walk averages each map over the pixels an object's affinities hold together, so it
    lowers a map's peak the more, the smaller the object or the leakier its boundary; the
    argmax would then side with the background. Rescaled, every label present in the image
    (the image-level labels say it is) competes from the same height.
    """
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return maps / np.where(peaks > 0, peaks, 1.0)


def random_walk(maps: torch.Tensor, embeddings: torch.Tensor, params: RandomWalkParams) -> torch.Tensor:
    """Walk maps (B, K, h, w) over embeddings (B, C, h, w) at the same stride."""
    matrix = transition(embeddings, params.radius, params.beta)
    return propagate(maps, matrix, params.radius, 2**params.exp_times)


@torch.no_grad()
def write_random_walk(model: AffinityNet, reader: MapReader, manifest: Manifest, split: str, params: RandomWalkParams,
                      out_maps: Path, label_dir: Path, attrs: dict, device: torch.device,
                      runtime: RuntimeParams, world: World | None = None) -> None:
    """Walk every image's CAMs (with a background map) and store maps and labels; on
    several processes, those of this process's share of the batches."""
    model.eval().to(device)
    dataset = ImageDataset(manifest, split)
    batches = (world or World()).shard(size_batches(dataset, params.batch_size))
    label_dir.mkdir(parents=True, exist_ok=True)
    with MapWriter(out_maps, attrs) as writer, \
            tqdm(total=sum(map(len, batches)), desc="random walk", unit="img") as bar:
        for batch in load_batches(dataset, batches):
            ids = [dataset.ids[i] for i in batch["index"].tolist()]
            with autocast(device, runtime):
                embeddings = model(batch["image"].to(device)).float().cpu()
            loaded = [reader.read(i) for i in ids]
            height, width = batch["image"].shape[2:]
            stacked = np.zeros((len(ids), 1 + max(len(c) for _, c in loaded), height, width), dtype=np.float32)
            for row, (maps, classes) in enumerate(loaded):
                stacked[row, : len(classes) + 1] = with_background(maps, params.bg_power)
            small = F.interpolate(torch.from_numpy(stacked), size=embeddings.shape[2:], mode="area")
            walked = random_walk(small, embeddings, params)
            walked = resize_bilinear(walked, (height, width)).numpy()
            for row, (image_id, (_, classes)) in enumerate(zip(ids, loaded)):
                refined = walked[row, : len(classes) + 1]
                if params.rescale_to_peak:
                    refined = rescale_to_peak(refined)
                lookup = np.concatenate([[0], classes]).astype(np.uint8)
                writer.write(image_id, refined, lookup)
                save_label_png(label_dir / f"{image_id}.png", lookup[refined.argmax(axis=0)])
            bar.update(len(ids))
