"""The order in which a training run sees its examples, as batches.

Position `p` of the stream, counted in images from the start of the run,
shows one of the N examples: pass `e = p // N` over the data visits all N
in the full permutation that `RandomIndexShuffle` computes from
`(seed, e)`, and `p % N` is the place within it (with `shuffle_buffer=1`
the passes keep the input order). Batch `k` holds positions
`k * size` to `(k + 1) * size - 1`, where `size = d_steps * batch_size`,
and its left-right flips are stateless draws keyed by `(seed, k)`. The
order and the flips are thus pure functions of the seed and the position,
so `initial_step=k` starts the stream at batch `k` in O(1), without
producing the `k` batches before it.

The examples come from one of three places:

- memory (`cache=True`): every (resized) example is read once into one
  tensor on the CPU and batches are gathered from it by index. This is
  the fast path and what resumes a generic `tf.data.Dataset`, which
  cannot be indexed; for image folders it also avoids decoding every
  image again on every pass.
- files (an image folder with `cache=False`): each image is decoded from
  its file only when the stream reaches its position, so folders larger
  than memory work and still resume in O(1).
- a stream (a dataset with `cache=False`): read in order through a
  shuffle buffer, which cannot jump ahead, so it cannot resume.

Either way each batch is then scaled to float32 in [-1, 1], optionally
flipped, and prefetched.
"""

import secrets

import numpy as np
import tensorflow as tf


