"""The built-in generator and the VOC-layout loader."""
import hashlib

import numpy as np
import torch

from pipeline.data.datasets import ImageDataset
from pipeline.data.synthetic import CLASSES, BuiltinParams, generate_dataset, generate_sample
from pipeline.data.voc import VOC_CLASSES, DataParams, index_dataset, read_saliency
from pipeline.io.label_png import read_label_png
from tests.conftest import write_voc


def _digest(root):
    digest = hashlib.sha1()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_builtin_dataset_is_deterministic_by_seed(tmp_path):
    params = BuiltinParams(num_train=4, num_val=2, image_size=48)
    generate_dataset(tmp_path / "a", params)
    generate_dataset(tmp_path / "b", params)
    generate_dataset(tmp_path / "c", BuiltinParams(seed=1, num_train=4, num_val=2, image_size=48))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_builtin_dataset_has_voc_layout_and_palette_masks(tiny_builtin):
    assert (tiny_builtin / "classes.txt").read_text().split() == CLASSES
    assert len((tiny_builtin / "ImageSets/Segmentation/train.txt").read_text().split()) == 12
    mask_path = next((tiny_builtin / "SegmentationClass").glob("*.png"))
    from PIL import Image
    with Image.open(mask_path) as image:
        assert image.mode == "P"  # viewers show colours, not a black image
    assert (tiny_builtin / "SaliencyMaps").is_dir() and (tiny_builtin / "ContextMasks").is_dir()


def test_boats_sit_on_water_far_more_often_than_other_classes():
    params = BuiltinParams(image_size=128)
    rng = np.random.default_rng(0)
    water = {True: [], False: []}
    for _ in range(100):
        sample = generate_sample(rng, params)
        water[bool((sample.mask == CLASSES.index("boat") + 1).any())].append(sample.water)
    assert np.mean(water[True]) > 0.6 and np.mean(water[False]) < 0.15


def test_context_is_annotated_on_visible_water_only():
    params = BuiltinParams(image_size=96)
    rng = np.random.default_rng(1)
    boat = CLASSES.index("boat") + 1
    samples = [generate_sample(rng, params) for _ in range(40)]
    assert any(sample.water for sample in samples)
    for sample in samples:
        assert set(np.unique(sample.context)) <= {0, boat}
        assert not ((sample.context > 0) & (sample.mask > 0)).any()  # objects hide the water


def test_body_colour_tells_the_class_apart_only_partly():
    """Bodies carry class evidence, but weaker than the mark: a nearest-mean guess from a
    body's colour beats chance and is often wrong."""
    rng = np.random.default_rng(0)
    colours, classes = [], []
    for _ in range(150):
        sample = generate_sample(rng, BuiltinParams(image_size=64, max_objects=1, max_distractors=0))
        for label in set(np.unique(sample.mask)) - {0}:
            colours.append(np.median(sample.image[sample.mask == label].astype(float), axis=0))
            classes.append(label - 1)
    colours, classes = np.array(colours), np.array(classes)
    means = np.array([colours[classes == k].mean(axis=0) for k in range(len(CLASSES))])
    guess = np.argmin(((colours[:, None] - means[None]) ** 2).sum(-1), axis=1)
    accuracy = (guess == classes).mean()
    assert 1 / len(CLASSES) + 0.1 < accuracy < 0.9


def test_voc_loader_with_custom_classes(tmp_path):
    masks = {
        "a": np.array([[0, 1], [1, 255]], dtype=np.uint8),
        "b": np.array([[2, 2], [0, 0]], dtype=np.uint8),
        "c": np.array([[0, 0], [0, 0]], dtype=np.uint8),  # no foreground: dropped from train
        "v": np.array([[1, 2], [0, 0]], dtype=np.uint8),
    }
    root = write_voc(tmp_path / "voc", masks, {"a": "train", "b": "train", "c": "train", "v": "val"}, ["cat", "tree"])
    manifest = index_dataset(DataParams(root=str(root)))
    assert manifest.classes == ["cat", "tree"]
    assert manifest.splits["train"] == {"a": [1], "b": [2]}
    assert manifest.splits["val"] == {"v": [1, 2]}
    sample = ImageDataset(manifest, "train")[0]
    assert sample["labels"].tolist() == [1.0, 0.0]
    assert sample["image"].shape == (3, 2, 2)


