import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_dagan.data import (
    load_dataset,
    load_image_folder,
    load_tfds,
    prepare_dataset,
    subset_members,
)
from keras_dagan.data.archive import extracted_folder
from keras_dagan.data.subset import (
    original_indices,
    reference_indices,
    stratified_indices,
    subset_positions,
)

QUICKSTART = Path(__file__).resolve().parents[2] / "data" / "cifar10_quickstart.tar.gz"


def test_stratified_subset_keeps_each_class_share_and_is_deterministic():
    labels = np.repeat(np.arange(10), [100, 50] * 5)
    keep = stratified_indices(labels, 0.1)
    assert np.array_equal(keep, stratified_indices(labels, 0.1))
    np.testing.assert_array_equal(np.bincount(labels[keep]), [10, 5] * 5)
    assert not np.array_equal(keep, stratified_indices(labels, 0.1, seed=1))
    assert len(stratified_indices(labels[:3], 0.01)) == 1  # at least one per class
    np.testing.assert_array_equal(stratified_indices(labels, 1.0), np.arange(len(labels)))
    for bad in (0, 1.5, -0.1, "0.1", True):
        with pytest.raises(ValueError, match="fraction must be in"):
            stratified_indices(labels, bad)


def write_class_folders(root, per_class):
    for label, name in enumerate(("a", "b")):
        (root / name).mkdir(parents=True)
        for index in range(per_class[label]):
            image = tf.fill((4, 4, 3), tf.constant(label * 100 + index, tf.uint8))
            tf.io.write_file(str(root / name / f"{index:02d}.png"), tf.io.encode_png(image))


def pixel_values(dataset):
    values = []
    for images, _ in dataset:
        values += np.rint((images.numpy()[:, 0, 0, 0] + 1) * 127.5).astype(int).tolist()
    return sorted(values)


def test_folder_fraction_is_stratified(tmp_path):
    write_class_folders(tmp_path, (20, 10))
    kwargs = dict(batch_size=1, conditional=True, repeat=False, flip=False, fraction=0.5)
    values = pixel_values(load_image_folder(tmp_path, seed=0, **kwargs)[0])
    assert len(values) == 15
    assert sum(v < 100 for v in values) == 10 and sum(v >= 100 for v in values) == 5
    # The subset does not depend on the training seed.
    assert values == pixel_values(load_image_folder(tmp_path, seed=7, **kwargs)[0])


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archives_load_like_folders(tmp_path, kind):
    write_class_folders(tmp_path / "src" / "wrapped", (3, 2))
    archive = tmp_path / f"images.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as out:
            for file in sorted((tmp_path / "src").rglob("*.png")):
                out.write(file, file.relative_to(tmp_path / "src"))
    else:
        with tarfile.open(archive, "w:gz") as out:
            out.add(tmp_path / "src" / "wrapped", arcname="wrapped")
    dataset, class_names = load_dataset(f"folder:{archive}", batch_size=1, conditional=True,
                                        repeat=False, flip=False)
    assert class_names == ["a", "b"]
    assert pixel_values(dataset) == [0, 1, 2, 100, 101]
    # Unpacked once, then reused.
    assert extracted_folder(str(archive)) == extracted_folder(str(archive))


def test_tfds_fraction_is_stratified():
    with tfds.testing.mock_data(num_examples=60):
        labels = np.array([int(e["label"]) for e in tfds.load("cifar10", split="train",
                                                               shuffle_files=False)])
        dataset = load_tfds("cifar10", batch_size=60, conditional=True, fraction=0.5,
                            repeat=False, drop_remainder=False, flip=False, seed=0)
        _, subset_labels = next(iter(dataset))
    expected = np.bincount(labels[stratified_indices(labels, 0.5)], minlength=10)
    np.testing.assert_array_equal(np.bincount(subset_labels.numpy(), minlength=10), expected)


