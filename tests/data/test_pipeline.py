"""Tests for the tf.data input pipelines."""

import tarfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_dagan.data import load_image_folder, load_tfds, prepare_dataset

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CIFAR_ARCHIVE = SHARED_DATA / "cifar10-jpeg.tar.gz"


def first(dataset):
    return next(iter(dataset))


def ramp_images(count, size=8):
    """uint8 images whose columns rise left to right, so a flip shows."""
    row = np.linspace(0, 255, size).astype(np.uint8)
    images = np.broadcast_to(row[None, None, :, None], (count, size, size, 3))
    return images.copy()


# tfds ------------------------------------------------------------------


def test_load_tfds_conditional_batches(monkeypatch):
    calls = []
    real_load = tfds.load

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(tfds, "load", spy)
    with tfds.testing.mock_data(num_examples=32):
        ds = load_tfds("cifar10", batch_size=8, conditional=True)
        images, labels = first(ds)
        plain = first(load_tfds("cifar10", batch_size=8, seed=0))
        first(load_tfds("cifar10", batch_size=8, seed=0, cache=False))

    assert calls[0][0] == ("cifar10",)
    assert calls[0][1]["split"] == "train"
    # Held in memory, the examples must come in one fixed order for a run
    # to resume; only a streamed whole split gains from shuffled files.
    assert calls[0][1]["shuffle_files"] is False
    assert calls[2][1]["shuffle_files"] is True
    assert images.shape == (8, 32, 32, 3)
    assert images.dtype == tf.float32
    low, high = float(tf.reduce_min(images)), float(tf.reduce_max(images))
    assert -1.0 <= low and high <= 1.0
    # mock_data draws uniform uint8 pixels, so the full range must be used.
    assert low < -0.9 and high > 0.9
    assert labels.shape == (8,) and labels.dtype == tf.int32
    assert all(0 <= int(label) < 10 for label in labels)
    assert isinstance(plain, tf.Tensor)
    assert plain.shape == (8, 32, 32, 3) and plain.dtype == tf.float32


def test_load_tfds_unknown_name():
    with pytest.raises(ValueError, match=r"no_such_dataset_xyz.*list_builders"):
        load_tfds("no_such_dataset_xyz")


def test_load_tfds_download_failure_explains_fix(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(RuntimeError) as info:
        load_tfds("mnist", data_dir=str(tmp_path))
    message = str(info.value)
    assert "'mnist'" in message and str(tmp_path) in message
    assert "internet" in message
    assert "data_dir=" in message and "load_image_folder" in message
    assert isinstance(info.value.__cause__, ConnectionError)


def test_load_tfds_checks_batch_size_before_loading():
    with pytest.raises(ValueError, match="batch_size"):
        load_tfds("cifar10", batch_size=0)


# prepare_dataset -----------------------------------------------------------


def test_uint8_maps_exactly_to_unit_range():
    pixels = np.array([0, 51, 127, 128, 255], dtype=np.uint8)
    images = np.broadcast_to(pixels[:, None, None, None], (5, 2, 2, 3))
    ds = prepare_dataset(
        tf.data.Dataset.from_tensor_slices(images),
        batch_size=5,
        shuffle_buffer=1,
    )
    batch = first(ds).numpy()
    assert batch.dtype == np.float32
    # The ends are exact in float32; the rest up to float32 rounding.
    assert np.all(batch[0] == -1.0) and np.all(batch[-1] == 1.0)
    np.testing.assert_allclose(
        batch[:, 0, 0, 0],
        [-1.0, -0.6, -1 / 255, 1 / 255, 1.0],
        rtol=0,
        atol=1e-7,
    )


def test_float_images_pass_through_unscaled():
    images = np.full((4, 3, 3, 1), 0.25, dtype=np.float64)
    ds = tf.data.Dataset.from_tensor_slices(images)
    batch = first(prepare_dataset(ds, 4))
    assert batch.dtype == tf.float32
    np.testing.assert_array_equal(batch.numpy(), np.float32(0.25))


def count_flipped(batches):
    """Counts images that are mirrored; fails on anything else."""
    ramp = ramp_images(1)[0].astype(np.float32) / 127.5 - 1.0
    flipped = 0
    for batch in batches:
        for image in batch.numpy():
            if np.array_equal(image, ramp[:, ::-1]):
                flipped += 1
            else:
                np.testing.assert_array_equal(image, ramp)
    return flipped


@pytest.mark.parametrize("flip", [True, False])
def test_flip_mirrors_about_half_the_samples(flip):
    ds = prepare_dataset(
        tf.data.Dataset.from_tensor_slices(ramp_images(40)),
        batch_size=40,
        flip=flip,
        seed=3,
    )
    flipped = count_flipped(ds.take(10))  # 400 samples, sd 10 around 200
    if flip:
        assert 140 < flipped < 260
    else:
        assert flipped == 0


def test_flip_is_per_sample_and_seeded():
    def masks(seed):
        ds = prepare_dataset(
            tf.data.Dataset.from_tensor_slices(ramp_images(32)),
            batch_size=32,
            flip=True,
            seed=seed,
        )
        return [batch.numpy()[:, 0, 0, 0] > 0 for batch in ds.take(3)]

    a, b = masks(7), masks(7)
    for mask_a, mask_b in zip(a, b):
        np.testing.assert_array_equal(mask_a, mask_b)
    assert 0 < a[0].sum() < 32  # not one coin for the whole batch
    assert not np.array_equal(a[0], a[1])  # a new draw for every batch


def test_flip_keeps_labels_with_their_images():
    images = ramp_images(16)
    labels = np.arange(16)
    images[:, 0, 0, 0] = labels  # tag each image with its label
    ds = prepare_dataset(
        tf.data.Dataset.from_tensor_slices((images, labels)),
        batch_size=16,
        conditional=True,
        flip=True,
        seed=0,
    )
    batch, batch_labels = first(ds)
    batch = (batch.numpy() + 1.0) * 127.5
    for image, label in zip(batch, batch_labels.numpy()):
        flipped = image[0, 0, 1] > image[0, -1, 1]
        tag = image[0, -1, 0] if flipped else image[0, 0, 0]
        assert round(tag) == label


def element_datasets():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 4, 4, 3), dtype=np.uint8)
    labels = np.arange(12, dtype=np.int64) % 3
    return images, labels, {
        "dict": tf.data.Dataset.from_tensor_slices(
            {"image": images, "label": labels, "id": labels.astype(str)}
        ),
        "tuple": tf.data.Dataset.from_tensor_slices((images, labels)),
        # Keras's own datasets give labels of shape (N, 1).
        "column": tf.data.Dataset.from_tensor_slices((images, labels[:, None])),
    }


