"""Batches of d_steps * batch_size, and resuming the stream at a step
without producing the batches before it."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_dagan.data import load_image_folder, load_tfds, prepare_dataset
from keras_dagan.data import stream as data_stream

COUNT = 24  # examples; with batches of 5 * 2 a pass ends mid-batch
BATCH, D_STEPS = 5, 2
SIZE = BATCH * D_STEPS


def tagged(count=COUNT, side=4):
    """uint8 images whose pixel (0, 0, 0) is their index, and labels."""
    images = np.random.default_rng(0).integers(0, 256, (count, side, side, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(count)
    return images, np.arange(count, dtype=np.int64) % 3


def counted(dataset, reads):
    """Appends to `reads` each time an element is produced."""

    def note(*element):
        def add():
            reads.append(1)
            return np.int64(0)

        token = tf.py_function(add, [], tf.int64)
        with tf.control_dependencies([token]):
            element = tf.nest.map_structure(tf.identity, element)
        return element if len(element) > 1 else element[0]

    return dataset.map(note)


def tfds_as_dataset(images, labels, reads=None):
    """A mock `_as_dataset` serving `images` with ids train_0, train_1, ..."""

    def as_dataset(self, *args, **kwargs):
        dataset = tf.data.Dataset.from_tensor_slices(
            {"image": images, "label": labels,
             "id": [f"train_{i}" for i in range(len(images))]}
        )
        if reads is not None:
            dataset = counted(dataset, reads)
        return dataset

    return as_dataset


def write_folder(root, images, labels):
    for index, (image, label) in enumerate(zip(images, labels)):
        path = root / f"class{label}" / f"{index:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tf.io.write_file(str(path), tf.io.encode_png(image))
    return root


def make_loader(kind, tmp_path, reads=None):
    """Returns `load(**kwargs)` giving a conditional pipeline over the
    tagged examples from the source `kind`."""
    images, labels = tagged()
    common = dict(batch_size=BATCH, d_steps=D_STEPS, conditional=True, flip=True, seed=11)
    if kind == "prepare":
        def load(**kwargs):
            dataset = tf.data.Dataset.from_tensor_slices((images, labels))
            if reads is not None:
                dataset = counted(dataset, reads)
            return prepare_dataset(dataset, **{**common, **kwargs})
    elif kind == "tfds":
        def load(**kwargs):
            with tfds.testing.mock_data(as_dataset_fn=tfds_as_dataset(images, labels, reads)):
                return load_tfds("cifar10", **{**common, **kwargs})
    else:
        folder = write_folder(tmp_path / "images", images, labels)

        def load(**kwargs):
            return load_image_folder(folder, cache=kind == "folder", **{**common, **kwargs})[0]
    return load


def batches(dataset, count):
    return [(images.numpy(), labels.numpy()) for images, labels in dataset.take(count)]


@pytest.mark.parametrize("step", [0, 1, 7, 31])
@pytest.mark.parametrize("kind", ["prepare", "tfds", "folder", "folder_files"])
def test_initial_step_yields_what_skip_yields(tmp_path, kind, step):
    load = make_loader(kind, tmp_path)
    expected = batches(load().skip(step), 3)
    resumed = batches(load(initial_step=step), 3)
    assert len(resumed) == 3
    for (images, labels), (want_images, want_labels) in zip(resumed, expected):
        assert images.shape == (SIZE, 4, 4, 3) and labels.shape == (SIZE,)
        np.testing.assert_array_equal(images, want_images)
        np.testing.assert_array_equal(labels, want_labels)


@pytest.mark.parametrize("kind", ["prepare", "tfds"])
def test_resume_from_memory_reads_each_example_once(tmp_path, kind):
    reads = []
    load = make_loader(kind, tmp_path, reads)
    taken = batches(load(initial_step=10_000), 2)
    assert len(taken) == 2
    # 10,000 steps of 10 images would be 100,000 reads; the source is read
    # once, into memory, and never again.
    assert len(reads) == COUNT


def test_resume_from_files_decodes_only_the_taken_images(tmp_path, monkeypatch):
    decoded = []
    real_decode = data_stream.decode_image

    def counting_decode(file):
        def note(name):
            decoded.append(name.numpy())
            return name

        file = tf.py_function(note, [file], tf.string)
        return real_decode(tf.ensure_shape(file, []))

    monkeypatch.setattr(data_stream, "decode_image", counting_decode)
    load = make_loader("folder_files", tmp_path)
    dataset = load(initial_step=10_000)
    decoded.clear()  # the up-front size check decodes every file once
    assert len(batches(dataset, 2)) == 2
    # What the two batches need plus what prefetching reads ahead, not the
    # 100,000 images of the skipped steps.
    assert 2 * SIZE <= len(decoded) <= 50 * SIZE


@pytest.mark.parametrize("kind", ["prepare", "folder_files"])
def test_every_pass_is_a_permutation(tmp_path, kind):
    load = make_loader(kind, tmp_path)
    passes = 6
    stream = []
    for images, _ in batches(load(flip=False), passes * COUNT // SIZE + 1):
        stream += np.rint((images[:, 0, 0, 0] + 1) * 127.5).astype(int).tolist()
    orders = [stream[e * COUNT : (e + 1) * COUNT] for e in range(passes)]
    for order in orders:
        assert sorted(order) == list(range(COUNT))
    assert orders[0] != list(range(COUNT))
    assert len({tuple(order) for order in orders}) == passes  # reshuffled every pass


def test_shuffle_buffer_1_keeps_the_input_order_in_every_pass():
    images, labels = tagged()
    dataset = prepare_dataset(tf.data.Dataset.from_tensor_slices(images), 6, shuffle_buffer=1,
                              d_steps=2, initial_step=1)
    tags = [int(round((x + 1) * 127.5)) for b in dataset.take(3) for x in b.numpy()[:, 0, 0, 0]]
    assert tags == [i % COUNT for i in range(12, 48)]


def test_d_steps_batches_hold_one_steps_reals(tmp_path):
    load = make_loader("prepare", tmp_path)
    images, labels = batches(load(), 1)[0]
    assert images.shape == (SIZE, 4, 4, 3) and labels.shape == (SIZE,)
    # D update k takes rows k * BATCH to (k + 1) * BATCH of the one stream:
    # the same images as batches of SIZE without d_steps.
    source = tf.data.Dataset.from_tensor_slices(tagged())
    plain = prepare_dataset(source, SIZE, conditional=True, flip=True, seed=11)
    for (a, la), (b, lb) in zip(batches(load(), 4), batches(plain, 4)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)


def test_one_pass_ends_and_resumes_within_the_pass(tmp_path):
    load = make_loader("folder", tmp_path)
    one_pass = batches(load(repeat=False, drop_remainder=False), 10)
    assert [len(labels) for _, labels in one_pass] == [SIZE, SIZE, COUNT - 2 * SIZE]
    tags = np.concatenate([images[:, 0, 0, 0] for images, _ in one_pass])
    assert len(set(tags.tolist())) == COUNT
    rest = batches(load(repeat=False, drop_remainder=False, initial_step=2), 10)
    assert len(rest) == 1
    np.testing.assert_array_equal(rest[0][0], one_pass[2][0])
    assert batches(load(repeat=False, initial_step=3), 10) == []


def test_streamed_dataset_makes_one_pass_over_every_example():
    images, _ = tagged()
    dataset = prepare_dataset(tf.data.Dataset.from_tensor_slices(images), 7, cache=False,
                              repeat=False, drop_remainder=False, seed=0, d_steps=2)
    sizes, tags = [], []
    for batch in dataset:
        sizes.append(len(batch))
        tags += np.rint((batch.numpy()[:, 0, 0, 0] + 1) * 127.5).astype(int).tolist()
    assert sizes == [14, 10]
    assert sorted(tags) == list(range(COUNT))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"d_steps": 0}, "d_steps must be >= 1; got 0"),
        ({"d_steps": 2.0}, "d_steps must be an integer"),
        ({"d_steps": True}, "d_steps must be an integer"),
        ({"initial_step": -1}, r"initial_step must be an integer >= 0.*-1"),
        ({"initial_step": 1.0}, "initial_step must be an integer"),
        ({"initial_step": 3, "cache": False}, "initial_step=3 needs cache=True"),
        ({"seed": -2}, r"seed must be None or an integer >= 0; got -2"),
        ({"seed": "7"}, "seed must be None or an integer"),
    ],
)
def test_bad_batching_arguments_raise(kwargs, message):
    dataset = tf.data.Dataset.from_tensor_slices(tagged()[0])
    with pytest.raises(ValueError, match=message):
        prepare_dataset(dataset, 2, **kwargs)


def test_loaders_check_batching_before_loading(tmp_path):
    # No mock: tfds would fail to download cifar10 if it were called.
    with pytest.raises(ValueError, match="d_steps"):
        load_tfds("cifar10", d_steps=0)
    with pytest.raises(ValueError, match="needs cache=True"):
        load_tfds("cifar10", initial_step=5, cache=False)
    with pytest.raises(ValueError, match="initial_step"):
        load_image_folder(tmp_path / "missing", initial_step=-1)


def test_memory_needs_a_finite_dataset_of_one_size():
    images = tagged()[0]
    with pytest.raises(ValueError, match="infinite.*before .repeat"):
        prepare_dataset(tf.data.Dataset.from_tensor_slices(images).repeat(), 2)
    mixed = tf.data.Dataset.from_generator(
        lambda: (np.zeros((side, side, 3), np.uint8) for side in (4, 4, 6)),
        output_signature=tf.TensorSpec((None, None, 3), tf.uint8),
    )
    with pytest.raises(ValueError, match=r"differ in size.*image_size"):
        prepare_dataset(mixed, 2)
    assert prepare_dataset(mixed, 3, image_size=(4, 4)).element_spec.shape == (3, 4, 4, 3)
    with pytest.raises(ValueError, match="empty"):
        prepare_dataset(tf.data.Dataset.from_tensor_slices(images[:0]), 2)