def test_image_size_resizes_before_batching():
    images = tf.data.Dataset.from_tensor_slices(np.full((4, 64, 48, 3), 200, np.uint8))
    batch = next(iter(prepare_dataset(images, 4, image_size=(32, 24), flip=False)))
    assert batch.shape == (4, 32, 24, 3)
    np.testing.assert_allclose(batch.numpy(), 200 / 127.5 - 1, atol=1e-6)


def test_quickstart_data_is_stratified_cifar10():
    dataset, class_names = load_image_folder(QUICKSTART, batch_size=5000, conditional=True,
                                             repeat=False, flip=False)
    images, labels = next(iter(dataset))
    assert class_names == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                           "horse", "ship", "truck"]
    assert images.shape == (5000, 32, 32, 3)
    np.testing.assert_array_equal(np.bincount(labels.numpy()), [500] * 10)
    assert QUICKSTART.stat().st_size < 3e6


def test_reference_indices_are_the_reference_codes_draw():
    # DiffAugment-biggan-cifar/datasets.py, CIFAR10.__init__, with the
    # scripts' --seed 0 and --num_samples 5000 / 10000 of 50,000:
    #     np.random.seed(seed)
    #     train_idx = np.random.choice(len(self.data), num_samples, replace=False)
    for fraction, num_samples in [(0.1, 5000), (0.2, 10000)]:
        np.random.seed(0)
        train_idx = np.random.choice(50_000, num_samples, replace=False)
        np.testing.assert_array_equal(reference_indices(50_000, fraction), train_idx)
    # Not stratified: the classes of CIFAR-like labels get about, not exactly, 10 %.
    labels = np.arange(50_000) % 10
    per_class = np.bincount(labels[reference_indices(50_000, 0.1)])
    assert per_class.sum() == 5000 and len(set(per_class.tolist())) > 1
    # The global generator is left alone.
    np.random.seed(3)
    expected = np.random.rand()
    np.random.seed(3)
    reference_indices(100, 0.5)
    assert np.random.rand() == expected


def test_subset_positions_map_original_indices_to_source_positions():
    count = 40
    original = np.random.default_rng(1).permutation(count)  # a shuffled source
    keep = subset_positions("reference", 0.25, count, original=original)
    assert np.array_equal(keep, np.sort(keep)) and len(keep) == 10
    assert sorted(original[keep].tolist()) == sorted(reference_indices(count, 0.25).tolist())
    np.testing.assert_array_equal(subset_positions("first", 0.25, count), np.arange(10))
    labels = np.arange(count) % 4
    np.testing.assert_array_equal(subset_positions("stratified", 0.5, count, labels=labels),
                                  stratified_indices(labels, 0.5))
    with pytest.raises(ValueError, match="needs each example's index"):
        subset_positions("reference", 0.5, count)
    with pytest.raises(ValueError, match=r"whole split.*split='train'"):
        subset_positions("reference", 0.5, count, original=original + 1)
    with pytest.raises(ValueError, match=r"subset must be one of 'stratified', 'reference', "
                                         r"'first'; got 'random'"):
        subset_positions("random", 0.5, count)
    with pytest.raises(ValueError, match="fraction must be in"):
        subset_positions("first", 0.0, count)


def test_original_indices_come_from_tfds_ids():
    np.testing.assert_array_equal(original_indices([b"train_16399", "test_7"]), [16399, 7])
    with pytest.raises(ValueError, match=r"'train_x'.*original order"):
        original_indices([b"train_x"])


def shuffled_cifar_mock(count, ids=True, first_id=0):
    """A mock tfds split whose examples come in a shuffled order, each
    image tagged with its original index, like tfds's cifar10; `first_id`
    above 0 numbers them like a later slice of a split."""
    order = np.random.default_rng(2).permutation(count)
    images = np.zeros((count, 32, 32, 3), np.uint8)
    images[:, 0, 0, 0] = order
    features = {"image": images, "label": order % 10}
    if ids:
        features["id"] = [f"train_{i + first_id}" for i in order]
    return tfds.testing.mock_data(
        as_dataset_fn=lambda self, *args, **kwargs: tf.data.Dataset.from_tensor_slices(features)
    ), order


