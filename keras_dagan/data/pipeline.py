"""Input pipelines that turn images into endless batches of GAN reals.

Every loader ends in `prepare_dataset`'s batching, which yields float32
images in [-1, 1] with shape `(d_steps * batch_size, height, width,
channels)`, or `(images, labels)` tuples with int32 labels for conditional
GANs: one training step's reals. The datasets repeat forever, so train with
`gan.fit(dataset, steps_per_epoch=..., epochs=...)`.

This module holds the loaders and their checks: picking the images (and
labels) out of dataset elements, tfds splits, image folders (listing,
decoding and validating the files) and the subsets they keep. The order in
which the batches visit the examples is `keras_dagan.data.stream`'s: it is
a pure function of the seed and the position in the stream, so
`initial_step=k` resumes a run at batch `k` without producing the `k`
batches before it.
"""

import os
import re

import numpy as np
import tensorflow as tf

from keras_dagan.data.archive import extracted_folder, is_archive
from keras_dagan.data.stream import (
    ImageFiles,
    batches,
    check_positive_int,
    decode_image,
    resolve_seed,
)
from keras_dagan.data.subset import (
    original_indices,
    subset_positions,
    validate_fraction,
    validate_subset,
)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def prepare_dataset(
    dataset,
    batch_size,
    conditional=False,
    flip=False,
    shuffle_buffer=10_000,
    cache=True,
    seed=None,
    drop_remainder=True,
    image_key="image",
    label_key="label",
    repeat=True,
    image_size=None,
    d_steps=1,
    initial_step=0,
):
    """Turns a dataset of single images into endless training batches.

    The steps are: pick the image (and label) out of each element,
    optionally resize, then with `cache=True` read every example into
    memory once (as uint8 when the images are uint8, a quarter of the
    memory of float32) and draw batches from there: pass `e` over the N
    examples visits them in its own full permutation, seeded by
    `(seed, e)` (in input order with `shuffle_buffer=1`). Each batch is then scaled to float32 in [-1, 1],
    optionally flipped, and prefetched.

    uint8 images are mapped with `x / 127.5 - 1`, so 0 becomes -1 and 255
    becomes 1. Floating-point images are assumed to be in [-1, 1] already
    and are only cast to float32; they are not rescaled or checked.

    Resuming: with `cache=True` the batch at step `k` is a pure function of
    `(seed, k)`, so `initial_step=k` yields exactly what
    `prepare_dataset(...).skip(k)` yields with the same seed, in O(1)
    rather than by producing and dropping `k` batches. This needs a fixed
    integer `seed`. With `cache=False` the examples are streamed through a
    shuffle buffer, which cannot jump ahead: `initial_step` must be 0.

    Args:
        dataset: A finite `tf.data.Dataset` whose elements are one image
            each, as a uint8 or float tensor of shape `(height, width,
            channels)`, an `(image, label)` tuple, or a dict such as those
            of `tfds.load` (`{"image": ..., "label": ..., ...}`; other keys
            are ignored).
        batch_size: Images per discriminator update, at least 1.
        conditional: If True, yield `(images, labels)`; the elements must
            carry integer class labels, scalars or of shape `(1,)`. If
            False, labels are dropped.
        flip: If True, flip each real image left-right with probability
            0.5, as the DiffAugment paper does for every model.
        shuffle_buffer: 1 keeps the input order. Above 1, with
            `cache=True` every pass is a full permutation of the data
            (the size does not matter); with `cache=False` it is the size
            of the shuffle buffer, reshuffled on every pass.
        cache: If True, hold the (resized) images in memory, read once
            when this function is called; needed for `initial_step > 0`.
            Turn off for datasets larger than memory.
        seed: Integer >= 0 that makes the order and the flips
            reproducible, or None to draw one (a different stream on every
            run, which cannot be resumed).
        drop_remainder: Whether `batch` drops a short last batch. As the
            data repeats before batching, no batch is ever short; True
            only makes the batch dimension static, which XLA likes.
        image_key: Key of the image when elements are dicts.
        label_key: Key of the label when elements are dicts.
        repeat: If True, repeat forever (training). False makes one pass
            over the data, e.g. for evaluation; pass
            `drop_remainder=False` too to keep a short last batch.
        image_size: None keeps the images' size; (height, width) resizes
            them (area-averaged when shrinking, bilinear when enlarging)
            before caching.
        d_steps: Discriminator updates per training step, at least 1: each
            batch holds `d_steps * batch_size` images, and update `k`
            takes rows `k * batch_size` to `(k + 1) * batch_size`, as the
            reference BigGAN code loads `batch_size * num_D_steps` reals
            per iteration.
        initial_step: Batch to start from, at least 0: the result equals
            the one with `initial_step=0` after `.skip(initial_step)`.
            Needs `cache=True`.

    Returns:
        An infinite (unless `repeat=False`) `tf.data.Dataset` of float32
        image batches of shape
        `(d_steps * batch_size, height, width, channels)`, or of
        `(images, labels)` tuples with int32 labels of shape
        `(d_steps * batch_size,)` when `conditional` is True.

    Raises:
        ValueError: If `dataset` is not a `tf.data.Dataset` or is infinite
            or empty with `cache=True`, `batch_size`, `d_steps` or
            `shuffle_buffer` is below 1, `initial_step` is below 0 or above
            0 with `cache=False`, `seed` is not None or an integer >= 0,
            the images are not rank 3, not uint8/float or (with
            `cache=True`) of different sizes, the labels are not integer
            scalars, or `conditional` is True and the elements carry no
            labels.

    Example:

    ```python
    (x, y), _ = keras.datasets.cifar10.load_data()
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = prepare_dataset(ds, batch_size=64, conditional=True, flip=True, seed=0)
    gan.fit(ds, steps_per_epoch=1000, epochs=10)
    # Resuming after 5000 steps continues the same stream:
    ds = prepare_dataset(tf.data.Dataset.from_tensor_slices((x, y)), batch_size=64,
                         conditional=True, flip=True, seed=0, initial_step=5000)
    ```
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            "dataset must be a tf.data.Dataset; got "
            f"{type(dataset).__name__}. Wrap arrays with "
            "tf.data.Dataset.from_tensor_slices(images) or "
            "tf.data.Dataset.from_tensor_slices((images, labels))."
        )
    _check_batching(batch_size, d_steps, initial_step, cache)
    select = _element_selector(
        dataset.element_spec, conditional, image_key, label_key
    )
    return batches(
        dataset.map(select, num_parallel_calls=tf.data.AUTOTUNE),
        batch_size,
        conditional=conditional,
        flip=flip,
        shuffle_buffer=shuffle_buffer,
        cache=cache,
        seed=seed,
        drop_remainder=drop_remainder,
        repeat=repeat,
        image_size=image_size,
        d_steps=d_steps,
        initial_step=initial_step,
    )


def load_tfds(
    name,
    split="train",
    data_dir=None,
    batch_size=64,
    conditional=False,
    flip=True,
    seed=None,
    fraction=1.0,
    subset="stratified",
    d_steps=1,
    initial_step=0,
    **prepare_kwargs,
):
    """Loads a TensorFlow Datasets dataset as endless training batches.

    Calls `tfds.load(name, split=split, data_dir=data_dir)`, which
    downloads and prepares the dataset on first use and reads the prepared
    copy afterwards, also offline, keeps the examples `fraction` and
    `subset` select, and batches them as `prepare_dataset` does. The
    files are read in tfds's fixed order (the in-memory permutations do
    the shuffling, and resuming needs the same order in every run), except
    for a whole split with `cache=False`, whose files are shuffled too.

    Args:
        name: Registered tfds name such as "cifar10", optionally with a
            config and version ("celeb_a_hq/128:2.0.0").
        split: tfds split, e.g. "train" or "train[:10%]".
        data_dir: Where tfds keeps prepared datasets; defaults to tfds's
            own (`~/tensorflow_datasets`).
        batch_size: Images per discriminator update, at least 1.
        conditional: If True, yield `(images, labels)` from the
            dataset's `label_key` feature ("label" by default).
        flip: If True, flip each real image left-right with probability
            0.5, as the DiffAugment paper does.
        seed: Integer seed >= 0 for the order and the flips, or None to
            draw one (such a run cannot be resumed).
        fraction: Share of the split to keep, in (0, 1]. Below 1 the split
            is read once, in order, to learn its labels or ids. The subset
            is the same for every `seed`.
        subset: Which examples a `fraction` keeps: "stratified" (the same
            share of every class, `stratified_indices` with seed 0),
            "reference" (DiffAugment-biggan-cifar's `np.random.choice`
            with seed 0 over the original CIFAR order, read from the
            examples' "id" feature such as "train_16399"; needs a whole
            split) or "first" (the first examples in tfds's order, as
            DiffAugment-stylegan2's `dset.take(num_samples)`). See
            `keras_dagan.data.subset`.
        d_steps: Discriminator updates per step; each batch holds
            `d_steps * batch_size` images (see `prepare_dataset`).
        initial_step: Batch to start from (see `prepare_dataset`); needs
            the default `cache=True`.
        **prepare_kwargs: Further arguments of `prepare_dataset`, such as
            `shuffle_buffer`, `cache`, `image_key` or `label_key`.

    Returns:
        The infinite `tf.data.Dataset` of `prepare_dataset`.

    Raises:
        ValueError: If `name` is not a registered tfds dataset, `fraction`
            or `subset` is bad, `subset="reference"` meets examples without
            ids numbering a whole split, or for the bad inputs listed in
            `prepare_dataset`.
        RuntimeError: If the dataset is not prepared in `data_dir` and
            tfds fails to download or prepare it (e.g. without internet).

    Example:

    ```python
    ds = load_tfds("cifar10", batch_size=64, conditional=True, seed=0,
                   fraction=0.1, subset="reference", d_steps=4)
    gan.fit(ds, steps_per_epoch=1000, epochs=10)
    ```
    """
    # Fail before tfds spends minutes downloading.
    cache = prepare_kwargs.get("cache", True)
    _check_batching(batch_size, d_steps, initial_step, cache)
    validate_fraction(fraction)
    validate_subset(subset)
    seed = resolve_seed(seed)
    dataset = _load_tfds_split(
        name,
        split,
        data_dir,
        # Only a streamed whole split gains from shuffled files: a subset
        # is chosen by position and the in-memory data must come in the
        # same order in every run to resume.
        shuffle_files=not cache and fraction == 1.0,
        seed=seed,
    )
    keep = _tfds_selection(dataset, fraction, subset, prepare_kwargs.get("label_key", "label"))
    if keep is not None:
        dataset = _keep_positions(dataset, keep)
    return prepare_dataset(
        dataset,
        batch_size,
        conditional=conditional,
        flip=flip,
        seed=seed,
        d_steps=d_steps,
        initial_step=initial_step,
        **prepare_kwargs,
    )


def _load_tfds_split(name, split, data_dir, shuffle_files, seed):
    # Imported here: tfds takes seconds to import and only the tfds loaders
    # need it.
    import tensorflow_datasets as tfds

    try:
        return tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            shuffle_files=shuffle_files,
            # Without a seed, tfds shuffles the files differently on
            # every run even when `seed` is set.
            read_config=tfds.ReadConfig(shuffle_seed=seed),
        )
    except tfds.core.DatasetNotFoundError:
        raise _unknown_tfds_name(name) from None
    except Exception as error:
        if _is_prepared(name, data_dir):
            raise
        where = data_dir if data_dir is not None else "tfds's default data_dir"
        raise RuntimeError(
            f"Could not download or prepare tfds dataset {name!r} "
            f"(not prepared in {where}): {type(error).__name__}: {error}. "
            "Run load_tfds once on a machine with internet access (or "
            f"`tfds build {name}`) and copy the prepared data here, pass "
            "data_dir=... pointing to where it was prepared before, or "
            "load a folder of images with load_image_folder(path)."
        ) from error


def _tfds_selection(dataset, fraction, subset, label_key):
    """Positions in `dataset`'s order that the subset keeps, or None for
    all; reads the labels or ids in one pass when needed."""
    if fraction == 1.0:
        return None
    spec = dataset.element_spec
    if subset == "reference":
        if not isinstance(spec, dict) or "id" not in spec:
            features = sorted(spec) if isinstance(spec, dict) else spec
            raise ValueError(
                "subset='reference' needs each example's index in the original "
                f"order, from an 'id' feature like cifar10's 'train_16399'; the "
                f"examples have none (features: {features}). Use "
                "subset='stratified' or 'first'."
            )
        ids = list(dataset.map(lambda element: element["id"]).as_numpy_iterator())
        return subset_positions(subset, fraction, len(ids), original=original_indices(ids))
    if subset == "first" or not isinstance(spec, dict) or label_key not in spec:
        return subset_positions(subset, fraction, _count(dataset))
    labels = np.array(list(dataset.map(lambda element: element[label_key]).as_numpy_iterator()))
    return subset_positions(subset, fraction, len(labels), labels=labels)


def _count(dataset):
    count = int(dataset.cardinality())
    if count >= 0:
        return count
    return int(dataset.reduce(np.int64(0), lambda total, _: total + 1))


def _keep_positions(dataset, positions):
    """The elements of `dataset` at the sorted `positions`, in order."""
    last = int(positions[-1]) + 1
    keep = np.zeros(last, bool)
    keep[positions] = True
    keep = tf.constant(keep)
    # Stops reading after the last kept element ("first" keeps a prefix).
    return (
        dataset.take(last)
        .enumerate()
        .filter(lambda position, _: keep[position])
        .map(lambda _, element: element)
    )


def load_image_folder(
    path,
    batch_size=64,
    conditional=False,
    flip=True,
    seed=None,
    fraction=1.0,
    subset="stratified",
    d_steps=1,
    initial_step=0,
    **prepare_kwargs,
):
    """Loads a folder of same-sized images as endless training batches.

    Images (PNG, JPEG, BMP, GIF or WebP, by file extension) sit either in class
    subfolders, `path/<class>/...`, searched recursively, whose sorted
    names give the labels 0..K-1, or directly in `path`, which gives no
    labels. Every image is decoded once up front, in parallel, to check
    that it is readable and that all share one size. Images are decoded
    with `tf.io.decode_image(channels=3, expand_animations=False)`, so
    they always have 3 channels.

    With `cache=True` (the default) the decoded (resized) images are held
    in memory, read once here, as `prepare_dataset` does. With
    `cache=False` each image is read from its file when the stream reaches
    it, so folders larger than memory work. Both orders are the same pure
    function of `(seed, position)` over the sorted file list, so both
    support `initial_step` without decoding the skipped images.

    Args:
        path: The folder, or a .tar, .tar.gz, .tgz or .zip archive of one,
            which is unpacked once into `~/.cache/keras_dagan/extracted`.
        batch_size: Images per discriminator update, at least 1.
        conditional: If True, yield `(images, labels)`; needs class
            subfolders.
        flip: If True, flip each real image left-right with probability
            0.5, as the DiffAugment paper does.
        seed: Integer seed >= 0 for the order and the flips, or None to
            draw one (such a run cannot be resumed).
        fraction: Share of each class folder to keep, in (0, 1]: a
            deterministic class-stratified subset (`stratified_indices`
            with seed 0, the same for every `seed`).
        subset: Only "stratified" works for folders. "reference" picks by
            index in the original CIFAR order, which a folder does not
            record (CIFAR's train/<class>/NNNN.jpg numbers images within
            their class only), and "first" would take whole classes from
            the sorted listing; both raise a ValueError. Use
            `load_tfds(..., subset=...)` for them.
        d_steps: Discriminator updates per step; each batch holds
            `d_steps * batch_size` images (see `prepare_dataset`).
        initial_step: Batch to start from (see `prepare_dataset`).
        **prepare_kwargs: Further arguments of `prepare_dataset`, such as
            `shuffle_buffer`, `cache`, `image_size` or `repeat`.

    Returns:
        A tuple `(dataset, class_names)`: the infinite `tf.data.Dataset`
        of `prepare_dataset` and the list of class folder names, where
        `class_names[i]` is the folder of label `i` (empty when the
        images sit directly in `path`).

    Raises:
        ValueError: If `path` is not a folder or holds no images, a class
            folder is empty, images sit both in `path` and in
            subfolders, an image cannot be read or decoded (naming the
            file), images differ in size (naming one that differs),
            `conditional` is True without class subfolders, `subset` is
            not "stratified", or for the bad inputs listed in
            `prepare_dataset`.

    Example:

    ```python
    # flowers/daisy/*.jpg, flowers/rose/*.jpg, ... all 64x64
    ds, class_names = load_image_folder("flowers", conditional=True, seed=0)
    gan.fit(ds, steps_per_epoch=500, epochs=20)
    ```
    """
    _check_batching(batch_size, d_steps, initial_step, cache=True)
    path, files, labels, class_names = _folder_selection(path, fraction, subset)
    if conditional and not class_names:
        raise ValueError(
            f"conditional=True needs labels, but the images in {path!r} "
            "are not in class subfolders. Move them into "
            f"{os.path.join(path, '<class name>')} folders, or pass "
            "conditional=False."
        )
    shape = _common_image_shape(files, path)
    dataset = batches(
        ImageFiles(files, labels if conditional else None, shape),
        batch_size,
        conditional=conditional,
        flip=flip,
        seed=seed,
        d_steps=d_steps,
        initial_step=initial_step,
        **prepare_kwargs,
    )
    return dataset, class_names


def _folder_selection(path, fraction, subset):
    """Returns `(folder, files, labels, class_names)` of the images that
    `fraction` and `subset` keep, in sorted listing order."""
    validate_fraction(fraction)
    validate_subset(subset)
    if subset != "stratified":
        raise ValueError(
            f"subset={subset!r} cannot be used with an image folder: "
            + (
                "it picks by index in the original CIFAR order, which a folder does "
                "not record (CIFAR's train/<class>/NNNN.jpg numbers each image within "
                "its class only). "
                if subset == "reference"
                else "the first images of the sorted listing are whole classes. "
            )
            + "Use subset='stratified', or load_tfds(..., subset="
            f"{subset!r}) for the tfds CIFAR datasets."
        )
    path = os.fspath(path)
    if is_archive(path):
        path = extracted_folder(path)
    files, labels, class_names = _list_images(path)
    if fraction < 1.0:
        keep = subset_positions(subset, fraction, len(files), labels=labels or None)
        files = [files[i] for i in keep]
        labels = [labels[i] for i in keep] if class_names else []
    return path, files, labels, class_names


def _check_batching(batch_size, d_steps, initial_step, cache):
    check_positive_int("batch_size", batch_size)
    check_positive_int("d_steps", d_steps)
    if (
        isinstance(initial_step, bool)
        or not isinstance(initial_step, (int, np.integer))
        or initial_step < 0
    ):
        raise ValueError(
            f"initial_step must be an integer >= 0 (the batch to resume "
            f"from); got {initial_step!r}."
        )
    if initial_step and not cache:
        raise ValueError(
            f"initial_step={initial_step} needs cache=True: with cache=False "
            "the examples stream through a shuffle buffer, which cannot "
            "jump ahead. Pass cache=True (the images are then held in "
            "memory and the stream resumes without reading the skipped "
            "batches), or for an image folder use load_image_folder, "
            "which resumes either way."
        )


def _element_selector(spec, conditional, image_key, label_key):
    """Returns a map function from one element to its image, or to
    `(image, label)` if conditional, after checking the structure."""
    if isinstance(spec, dict):
        if image_key not in spec:
            raise ValueError(
                f"Dataset elements are dicts without the image key "
                f"{image_key!r}; their keys are {sorted(spec)}. Pass "
                "image_key=... naming the image feature."
            )
        image_spec = spec[image_key]
        label_spec = spec.get(label_key)
        missing = f"the label key {label_key!r} (keys: {sorted(spec)})"
        fix = "pass label_key=... naming the label feature"

        def split(element):
            return element[image_key], element.get(label_key)

    elif isinstance(spec, tuple) and len(spec) in (1, 2):
        image_spec = spec[0]
        label_spec = spec[1] if len(spec) == 2 else None
        missing = "a label"
        fix = "use (image, label) tuples"

        def split(*element):
            return element[0], element[1] if len(element) == 2 else None

    elif isinstance(spec, tf.TensorSpec):
        image_spec, label_spec = spec, None
        missing = "labels (they are plain images)"
        fix = "use (image, label) tuples or dicts with a label key"

        def split(element):
            return element, None

    else:
        raise ValueError(
            "Dataset elements must be an image tensor, an (image, label) "
            f"tuple or a dict of tensors; got element_spec {spec}."
        )

    _check_image_spec(image_spec)
    if conditional:
        if label_spec is None:
            raise ValueError(
                f"conditional=True needs labels, but the dataset elements "
                f"carry no {missing}. Either {fix}, or pass "
                "conditional=False."
            )
        _check_label_spec(label_spec)

    def select(*element):
        image, label = split(*element)
        if image.shape.rank is None:
            image = tf.ensure_shape(image, [None, None, None])
        if conditional:
            # Scalar labels, also from `(N, 1)` arrays such as
            # keras.datasets.cifar10's.
            return image, tf.reshape(tf.cast(label, tf.int32), [])
        return image

    return select


def _check_image_spec(spec):
    if not isinstance(spec, tf.TensorSpec):
        raise ValueError(f"Images must be dense tensors; got {spec}.")
    if spec.shape.rank is not None and spec.shape.rank != 3:
        raise ValueError(
            "Each image must have rank 3, (height, width, channels); got "
            f"shape {spec.shape}. Add a channel axis to grayscale images "
            "(image[..., None]) and unbatch batched datasets "
            "(dataset.unbatch())."
        )
    if spec.dtype != tf.uint8 and not spec.dtype.is_floating:
        raise ValueError(
            f"Images must be uint8 in [0, 255] or float in [-1, 1]; got "
            f"dtype {spec.dtype.name}. Cast them to one of those first."
        )


def _check_label_spec(spec):
    if (
        not isinstance(spec, tf.TensorSpec)
        or not spec.dtype.is_integer
        or (spec.shape.rank != 0 and not spec.shape.is_compatible_with([1]))
    ):
        raise ValueError(
            "Labels must be integer class indices, one scalar (or shape "
            f"(1,)) per image; got {spec}. Convert one-hot labels with "
            "tf.argmax."
        )


def _unknown_tfds_name(name):
    # tfds's own message lists every registered dataset.
    return ValueError(
        f"Unknown tfds dataset name {name!r}. Check the spelling; "
        "tensorflow_datasets.list_builders() lists the valid names."
    )


def _is_prepared(name, data_dir):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir).is_prepared()
    except Exception:
        # Only used to word an error; if tfds cannot even tell, the dataset
        # is not usable as it stands.
        return False


def _list_images(path):
    """Returns `(files, labels, class_names)` for an image folder."""
    if not os.path.isdir(path):
        raise ValueError(
            f"Image folder {path!r} does not exist or is not a directory."
        )
    entries = sorted(e for e in os.listdir(path) if not e.startswith("."))
    loose = [
        os.path.join(path, e)
        for e in entries
        if _is_image(e) and os.path.isfile(os.path.join(path, e))
    ]
    class_names = [e for e in entries if os.path.isdir(os.path.join(path, e))]
    if class_names and loose:
        raise ValueError(
            f"{path!r} holds both images (e.g. {loose[0]!r}) and "
            f"subfolders (e.g. {class_names[0]!r}). Put every image in a "
            "class subfolder, or keep them all directly in the folder."
        )
    if not class_names:
        if not loose:
            raise ValueError(
                f"No images ({', '.join(IMAGE_EXTENSIONS)}) found in "
                f"{path!r}. Point path at a folder of images or of class "
                "subfolders of images."
            )
        return loose, [], []

    files, labels = [], []
    for label, class_name in enumerate(class_names):
        class_files = _walk_images(os.path.join(path, class_name))
        if not class_files:
            raise ValueError(
                f"Class folder {os.path.join(path, class_name)!r} holds no "
                f"images ({', '.join(IMAGE_EXTENSIONS)}). Add images or "
                "remove the folder."
            )
        files += class_files
        labels += [label] * len(class_files)
    return files, labels, class_names


def _walk_images(folder):
    files = []
    for root, dirs, names in os.walk(folder):
        # Sorted in place so os.walk descends in a reproducible order.
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [
            os.path.join(root, n)
            for n in sorted(names)
            if _is_image(n) and not n.startswith(".")
        ]
    return files


def _is_image(filename):
    return filename.lower().endswith(IMAGE_EXTENSIONS)


def _common_image_shape(files, folder, chunk_size=256):
    """Decodes every file once and returns the `(height, width, 3)` shape
    they share, naming the first file that is unreadable or differs."""
    # Shapes come back in chunks because Python-side iteration, not
    # decoding, dominates for small images.
    shapes = (
        tf.data.Dataset.from_tensor_slices(files)
        .map(
            lambda file: tf.shape(decode_image(file)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .batch(chunk_size)
    )
    iterator = iter(shapes)
    first = None
    for start in range(0, len(files), chunk_size):
        chunk = files[start : start + chunk_size]
        try:
            chunk_shapes = next(iterator).numpy()
        except tf.errors.OpError:
            # One failure spoils the whole chunk; decode it file by file
            # to name the culprit.
            _raise_for_unreadable(chunk)
            raise
        if first is None:
            first = tuple(int(d) for d in chunk_shapes[0])
        differs = np.flatnonzero(np.any(chunk_shapes != first, axis=1))
        if differs.size:
            file = chunk[differs[0]]
            height, width, _ = chunk_shapes[differs[0]]
            raise ValueError(
                f"Images in {folder!r} differ in size: {files[0]!r} is "
                f"{first[0]}x{first[1]} but {file!r} is {height}x{width}. "
                "Resize all images to one size first (e.g. with "
                "tf.image.resize or PIL)."
            )
    return first


def _raise_for_unreadable(files):
    for file in files:
        try:
            decode_image(file)
        except tf.errors.OpError as error:
            # Keep TensorFlow's reason, without its op and function names.
            reason = re.sub(r"\{\{.*?\}\}|\[Op:.*", "", error.message).strip()
            raise ValueError(
                f"Could not read or decode image {file!r}: {reason} "
                "Replace or delete the file."
            ) from None


FOLDER_PREFIX = "folder:"


def class_names(spec, data_dir=None):
    """The class names of `spec`, without loading its images.

    Args:
        spec: "folder:PATH" (class subfolders give the classes; an archive
            is unpacked as by `load_image_folder`) or a tfds name.
        data_dir: tfds data folder (ignored for folders).

    Returns:
        The list of class names, label i being `names[i]`; empty for a
        folder of loose images or a tfds dataset without a "label"
        feature.

    Raises:
        ValueError: As `load_image_folder` for a missing or empty folder,
            or for an unknown tfds name.

    Example:

    ```python
    num_classes = len(class_names("folder:data/cifar10_quickstart.tar.gz"))  # 10
    ```
    """
    if spec.startswith(FOLDER_PREFIX):
        path = spec[len(FOLDER_PREFIX):]
        return _list_images(extracted_folder(path) if is_archive(path) else path)[2]
    import tensorflow_datasets as tfds

    try:
        features = tfds.builder(spec, data_dir=data_dir).info.features
    except tfds.core.DatasetNotFoundError:
        raise _unknown_tfds_name(spec) from None
    return list(features["label"].names) if "label" in features else []


def load_dataset(spec, split="train", data_dir=None, **kwargs):
    """Loads `spec`: "folder:PATH" (an image folder) or a tfds name.

    The one entry point the command-line scripts share: "folder:PATH" goes
    to `load_image_folder(PATH, ...)` and anything else to
    `load_tfds(spec, split=split, data_dir=data_dir, ...)`.

    Args:
        spec: "folder:PATH" or a tfds name such as "cifar10".
        split: tfds split (ignored for folders).
        data_dir: tfds data folder (ignored for folders).
        **kwargs: Arguments of `load_image_folder` / `load_tfds` such as
            `batch_size`, `conditional`, `flip`, `seed`, `repeat`,
            `fraction`, `subset`, `d_steps`, `initial_step`.

    Returns:
        `(dataset, class_names)`; class_names is None for tfds datasets.

    Example:

    ```python
    dataset, _ = load_dataset("folder:data/100-shot-obama", batch_size=32,
                              seed=0, d_steps=4, initial_step=restored_step)
    ```
    """
    if spec.startswith(FOLDER_PREFIX):
        return load_image_folder(spec[len(FOLDER_PREFIX):], **kwargs)
    return load_tfds(spec, split=split, data_dir=data_dir, **kwargs), None


def subset_members(spec, split="train", data_dir=None, fraction=1.0, subset="stratified",
                   label_key="label"):
    """The examples `load_dataset` trains on, as a JSON-serialisable list.

    Selects exactly as `load_dataset(spec, split=split, data_dir=data_dir,
    fraction=fraction, subset=subset)` does, so a run can record which
    examples it used.

    Args:
        spec: "folder:PATH" (an image folder or archive of one) or a tfds
            name such as "cifar10".
        split: tfds split (ignored for folders).
        data_dir: tfds data folder (ignored for folders).
        fraction: Share to keep, in (0, 1], as in `load_tfds`.
        subset: "stratified", "reference" or "first", as in `load_tfds`
            (folders take only "stratified").
        label_key: The label feature of tfds examples, for "stratified".

    Returns:
        For folders, the kept files' paths relative to the folder, with
        "/" separators, in sorted listing order (e.g. "cat/0042.jpg"). For
        tfds, the kept examples' "id" strings (e.g. "train_16399", whose
        number is the index in the original CIFAR order) in tfds's order,
        or, for datasets without an "id" feature, their int positions in
        tfds's order of the split (`shuffle_files=False`).

    Raises:
        ValueError, RuntimeError: As `load_image_folder` / `load_tfds` for
            a bad spec, fraction or subset.

    Example:

    ```python
    manifest["examples"] = subset_members("cifar10", fraction=0.1, subset="reference")
    ```
    """
    if spec.startswith(FOLDER_PREFIX):
        path, files, _, _ = _folder_selection(spec[len(FOLDER_PREFIX):], fraction, subset)
        return [os.path.relpath(file, path).replace(os.sep, "/") for file in files]
    validate_fraction(fraction)
    validate_subset(subset)
    dataset = _load_tfds_split(spec, split, data_dir, shuffle_files=False, seed=0)
    keep = _tfds_selection(dataset, fraction, subset, label_key)
    if not isinstance(dataset.element_spec, dict) or "id" not in dataset.element_spec:
        return (keep if keep is not None else np.arange(_count(dataset))).tolist()
    ids = dataset.map(lambda element: element["id"])
    if keep is not None:
        ids = _keep_positions(ids, keep)
    return [example_id.decode() for example_id in ids.as_numpy_iterator()]
