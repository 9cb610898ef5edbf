"""Affinity pairs and loss, the local random walk, dense CRF with a worker pool."""
import functools

import numpy as np
import torch

from pipeline.refine.affinity_pairs import affinity_loss, half_offsets, pair_affinities, pair_targets
from pipeline.refine.crf import DenseCrfParams, crf_probabilities
from pipeline.refine.crf_labels import crf_label_map
from pipeline.refine.pool import parallel_map
from pipeline.refine.random_walk import (
    RandomWalkParams,
    random_walk,
    rescale_to_peak,
    sparse_transition,
    transition,
    window_mask,
    with_background,
)


def test_half_offsets_cover_each_neighbour_pair_once():
    offsets = half_offsets(3)
    both = set(offsets) | {(-dy, -dx) for dy, dx in offsets}
    assert len(both) == 2 * len(offsets)
    assert both == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if 0 < dy * dy + dx * dx < 9}


def test_pair_targets_on_a_hand_made_label_map():
    labels = torch.tensor([[[0, 0, 1, 255]]])  # one row: bg bg fg ignore
    bg_pos, fg_pos, negative = pair_targets(labels, [(0, 1)])  # right-hand neighbour
    assert bg_pos[0, 0, 0].tolist() == [True, False, False, False]
    assert fg_pos[0, 0, 0].tolist() == [False, False, False, False]  # fg's neighbour is ignored
    assert negative[0, 0, 0].tolist() == [False, True, False, False]
    labels = torch.tensor([[[2, 2], [0, 2]]])
    bg_pos, fg_pos, negative = pair_targets(labels, [(1, 0)])  # neighbour below
    assert fg_pos[0, 0].tolist() == [[False, True], [False, False]]
    assert negative[0, 0].tolist() == [[True, False], [False, False]]


def test_affinity_loss_is_low_for_matching_affinities_and_high_otherwise():
    labels = torch.tensor([[[0, 0, 1, 1]]])
    offsets = [(0, 1)]
    good = torch.tensor([[[[0.999, 1e-4, 0.999, 0.5]]]])  # same, different, same, (off the map)
    bad = 1 - good
    low, high = affinity_loss(good, labels, offsets), affinity_loss(bad, labels, offsets)
    assert sum(low.values()) < 0.01 < 1.0 < sum(high.values())
    assert set(low) == {"bg_pos", "fg_pos", "neg"}


def test_pair_affinities_are_one_for_equal_embeddings():
    features = torch.ones(1, 4, 5, 5)
    affinities = pair_affinities(features, half_offsets(2))
    assert torch.allclose(affinities[..., :3, 1:4], torch.ones(1, len(half_offsets(2)), 3, 3))


def test_random_walk_keeps_distributions_and_uniform_regions():
    torch.manual_seed(0)
    maps = torch.rand(1, 3, 12, 12)
    maps = maps / maps.sum(dim=1, keepdim=True)
    embeddings = torch.randn(1, 8, 12, 12)
    walked = random_walk(maps, embeddings, RandomWalkParams(exp_times=4, radius=3))
    assert torch.allclose(walked.sum(dim=1), torch.ones(1, 12, 12), atol=1e-5)  # mass per position
    uniform = torch.full((1, 2, 12, 12), 0.25)
    assert torch.allclose(random_walk(uniform, embeddings, RandomWalkParams(exp_times=4, radius=3)), uniform, atol=1e-6)


def test_random_walk_spreads_along_high_affinity_only():
    embeddings = torch.zeros(1, 4, 10, 10)
    embeddings[..., 5:] = 10.0  # two regions, no affinity between them
    maps = torch.zeros(1, 1, 10, 10)
    maps[0, 0, 4, 0] = 1.0
    walked = random_walk(maps, embeddings, RandomWalkParams(exp_times=6, radius=3))
    assert walked[0, 0, :, :5].min() > 0  # spread over its own region
    assert walked[0, 0, :, 5:].max() < 1e-6  # never crossed