def tags(dataset):
    values = []
    for images, _ in dataset:
        values += np.rint((images.numpy()[:, 0, 0, 0] + 1) * 127.5).astype(int).tolist()
    return sorted(values)


def test_tfds_reference_and_first_subsets():
    mock, order = shuffled_cifar_mock(120)
    kwargs = dict(batch_size=120, conditional=True, repeat=False, drop_remainder=False,
                  flip=False, seed=0, fraction=0.25)
    with mock:
        reference = tags(load_tfds("cifar10", subset="reference", **kwargs))
        first = tags(load_tfds("cifar10", subset="first", **kwargs))
        members = subset_members("cifar10", fraction=0.25, subset="reference")
        # Streamed (cache=False, as for evaluation) selects the same.
        assert tags(load_tfds("cifar10", subset="reference", cache=False, **kwargs)) == reference
    assert reference == sorted(reference_indices(120, 0.25).tolist())
    assert first == sorted(order[:30].tolist())
    assert sorted(members) == sorted(f"train_{i}" for i in reference)


def test_tfds_reference_needs_ids_of_a_whole_split():
    mock, _ = shuffled_cifar_mock(20, ids=False)
    with mock, pytest.raises(ValueError, match=r"'id' feature.*features: \['image', 'label'\]"):
        load_tfds("cifar10", fraction=0.5, subset="reference")
    # As from split="train[50%:]": ids 20..39 of 20 examples.
    mock, _ = shuffled_cifar_mock(20, first_id=20)
    with mock, pytest.raises(ValueError, match="whole split"):
        load_tfds("cifar10", fraction=0.5, subset="reference")


def test_tfds_subset_members():
    with tfds.testing.mock_data(num_examples=60):
        dataset = tfds.load("cifar10", split="train", shuffle_files=False)
        ids = [e["id"].numpy().decode() for e in dataset]
        labels = np.array([int(e["label"]) for e in dataset])
        everything = subset_members("cifar10")
        half = subset_members("cifar10", fraction=0.5)
    assert everything == ids
    assert half == [ids[i] for i in stratified_indices(labels, 0.5)]
    assert json.loads(json.dumps(half)) == half


def test_tfds_subset_members_without_ids_are_positions():
    mock, _ = shuffled_cifar_mock(20, ids=False)
    with mock:
        assert subset_members("cifar10", fraction=0.25, subset="first") == [0, 1, 2, 3, 4]
        assert subset_members("cifar10") == list(range(20))


def test_folder_subset_members_are_what_the_loader_keeps(tmp_path):
    write_class_folders(tmp_path, (20, 10))
    members = subset_members(f"folder:{tmp_path}", fraction=0.5)
    assert len(members) == 15 and all(m.endswith(".png") for m in members)
    assert sum(m.startswith("a/") for m in members) == 10
    # The files named hold exactly the pixel values the loader yields.
    values = sorted((0 if m.startswith("a/") else 100) + int(m[2:4]) for m in members)
    dataset, _ = load_image_folder(tmp_path, batch_size=1, conditional=True, repeat=False,
                                   flip=False, fraction=0.5)
    assert pixel_values(dataset) == values
    assert subset_members(f"folder:{tmp_path}") == [f"a/{i:02d}.png" for i in range(20)] + [
        f"b/{i:02d}.png" for i in range(10)]


@pytest.mark.parametrize("subset, reason", [("reference", "original CIFAR order"),
                                            ("first", "whole classes")])
def test_folders_take_only_the_stratified_subset(tmp_path, subset, reason):
    write_class_folders(tmp_path, (4, 4))
    with pytest.raises(ValueError, match=f"subset='{subset}' cannot be used.*{reason}"):
        load_image_folder(tmp_path, fraction=0.5, subset=subset)
    with pytest.raises(ValueError, match="cannot be used with an image folder"):
        subset_members(f"folder:{tmp_path}", subset=subset)
    with pytest.raises(ValueError, match="subset must be one of"):
        load_image_folder(tmp_path, subset="Stratified")
