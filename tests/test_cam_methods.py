"""Post-hoc map methods and multi-scale extraction."""
import numpy as np
import pytest
import torch

from pipeline.errors import PipelineError
from pipeline.maps import MAP_METHODS, get_map_method
from pipeline.maps.extract import ExtractParams, extract_maps, multiscale_maps
from pipeline.models.classifier import Classifier
from pipeline.store import MapReader


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
    with pytest.raises(PipelineError, match="gradcampp"):
        get_map_method("scorecam")


def test_multiscale_maps_come_back_at_the_image_size(model):
    images = torch.randn(3, 3, 50, 70)
    maps = multiscale_maps(model, images, [1, 2], MAP_METHODS["cam"], [1.0, 0.5, 1.5, 2.0], flip=True)
    assert maps.shape == (3, 2, 50, 70)


def test_flip_makes_maps_of_a_symmetric_image_symmetric(model):
    image = torch.randn(1, 3, 32, 16)
    image = torch.cat([image, image.flip(-1)], dim=-1)
    maps = multiscale_maps(model, image, [0], MAP_METHODS["cam"], [1.0], flip=True)
    assert torch.allclose(maps, maps.flip(-1), atol=1e-5)


def test_extract_writes_present_classes_max_normalised(model, tiny_manifest, tmp_path):
    model = Classifier("resnet18", num_classes=tiny_manifest.num_classes).eval()
    params = ExtractParams(scales=[1.0, 0.5], batch_size=5)
    count = extract_maps(model, tiny_manifest, "train", params, tmp_path / "cams.h5", torch.device("cpu"))
    assert count == len(tiny_manifest.ids("train"))
    with MapReader(tmp_path / "cams.h5", tiny_manifest.fingerprint) as reader:
        assert reader.attrs["scales"] == [1.0, 0.5] and reader.attrs["method"] == "cam"
        for image_id in reader.ids():
            maps, classes = reader.read(image_id)
            assert classes.tolist() == tiny_manifest.labels("train", image_id)
            assert maps.shape == (len(classes), 64, 64)
            assert np.all(maps <= 1.0 + 1e-3) and np.all(maps >= 0)
