"""Training methods: Puzzle-CAM, GAIN, GAIN_ext, SSNet-style saliency, and the registry."""
from types import SimpleNamespace

import pytest
import torch

from pipeline.core.config import parse_section
from pipeline.core.errors import PipelineError
from pipeline.io.label_png import read_label_png
from pipeline.methods import METHODS, MethodsParams, build_methods
from pipeline.methods.gain import GainMethod, GainParams, masked_images, soft_mask
from pipeline.methods.gain_ext import extension_loss, pick_mask_images
from pipeline.methods.puzzle import PuzzleMethod, PuzzleParams, stitch, tile
from pipeline.methods.ssnet import aggregate_saliency, class_probabilities
from pipeline.models.classifier import Classifier
from pipeline.training.classifier import TrainClassifierParams


def test_puzzle_tiling_and_stitching_are_exact_inverses():
    images = torch.randn(2, 3, 8, 12)
    tiles = tile(images, 2)
    assert tiles.shape == (8, 3, 4, 6)
    assert torch.equal(tiles[1], images[0, :, :4, 6:])  # row-major: top-right second
    assert torch.equal(stitch(tiles, 2), images)


@pytest.mark.parametrize("full_value, tiles_value, published, one_sided", [
    (1.0, 0.0, 4.0, 0.0),  # the tiles find less than the full image: only the published loss shrinks it
    (0.0, 1.0, 4.0, 4.0),  # the tiles find more: both losses widen the full map
])
def test_puzzle_one_sided_reconstruction_never_asks_the_full_map_to_shrink(full_value, tiles_value, published,
                                                                          one_sided):
    tiles_pass = lambda images: SimpleNamespace(class_maps=torch.full((images.shape[0], 1, 1, 1), tiles_value))  # noqa: E731
    batch = {"image": torch.zeros(1, 3, 4, 4), "labels": torch.ones(1, 1)}
    output = SimpleNamespace(class_maps=torch.full((1, 1, 2, 2), full_value))
    for flag, expected in ((False, published), (True, one_sided)):
        method = PuzzleMethod(PuzzleParams(alpha_max=4.0, one_sided=flag), None, "train", 0)
        assert method.extra_losses(tiles_pass, batch, output, progress=1.0)["puzzle_re"].item() == expected


def test_gain_soft_mask_and_masked_image_follow_the_formula():
    attention = torch.tensor([[[0.0, 0.5], [1.0, 0.25]]])
    mask = soft_mask(attention, sigma=0.5, w=10.0)
    assert torch.allclose(mask, torch.sigmoid(10.0 * (attention - 0.5)))
    images = torch.randn(1, 3, 2, 2)
    assert torch.allclose(masked_images(images, mask), images - mask[:, None] * images)


def test_extension_loss_is_zero_when_attention_equals_the_mask():
    masks = torch.tensor([[[0, 1], [2, 2]], [[255, 255], [255, 255]]])
    labels = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    attention = torch.stack([(masks == 1).float(), (masks == 2).float()], dim=1)
    assert extension_loss(attention, masks, labels) == 0
    # Every pixel wrong on the one masked image of two: a batch mean of (1 + 0) / 2.
    assert extension_loss(1 - attention, masks, labels) == 0.5
    # Images without a usable mask (all 255) contribute nothing.
    assert extension_loss(torch.zeros(2, 2, 2, 2)[1:], masks[1:], labels[1:]) == 0


def test_gain_ext_picks_the_same_images_for_the_same_seed():
    ids = [f"im{i}" for i in range(200)]
    first = pick_mask_images(ids, 0.05, seed=3)
    assert len(first) == 10
    assert first == pick_mask_images(ids, 0.05, seed=3)
    assert first != pick_mask_images(ids, 0.05, seed=4)


def test_ssnet_aggregation_is_the_class_score_weighted_sum():
    scores = torch.tensor([[0.2, 0.8]])
    maps = torch.rand(1, 2, 3, 3)
    assert torch.allclose(aggregate_saliency(scores, maps), 0.2 * maps[0, 0] + 0.8 * maps[0, 1])


