import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_dagan.data import load_dataset, load_image_folder, load_tfds, prepare_dataset
from keras_dagan.data.archive import extracted_folder
from keras_dagan.data.subset import stratified_indices

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
