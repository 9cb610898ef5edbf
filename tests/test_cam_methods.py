"""Post-hoc map methods and multi-scale extraction."""
import numpy as np
import pytest
import torch

from pipeline.core.config import parse_section
from pipeline.core.errors import PipelineError
from pipeline.cams.extract import ExtractCamsParams, extract_maps
from pipeline.cams.registry import MAP_METHODS
from pipeline.models.multiscale import multiscale_sum
from pipeline.models.classifier import Classifier
from pipeline.io.maps import MapReader


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


def test_unknown_map_method_lists_the_known_ones():
    with pytest.raises(PipelineError, match="extract_cams.method='scorecam' is not one of: cam, gradcam, gradcampp"):
        parse_section(ExtractCamsParams, {"method": "scorecam"}, "extract_cams")


def test_multiscale_maps_come_back_at_the_image_size(model):
    images = torch.randn(3, 3, 50, 70)
    maps = multiscale_sum(lambda x: MAP_METHODS["cam"](model, x, [1, 2]), images, [1.0, 0.5, 1.5, 2.0], flip=True)
    assert maps.shape == (3, 2, 50, 70)


def test_flip_makes_maps_of_a_symmetric_image_symmetric(model):
    image = torch.randn(1, 3, 32, 16)
    image = torch.cat([image, image.flip(-1)], dim=-1)
    maps = multiscale_sum(lambda x: MAP_METHODS["cam"](model, x, [0]), image, [1.0], flip=True)
    assert torch.allclose(maps, maps.flip(-1), atol=1e-5)


def test_extract_writes_present_classes_max_normalised(model, tiny_manifest, tmp_path):
    model = Classifier("resnet18", num_classes=tiny_manifest.num_classes).eval()
    params = ExtractCamsParams(scales=[1.0, 0.5], batch_size=5)
    count = extract_maps(model, tiny_manifest, "train", params, tmp_path / "cams.h5", torch.device("cpu"))
    assert count == len(tiny_manifest.ids("train"))
    with MapReader(tmp_path / "cams.h5", tiny_manifest.fingerprint) as reader:
        assert reader.attrs["scales"] == [1.0, 0.5] and reader.attrs["method"] == "cam"
        for image_id in reader.ids():
            maps, classes = reader.read(image_id)
            assert classes.tolist() == tiny_manifest.labels("train", image_id)
            assert maps.shape == (len(classes), 64, 64)
            assert np.all(maps <= 1.0 + 1e-3) and np.all(maps >= 0)