def test_random_walk_memory_is_linear_in_pixels():
    # A 2,000 x 2,000 feature map would need a 4e6 x 4e6 dense matrix; the local one has
    # (2r+1)^2 entries per position.
    height = width = 96
    matrix = transition(torch.randn(1, 4, height, width), radius=5, beta=8.0)
    assert matrix.shape == (1, 121, height * width)
    sparse = sparse_transition(matrix, radius=5, width=width)
    assert sparse.shape == (height * width, height * width)
    assert sparse.values().numel() <= 69 * height * width < (height * width) ** 2 / 100
    assert int(window_mask(5).sum()) == 69  # offsets with dy^2 + dx^2 < 25, centre included


def test_background_map():
    maps = np.array([[[0.0, 1.0]], [[0.5, 0.2]]], dtype=np.float32)
    assert np.allclose(with_background(maps, 2.0)[0], [[0.25, 0.0]]) and with_background(maps, 2.0).shape == (3, 1, 2)


def test_rescaled_maps_let_a_class_whose_peak_the_walk_lowered_win_where_it_is_strongest():
    walked = np.array([[[0.6, 0.9]], [[0.3, 0.1]], [[0.0, 0.0]]], dtype=np.float32)  # background, a class, an empty map
    assert (walked.argmax(axis=0) == 0).all()
    rescaled = rescale_to_peak(walked)
    assert rescaled.argmax(axis=0).tolist() == [[1, 0]]
    assert np.allclose(rescaled.max(axis=(1, 2)), [1.0, 1.0, 0.0])


def _crf_item(seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
    maps = rng.random((3, 24, 24)).astype(np.float32)
    return image, maps


def test_crf_sharpens_towards_image_edges():
    image = np.zeros((20, 20, 3), np.uint8)
    image[:, 10:] = 255
    probabilities = np.full((2, 20, 20), 0.5, np.float32)
    probabilities[0, :, :8] = 0.9
    probabilities[1, :, :8] = 0.1
    probabilities[1, :, 12:] = 0.9
    probabilities[0, :, 12:] = 0.1
    refined = crf_probabilities(image, probabilities, DenseCrfParams(iterations=5, bilateral_sxy=20))
    assert (refined.argmax(0)[:, :10] == 0).all() and (refined.argmax(0)[:, 10:] == 1).all()


def test_crf_pool_gives_the_same_labels_as_one_process(tmp_path):
    from PIL import Image

    items = []
    for seed in range(6):
        image, maps = _crf_item(seed)
        Image.fromarray(image).save(tmp_path / f"{seed}.png")
        items.append((tmp_path / f"{seed}.png", maps, np.array([0, 3, 7])))
    worker = functools.partial(crf_label_map, params=DenseCrfParams(iterations=3))
    single = list(parallel_map(worker, items, 1, len(items), "crf"))
    pooled = list(parallel_map(worker, items, 2, len(items), "crf"))
    assert all(np.array_equal(a, b) for a, b in zip(single, pooled))
    assert set(np.unique(np.concatenate(single))) <= {0, 3, 7}


def test_confident_labels_keep_fg_above_and_bg_below_their_thresholds_and_ignore_between():
    from pipeline.refine.affinity_labels import AffinityLabelsParams, confident_labels

    image = np.full((12, 36, 3), 40, np.uint8)
    image[:, :12], image[:, 12:24] = 220, 130  # three regions apart in colour: the CRF keeps each one's label
    maps = np.zeros((1, 12, 36), np.float32)
    maps[0, :, :12], maps[0, :, 12:24], maps[0, :, 24:] = 0.9, 0.15, 0.01  # confident, unsure, background
    labels = confident_labels(image, maps, np.array([4]), AffinityLabelsParams(workers=1))
    assert (labels[:, 2:10] == 4).all()
    assert (labels[:, 14:22] == 255).all()
    assert (labels[:, 26:34] == 0).all()
    assert set(np.unique(labels)) <= {0, 4, 255}


def test_stages_with_a_crf_pool_import_no_torch():
    # Pool workers start with `spawn` and import the stage's module: torch alone costs
    # seconds per worker, which made two workers slower than one.
    import subprocess
    import sys

    for stage in ("stages.crf", "stages.affinity_labels"):
        code = f"import sys, {stage}; sys.exit('torch' in sys.modules)"
        assert subprocess.run([sys.executable, "-c", code]).returncode == 0, f"{stage} imports torch"