@pytest.mark.parametrize("kind", ["dict", "tuple", "column"])
def test_labelled_inputs_keep_image_label_pairs(kind):
    images, labels, datasets = element_datasets()
    ds = prepare_dataset(
        datasets[kind], batch_size=12, conditional=True, seed=1
    )
    batch, batch_labels = first(ds)
    assert batch.shape == (12, 4, 4, 3)
    assert batch_labels.shape == (12,) and batch_labels.dtype == tf.int32
    expected = {tuple(x.ravel()): y for x, y in zip(images, labels)}
    pixels = np.rint((batch.numpy() + 1.0) * 127.5).astype(np.uint8)
    assert sorted(tuple(x.ravel()) for x in pixels) == sorted(expected)
    for x, y in zip(pixels, batch_labels.numpy()):
        assert expected[tuple(x.ravel())] == y


@pytest.mark.parametrize("kind", ["dict", "tuple", "plain"])
def test_unconditional_yields_plain_image_batches(kind):
    images, _, datasets = element_datasets()
    datasets["plain"] = tf.data.Dataset.from_tensor_slices(images)
    batch = first(prepare_dataset(datasets[kind], batch_size=6))
    assert isinstance(batch, tf.Tensor)
    assert batch.shape == (6, 4, 4, 3) and batch.dtype == tf.float32


def test_conditional_without_labels_raises():
    images = np.zeros((4, 4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="conditional=True.*labels"):
        prepare_dataset(
            tf.data.Dataset.from_tensor_slices(images), 2, conditional=True
        )
    no_label = tf.data.Dataset.from_tensor_slices({"image": images})
    with pytest.raises(ValueError, match="'label'"):
        prepare_dataset(no_label, 2, conditional=True)
    with pytest.raises(ValueError, match="'class'"):
        prepare_dataset(no_label, 2, conditional=True, label_key="class")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size must be >= 1; got 0"),
        ({"batch_size": 2.0}, "batch_size must be an integer"),
        ({"batch_size": 2, "shuffle_buffer": 0}, "shuffle_buffer"),
    ],
)
def test_bad_sizes_raise(kwargs, message):
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((4, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=message):
        prepare_dataset(ds, **kwargs)


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 4, 3)])
def test_images_must_have_rank_3(shape):
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((2, *shape), np.uint8))
    with pytest.raises(ValueError, match="rank 3"):
        prepare_dataset(ds, 2)