def test_ssnet_class_probabilities_keep_the_saliency_below_one():
    maps = torch.tensor([[[[0.0]], [[0.0]], [[0.0]]]])  # three classes, all maps 0: background ties with each
    assert torch.allclose(class_probabilities(maps), torch.full((1, 3, 1, 1), 0.25))
    # Seeded and moderate: a map above ~17 puts the background's exp(-17) below float32's
    # resolution at 1, and the sum rounds to exactly 1.
    maps = 3 * torch.randn(2, 5, 4, 4, generator=torch.Generator().manual_seed(0))
    saliency = aggregate_saliency(torch.ones(2, 5), class_probabilities(maps))
    assert (saliency < 1).all() and (saliency > 0).all()


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(PipelineError) as error:
        parse_section(TrainClassifierParams, {"method": "puzzle+magic"}, "train_classifier")
    assert "train_classifier.method='puzzle+magic'" in str(error.value)
    assert all(name in str(error.value) for name in METHODS)
    with pytest.raises(PipelineError, match="gain and gain_ext"):
        parse_section(TrainClassifierParams, {"method": "gain+gain_ext"}, "train_classifier")


class MeanPerChannel(torch.nn.Module):
    """A stand-in classifier: the logit of class c is the mean of image channel c."""

    def forward(self, images):
        return SimpleNamespace(logits=images.mean(dim=(2, 3)))


@pytest.mark.parametrize("attention_value", [0.0, 1.0])
def test_gain_mining_loss_is_alpha_times_the_mean_score_left_after_erasing(attention_value):
    method = GainMethod(GainParams(alpha=2.0, sigma=0.5, w=10.0), None, "train", 0)
    images = torch.ones(2, 2, 4, 4)
    labels = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # three (image, class) pairs
    attention = torch.full((2, 2, 2, 2), attention_value)
    # Each erased image is 1 - sigmoid(10 (A - 0.5)) everywhere, so every logit is that value.
    left = 1 - torch.sigmoid(torch.tensor(10.0 * (attention_value - 0.5)))
    expected = 2.0 * torch.sigmoid(left)
    loss = method.mining_loss(MeanPerChannel(), {"image": images, "labels": labels}, attention)
    assert torch.allclose(loss, expected)


def test_gain_mines_attention_only_from_its_start_on(tiny_manifest):
    from pipeline.data.datasets import ImageDataset

    methods = build_methods("gain_ext", MethodsParams(), tiny_manifest, "train", 0)
    dataset = ImageDataset(tiny_manifest, "train", methods[0].pixel_targets(), crop_size=64)
    batch = {k: torch.stack([dataset[i][k] for i in range(2)]) for k in dataset[0]}
    model = Classifier("resnet18", tiny_manifest.num_classes)
    start = methods[0].params.start
    before = methods[0].extra_losses(model, batch, model(batch["image"]), progress=start / 2)
    after = methods[0].extra_losses(model, batch, model(batch["image"]), progress=start)
    assert before["gain_am"] == 0 and after["gain_am"] > 0


@pytest.mark.parametrize("spec, terms", [
    ("cam", set()), ("puzzle", {"puzzle_cls", "puzzle_re"}), ("gain", {"gain_am"}),
    ("gain_ext", {"gain_am", "gain_e"}),
    ("ssnet", {"ssnet_s1"}),  # its S once saturated a clamp and had no gradient at all
    ("puzzle+gain", {"puzzle_cls", "puzzle_re", "gain_am"}),
])
def test_every_method_term_is_finite_and_trains_the_backbone(spec, terms, tiny_manifest):
    from pipeline.data.datasets import ImageDataset

    torch.manual_seed(0)
    methods = build_methods(spec, MethodsParams(), tiny_manifest, "train", 0)
    targets = {k: v for m in methods for k, v in m.pixel_targets().items()}
    dataset = ImageDataset(tiny_manifest, "train", targets, crop_size=64)
    batch = {k: torch.stack([dataset[i][k] for i in range(4)]) for k in dataset[0]}
    if spec == "gain_ext":  # give one image of the batch its mask, so L_e has something to fit
        batch["mask"][0] = torch.from_numpy(read_label_png(tiny_manifest.mask_path(dataset.ids[0]))).long()
    model = Classifier("resnet18", tiny_manifest.num_classes)
    output = model(batch["image"])
    found = {}
    for method in methods:
        found.update(method.extra_losses(model, batch, output, progress=0.75))
    assert set(found) == terms
    for name, value in found.items():  # each term on its own moves the backbone's first layer
        assert torch.isfinite(value) and value > 0, name
        (grad,) = torch.autograd.grad(value, model.stem[0].weight, retain_graph=True)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, name
