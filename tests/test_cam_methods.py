"""Post-hoc map methods (values on a hand-built network), output stride, multi-scale extraction."""
import numpy as np
import pytest
import torch

from pipeline.cams.extract import ExtractCamsParams, extract_maps
from pipeline.cams.gradients import grad_cam, grad_cam_plus_plus, layer_cam
from pipeline.cams.registry import MAP_METHODS
from pipeline.core.config import parse_section
from pipeline.core.errors import PipelineError
from pipeline.core.runtime import RuntimeParams
from pipeline.io.maps import MapReader
from pipeline.models.backbone import build_resnet
from pipeline.models.classifier import Classifier
from pipeline.models.multiscale import multiscale_sum, resize_bilinear


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Classifier("resnet18", num_classes=3).eval()


def test_gradcam_equals_cam_up_to_a_constant(model):
    images = torch.randn(2, 3, 64, 64)
    cam = MAP_METHODS["cam"](model, images, [0, 1, 2])
    gradcam = MAP_METHODS["gradcam"](model, images, [0, 1, 2])
    h, w = cam.shape[2:]
    # GAP + bias-free linear head: d s_c / d f_k = theta_ck / (h w) everywhere.
    assert torch.allclose(gradcam * h * w, cam, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MAP_METHODS))
def test_every_map_method_is_non_negative_with_the_right_shape(model, name):
    maps = MAP_METHODS[name](model, torch.randn(2, 3, 64, 64), [2, 0])
    assert maps.shape == (2, 2, 4, 4)
    assert (maps >= 0).all()


def test_ssnet_readout_is_the_class_probabilities_of_every_class_picked(model):
    images = torch.randn(2, 3, 64, 64)
    cams = model(images).class_maps  # (B, 3, h, w), any sign
    everything = MAP_METHODS["ssnet"](model, images, [0, 1, 2])
    assert torch.all(everything.sum(dim=1) < 1)  # the rest is the background's share
    expected = torch.softmax(torch.cat([torch.zeros_like(cams[:, :1]), cams], dim=1), dim=1)[:, [3, 1]]
    assert torch.allclose(MAP_METHODS["ssnet"](model, images, [2, 0]), expected, atol=1e-6)


def test_unknown_map_method_lists_the_known_ones():
    with pytest.raises(PipelineError, match="extract_cams.method='scorecam' is not one of: cam, gradcam, gradcampp"):
        parse_section(ExtractCamsParams, {"method": "scorecam"}, "extract_cams")


def test_multiscale_maps_come_back_at_the_image_size(model):
    images = torch.randn(3, 3, 50, 70)
    maps = multiscale_sum(lambda x: MAP_METHODS["cam"](model, x, [1, 2]), images, [1.0, 0.5, 1.5, 2.0], flip=True)
    assert maps.shape == (3, 2, 50, 70)


def test_bilinear_resize_gives_the_same_bits_at_any_thread_count():
    # On this shape torch 2.14's CPU F.interpolate rounds about a third of the values
    # differently on one thread and on two; the maps of a run must not depend on that.
    maps = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    threads = torch.get_num_threads()
    try:
        resized = []
        for count in (1, 2):
            torch.set_num_threads(count)
            resized.append(resize_bilinear(maps, (128, 128)))
            assert torch.get_num_threads() == count  # restored
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(resized[0], resized[1])
    torch.testing.assert_close(resized[0], torch.nn.functional.interpolate(maps, size=(128, 128), mode="bilinear"))


def test_flip_makes_maps_of_a_symmetric_image_symmetric(model):
    image = torch.randn(1, 3, 32, 16)
    image = torch.cat([image, image.flip(-1)], dim=-1)
    maps = multiscale_sum(lambda x: MAP_METHODS["cam"](model, x, [0]), image, [1.0], flip=True)
    assert torch.allclose(maps, maps.flip(-1), atol=1e-5)


def test_extract_writes_present_classes_max_normalised(model, tiny_manifest, tmp_path):
    model = Classifier("resnet18", num_classes=tiny_manifest.num_classes).eval()
    params = ExtractCamsParams(scales=[1.0, 0.5], batch_size=5)
    count = extract_maps(model, tiny_manifest, "train", params, tmp_path / "cams.h5", torch.device("cpu"),
                         RuntimeParams())
    assert count == len(tiny_manifest.ids("train"))
    with MapReader(tmp_path / "cams.h5", tiny_manifest.fingerprint) as reader:
        assert reader.attrs["scales"] == [1.0, 0.5] and reader.attrs["method"] == "cam"
        for image_id in reader.ids():
            maps, classes = reader.read(image_id)
            assert classes.tolist() == tiny_manifest.labels("train", image_id)
            assert maps.shape == (len(classes), 64, 64)
            assert np.all(maps <= 1.0 + 1e-3) and np.all(maps >= 0)