def test_bad_dtypes_and_structures_raise():
    images = np.zeros((2, 4, 4, 3), np.uint8)
    int32_images = tf.data.Dataset.from_tensor_slices(images.astype(np.int32))
    with pytest.raises(ValueError, match="int32"):
        prepare_dataset(int32_images, 2)
    one_hot = np.zeros((2, 10), np.float32)
    one_hot_labels = tf.data.Dataset.from_tensor_slices((images, one_hot))
    with pytest.raises(ValueError, match="integer class indices"):
        prepare_dataset(one_hot_labels, 2, conditional=True)
    with pytest.raises(ValueError, match="from_tensor_slices"):
        prepare_dataset(images, 2)


# load_image_folder ---------------------------------------------------------


def write_png(path, value, size=(6, 5)):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = tf.fill((*size, 3), tf.constant(value, tf.uint8))
    tf.io.write_file(str(path), tf.io.encode_png(image))


def test_image_folder_labels_follow_sorted_class_names(tmp_path):
    # Created out of order; pixel value 40 * (label + 1) tags the class.
    for name, value in [("zebra", 120), ("ant", 40), ("moth", 80)]:
        for i in range(4):
            write_png(tmp_path / name / f"{i}.png", value)
    (tmp_path / "ant" / "notes.txt").write_text("not an image")

    ds, class_names = load_image_folder(
        tmp_path, batch_size=12, conditional=True, seed=0
    )
    assert class_names == ["ant", "moth", "zebra"]
    images, labels = first(ds)
    assert images.shape == (12, 6, 5, 3) and images.dtype == tf.float32
    assert sorted(labels.numpy().tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    pixels = np.rint((images.numpy()[:, 0, 0, 0] + 1.0) * 127.5)
    np.testing.assert_array_equal(pixels, 40 * (labels.numpy() + 1))


def test_image_folder_without_classes(tmp_path):
    for i in range(3):
        write_png(tmp_path / f"{i}.png", 255)
    ds, class_names = load_image_folder(tmp_path, batch_size=3)
    assert class_names == []
    batch = first(ds)
    assert isinstance(batch, tf.Tensor) and batch.shape == (3, 6, 5, 3)
    np.testing.assert_array_equal(batch.numpy(), 1.0)
    with pytest.raises(ValueError, match="class subfolders"):
        load_image_folder(tmp_path, conditional=True)


def test_empty_image_folder_raises(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=f"No images.*{tmp_path}"):
        load_image_folder(tmp_path)
    (tmp_path / "cats").mkdir()
    write_png(tmp_path / "dogs" / "0.png", 1)
    with pytest.raises(ValueError, match="cats"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="not a directory"):
        load_image_folder(tmp_path / "missing")


def test_corrupt_image_is_named(tmp_path):
    for name in ["a.png", "b.png", "y.png", "z.png"]:
        write_png(tmp_path / name, 9)
    (tmp_path / "x.png").write_bytes(b"\x89PNG garbage, not an image")
    with pytest.raises(ValueError, match=r"x\.png") as info:
        load_image_folder(tmp_path)
    assert "y.png" not in str(info.value)


def test_mixed_sizes_raise(tmp_path):
    write_png(tmp_path / "a" / "0.png", 1, size=(8, 8))
    write_png(tmp_path / "a" / "1.png", 1, size=(8, 8))
    write_png(tmp_path / "b" / "big.png", 1, size=(16, 8))
    with pytest.raises(ValueError, match=r"big\.png.*16x8.*[Rr]esize"):
        load_image_folder(tmp_path)


def test_real_cifar10_jpegs(tmp_path):
    if not CIFAR_ARCHIVE.exists():
        pytest.skip(f"CIFAR-10 JPEG archive not found at {CIFAR_ARCHIVE}")
    wanted = {"train/airplane/": 0, "train/automobile/": 0}
    with tarfile.open(CIFAR_ARCHIVE, "r:gz") as archive:
        for member in archive:
            prefix = next((p for p in wanted if p in member.name), None)
            if member.isfile() and prefix and wanted[prefix] < 20:
                target = tmp_path / member.name[member.name.index(prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.extractfile(member).read())
                wanted[prefix] += 1
            if all(n == 20 for n in wanted.values()):
                break
    assert wanted == {"train/airplane/": 20, "train/automobile/": 20}

    ds, class_names = load_image_folder(
        tmp_path / "train", batch_size=40, conditional=True, seed=0
    )
    assert class_names == ["airplane", "automobile"]
    images, labels = first(ds)
    assert images.shape == (40, 32, 32, 3) and images.dtype == tf.float32
    assert set(labels.numpy().tolist()) == {0, 1}
    assert int(tf.reduce_sum(labels)) == 20
    low, high = float(tf.reduce_min(images)), float(tf.reduce_max(images))
    assert -1.0 <= low and high <= 1.0
    # Real photos: not constant, and far from all-black or all-white.
    assert float(tf.math.reduce_std(images)) > 0.1