def test_voc_loader_reads_deeplab_style_split_lines_and_aug_masks(tmp_path):
    masks = {"x": np.array([[3, 0]], dtype=np.uint8), "y": np.array([[0, 20]], dtype=np.uint8)}
    root = write_voc(tmp_path / "voc", masks, {"x": "train_aug", "y": "val"})
    (root / "SegmentationClass").rename(root / "SegmentationClassAug")
    (root / "ImageSets/Segmentation/train_aug.txt").write_text("/JPEGImages/x.jpg /SegmentationClassAug/x.png\n")
    manifest = index_dataset(DataParams(root=str(root), train_split="train_aug"))
    assert manifest.classes == VOC_CLASSES
    assert manifest.mask_dir == "SegmentationClassAug"
    assert manifest.splits["train_aug"] == {"x": [3]} and manifest.splits["val"] == {"y": [20]}


def test_labels_file_overrides_masks(tmp_path):
    masks = {"a": np.array([[1, 0]], dtype=np.uint8), "v": np.array([[1, 0]], dtype=np.uint8)}
    root = write_voc(tmp_path / "voc", masks, {"a": "train", "v": "val"}, ["cat", "tree"])
    (tmp_path / "labels.txt").write_text("a cat tree\n")
    manifest = index_dataset(DataParams(root=str(root), labels_file=str(tmp_path / "labels.txt")))
    assert manifest.splits["train"] == {"a": [1, 2]}


def test_training_crops_repeat_for_the_same_seed(tiny_manifest):
    first = ImageDataset(tiny_manifest, "train", crop_size=48, scale_range=(0.5, 1.5), seed=3)[2]
    again = ImageDataset(tiny_manifest, "train", crop_size=48, scale_range=(0.5, 1.5), seed=3)[2]
    other = ImageDataset(tiny_manifest, "train", crop_size=48, scale_range=(0.5, 1.5), seed=4)[2]
    assert first["image"].shape == (3, 48, 48)
    assert np.array_equal(first["image"], again["image"])
    assert not np.array_equal(first["image"], other["image"])


def test_masks_keep_their_classes_through_the_crop(tiny_manifest):
    loader = (lambda i: read_label_png(tiny_manifest.mask_path(i)), 255.0)
    dataset = ImageDataset(tiny_manifest, "train", {"mask": loader}, crop_size=80, scale_range=(0.7, 1.3), seed=0)
    for index in range(3):
        sample = dataset[index]
        present = set(tiny_manifest.labels("train", dataset.ids[index]))
        assert set(np.unique(sample["mask"].numpy())) - {0, 255} <= present  # nearest resize: no new classes
        assert sample["mask"].shape == (80, 80) and sample["mask"].dtype == torch.long


def _photo_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts/make_photo_dataset.py"
    spec = importlib.util.spec_from_file_location("make_photo_dataset", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_photo_dataset_script_writes_a_dataset_the_pipeline_reads(tmp_path):
    script = _photo_script()
    script.make_dataset(tmp_path / "photos", {"train": 6, "val": 2}, size=48, seed=0, saliency_sigma=2.0)
    manifest = index_dataset(DataParams(root=str(tmp_path / "photos")))
    assert manifest.num_classes == 10 and len(manifest.ids("train")) == 6 and len(manifest.ids("val")) == 2
    assert all(manifest.labels("train", i) for i in manifest.ids("train"))
    image_id = manifest.ids("train")[0]
    saliency, objects = read_saliency(manifest.saliency_path(image_id)), read_label_png(manifest.mask_path(image_id)) > 0
    assert saliency[objects].mean() > 0.6 and saliency[~objects].mean() < 0.2  # SSNet's input: the objects
    assert manifest.context_dir is None  # no context annotation unless asked for


def test_photo_dataset_with_context_draws_the_class_on_its_background_and_annotates_it(tmp_path):
    from pipeline.eval.context import read_context

    script = _photo_script()
    cat, grass = list(script.OBJECTS).index("cat"), script.BACKGROUNDS.index("grass")
    script.make_dataset(tmp_path / "photos", {"train": 24, "val": 4}, size=48, seed=0, saliency_sigma=2.0,
                        context=script.Context(cat, grass))
    manifest = index_dataset(DataParams(root=str(tmp_path / "photos")))
    with_cat = 0
    for image_id in manifest.ids("train"):
        mask, context = read_label_png(manifest.mask_path(image_id)), read_context(manifest, image_id, (48, 48))
        assert set(np.unique(context)) <= {0, cat + 1}
        if (mask == cat + 1).any():  # on grass: every uncovered pixel is the cat's context
            with_cat += 1
            assert np.array_equal(context > 0, mask == 0)
        else:  # never on grass
            assert not context.any()
    assert 0 < with_cat < 24


def test_photo_dataset_context_option_names_the_choices_on_a_typo():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts/make_photo_dataset.py"
    result = subprocess.run([sys.executable, str(script), "unused", "--context", "cat:lawn"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "--context cat:lawn" in result.stderr and "grass" in result.stderr