def _hand_built_scores():
    """Features f_0 = [[1, 2], [3, 4]], f_1 = 1, a bias-free head theta = (2, -1), GAP score:
    d s / d f_k = theta_k / 4 at every position, i.e. g = (0.5, -0.25)."""
    features = torch.stack([torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.ones(2, 2)])[None].requires_grad_(True)
    head = torch.nn.Conv2d(2, 1, 1, bias=False)
    head.weight.data = torch.tensor([2.0, -1.0]).view(1, 2, 1, 1)
    return head(features).mean(dim=(2, 3)), features


def test_grad_cam_values_on_a_hand_built_network():
    scores, features = _hand_built_scores()
    # ReLU(0.5 f_0 - 0.25 f_1)
    assert torch.allclose(grad_cam(scores, features, [0]), torch.tensor([[[[0.25, 0.75], [1.25, 1.75]]]]))


def test_grad_cam_plus_plus_values_on_a_hand_built_network():
    scores, features = _hand_built_scores()
    # alpha_0 = g^2 / (2 g^2 + sum(f_0) g^3) = 0.25 / (0.5 + 10 * 0.125) = 1/7; w_0 = 4 * alpha_0 * 0.5 = 2/7.
    # Channel 1's gradient is negative, so ReLU(g) gives it weight 0.
    expected = torch.tensor([[1.0, 2.0], [3.0, 4.0]]) * 2 / 7
    assert torch.allclose(grad_cam_plus_plus(scores, features, [0])[0, 0], expected)


def test_layer_cam_values_on_a_hand_built_network():
    scores, features = _hand_built_scores()
    # ReLU(sum_k ReLU(g_k) f_k) = 0.5 f_0
    assert torch.allclose(layer_cam(scores, features, [0])[0, 0], torch.tensor([[0.5, 1.0], [1.5, 2.0]]))


@pytest.mark.parametrize("stride, size, dilated", [(32, 2, {}), (16, 4, {"layer4": 2}), (8, 8, {"layer3": 2, "layer4": 4})])
def test_output_stride_dilates_the_last_stages(stride, size, dilated):
    network = build_resnet("resnet18", pretrained=False, output_stride=stride)
    features = torch.nn.Sequential(*list(network.children())[:-2])(torch.randn(1, 3, 64, 64))
    assert features.shape[2:] == (size, size)
    for name in ("layer3", "layer4"):
        second_block = getattr(network, name)[1]
        assert second_block.conv1.dilation == (dilated.get(name, 1),) * 2
        assert getattr(network, name)[0].conv1.dilation == (1, 1)  # the first block keeps dilation 1


def test_deeplab_refuses_a_backbone_that_loads_only_in_part():
    from pipeline.models.deeplab import build_deeplab, load_backbone_from_classifier

    deeplab = build_deeplab("resnet18", num_labels=3)
    load_backbone_from_classifier(deeplab, Classifier("resnet18", num_classes=2).state_dict())  # full match: fine
    with pytest.raises(PipelineError, match="does not match DeepLab's .*train_segmentation.arch"):
        load_backbone_from_classifier(deeplab, Classifier("resnet34", num_classes=2).state_dict())
    partial = {k: v for k, v in Classifier("resnet18", num_classes=2).state_dict().items() if "stages.3" not in k}
    with pytest.raises(PipelineError, match="tensors missing"):
        load_backbone_from_classifier(deeplab, partial)


@pytest.mark.parametrize("size", [5, 12, 40])
def test_centre_tap_convolution_equals_the_dilated_one(size):
    from pipeline.models.deeplab import CentreTapConv2d

    torch.manual_seed(0)
    plain = torch.nn.Conv2d(8, 4, 3, padding=12, dilation=12)
    fast = CentreTapConv2d(8, 4, 3, padding=12, dilation=12)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(2, 8, size, size)
    assert torch.allclose(fast(x), plain(x), atol=1e-5)


def test_deeplab_state_dict_keys_are_torchvisions():
    from torchvision.models.segmentation.deeplabv3 import DeepLabHead

    from pipeline.models.deeplab import build_deeplab

    keys = set(build_deeplab("resnet18", num_labels=3).classifier.state_dict())
    assert keys == set(DeepLabHead(512, 3).state_dict())