def batches(
    source,
    batch_size,
    conditional=False,
    flip=False,
    shuffle_buffer=10_000,
    cache=True,
    seed=None,
    drop_remainder=True,
    repeat=True,
    image_size=None,
    d_steps=1,
    initial_step=0,
):
    """Batches of `d_steps * batch_size` examples of `source`, a dataset of
    selected elements (image, or (image, label) if conditional) or
    `ImageFiles`; the arguments are `prepare_dataset`'s."""
    check_positive_int("shuffle_buffer", shuffle_buffer)
    stream = _Stream(
        size=d_steps * batch_size,
        conditional=conditional,
        flip=flip,
        shuffle=shuffle_buffer > 1,
        seed=resolve_seed(seed),
        drop_remainder=drop_remainder,
        repeat=repeat,
        initial_step=initial_step,
    )
    if isinstance(source, ImageFiles):
        # Cached, the images are decoded once into memory, since decoding
        # every image again on every pass costs more CPU than a small
        # data set's memory; otherwise each is read from its file when the
        # stream reaches it, which fits folders larger than memory.
        if cache:
            return stream.from_memory(*_read_into_memory(source.dataset(image_size), conditional))
        return stream.from_files(source.files, source.labels, source.loader(image_size))
    if image_size is not None:
        source = source.map(
            _resizer(source.element_spec, tuple(image_size)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if cache:
        return stream.from_memory(*_read_into_memory(source, conditional))
    return stream.from_stream(source, shuffle_buffer)


class _Stream:
    """Turns examples into the batches of a training run.

    Position `p` of the stream (counted in images from the start of the
    run) shows example `order(p)`: pass `e = p // N` over the N examples
    visits them in the permutation `RandomIndexShuffle` computes from
    `(seed, e)`. Batch `k` holds positions `k * size` to
    `(k + 1) * size - 1` and flips with draws keyed by `(seed, k)`. So every
    batch is a pure function of the seed and its number, which lets a run
    start at `initial_step` without producing the batches before it.
    """

    def __init__(self, size, conditional, flip, shuffle, seed, drop_remainder, repeat, initial_step):
        self.size = size
        self.conditional = conditional
        self.flip = flip
        self.shuffle = shuffle
        self.drop_remainder = drop_remainder
        self.repeat = repeat
        self.initial_step = initial_step
        # Separate keys, so that which image comes and whether it flips are
        # independent draws.
        self.order_key = [int(k) for k in np.random.SeedSequence(seed).generate_state(3)]
        self.flip_key = self.order_key.pop()

    def from_memory(self, images, labels):
        """Batches gathered from `images` (and `labels`), held in memory."""
        count = int(images.shape[0])

        def gather(positions):
            index = self._example_index(positions, count)
            if self.conditional:
                return tf.gather(images, index), tf.gather(labels, index)
            return tf.gather(images, index)

        # Gathering whole batches is one op per batch, not one per image.
        batches = self._positions(count).batch(
            self.size, drop_remainder=self.drop_remainder
        )
        return self._finish(batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE))

    def from_files(self, files, labels, load):
        """Batches decoded file by file, only at the positions taken."""
        count = len(files)
        files = tf.constant(files)
        labels = tf.constant(labels, tf.int32) if self.conditional else None

        def read(position):
            index = self._example_index(position, count)
            image = load(files[index])
            return (image, labels[index]) if self.conditional else image

        # deterministic=True: a parallel map that let fast files overtake
        # slow ones would make the batches depend on timing.
        examples = self._positions(count).map(
            read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        return self._finish(examples.batch(self.size, drop_remainder=self.drop_remainder))

    def from_stream(self, dataset, shuffle_buffer):
        """Batches of a dataset read in order through a shuffle buffer."""
        dataset = dataset.shuffle(
            shuffle_buffer, seed=self.order_key[0], reshuffle_each_iteration=True
        )
        if self.repeat:
            dataset = dataset.repeat()
        return self._finish(dataset.batch(self.size, drop_remainder=self.drop_remainder))

    def _positions(self, count):
        start = self.initial_step * self.size
        if self.repeat:
            return tf.data.Dataset.counter(start)
        return tf.data.Dataset.range(start, max(start, count))

    def _example_index(self, positions, count):
        """The example at each position (a scalar or a vector of them)."""
        offsets = positions % count
        if not self.shuffle:
            return offsets
        passes = positions // count

        def fill(value):
            return tf.fill(tf.shape(positions), tf.constant(value, tf.int64))

        # The raw op, because tf.random.experimental.index_shuffle pads a
        # batch of seeds along the wrong axis; it takes 3-element seeds.
        return tf.raw_ops.RandomIndexShuffle(
            index=offsets,
            seed=tf.stack([fill(self.order_key[0]), fill(self.order_key[1]), passes], axis=-1),
            max_index=fill(count - 1),
            rounds=4,
        )

    def _finish(self, batches):
        """Numbers the batches, scales them to [-1, 1], flips, prefetches."""
        numbered = tf.data.Dataset.zip(
            (batches, tf.data.Dataset.counter(self.initial_step))
        )

        def finish(batch, number):
            images, labels = batch if self.conditional else (batch, None)
            # Scaling whole batches is one vectorized op instead of one per
            # image.
            images = _to_unit_range(images)
            if self.flip:
                key = tf.stack([tf.constant(self.flip_key, tf.int64), number])
                mask = tf.random.stateless_uniform([tf.shape(images)[0]], key) < 0.5
                images = tf.where(
                    mask[:, None, None, None], tf.reverse(images, axis=[2]), images
                )
            return (images, labels) if self.conditional else images

        return numbered.map(finish, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
            tf.data.AUTOTUNE
        )


def _read_into_memory(dataset, conditional, chunk_size=1024):
    """Reads a finite dataset of images (or `(image, label)` pairs) into one
    tensor of images (and one of labels, else None), on the CPU."""
    if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            "The dataset is infinite (e.g. it was repeated), so it cannot be "
            "held in memory. Pass the dataset before .repeat(); the batches "
            "repeat by themselves. For data larger than memory pass "
            "cache=False."
        )
    # On the CPU: the input pipeline gathers from these tensors there, and
    # a GPU copy would only take accelerator memory.
    with tf.device("/CPU:0"):
        try:
            chunks = list(dataset.batch(chunk_size).prefetch(tf.data.AUTOTUNE))
        except tf.errors.InvalidArgumentError as error:
            if "Cannot batch tensors" not in error.message:
                raise
            raise ValueError(
                "The images differ in size, so they cannot be held in one "
                "array. Pass image_size=(height, width) to resize them all."
            ) from None
        if not chunks:
            raise ValueError(
                "The dataset is empty; there are no images to train on."
            )
        if conditional:
            return (
                tf.concat([images for images, _ in chunks], 0),
                tf.concat([labels for _, labels in chunks], 0),
            )
        return tf.concat(chunks, 0), None


class ImageFiles:
    """Images of one shape, read from their files by index."""

    def __init__(self, files, labels, shape):
        self.files = files
        self.labels = labels
        self.shape = shape

    def loader(self, image_size):
        """A function from a file path to its (resized) uint8 image."""
        resize = (
            _resizer(tf.TensorSpec(self.shape, tf.uint8), tuple(image_size))
            if image_size is not None
            else tf.identity
        )
        return lambda file: resize(tf.ensure_shape(decode_image(file), self.shape))

    def dataset(self, image_size):
        """The images (with labels, if any) in file order."""
        load = self.loader(image_size)
        if self.labels is None:
            return tf.data.Dataset.from_tensor_slices(self.files).map(
                load, num_parallel_calls=tf.data.AUTOTUNE
            )
        return tf.data.Dataset.from_tensor_slices(
            (self.files, np.asarray(self.labels, np.int32))
        ).map(lambda file, label: (load(file), label), num_parallel_calls=tf.data.AUTOTUNE)


def decode_image(file):
    return tf.io.decode_image(
        tf.io.read_file(file), channels=3, expand_animations=False
    )


def _resizer(spec, size):
    image_spec = spec[0] if isinstance(spec, tuple) else spec

    def resize(image):
        if tuple(image_spec.shape[:2]) == size:
            return image
        # Area averaging when shrinking avoids aliasing; it is the same as
        # bilinear when enlarging.
        resized = tf.image.resize(tf.cast(image, tf.float32), size, method="area", antialias=True)
        if image_spec.dtype == tf.uint8:
            return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
        return tf.cast(resized, image_spec.dtype)

    if isinstance(spec, tuple):
        return lambda image, label: (resize(image), label)
    return resize


def _to_unit_range(images):
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 127.5 - 1.0
    return tf.cast(images, tf.float32)


def resolve_seed(seed):
    if seed is None:
        return secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"seed must be None or an integer >= 0; got {seed!r}."
        )
    return int(seed)


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}.")
