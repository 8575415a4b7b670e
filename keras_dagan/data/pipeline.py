"""Input pipelines that turn images into endless batches of GAN reals.

Every loader ends in `prepare_dataset`, which yields float32 images in
[-1, 1] with shape `(batch_size, height, width, channels)`, or
`(images, labels)` tuples with int32 labels for conditional GANs. The
datasets repeat forever, so train with
`gan.fit(dataset, steps_per_epoch=..., epochs=...)`.
"""

import os
import re
import secrets

import numpy as np
import tensorflow as tf

from keras_dagan.data.archive import extracted_folder, is_archive
from keras_dagan.data.subset import stratified_indices, validate_fraction

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
):
    """Turns a dataset of single images into endless training batches.

    The steps are: pick the image (and label) out of each element, cache,
    shuffle, repeat forever, batch, scale to float32 in [-1, 1], optionally
    flip, prefetch. Caching happens before the conversion to float so that
    uint8 images take a quarter of the memory they would as float32.

    uint8 images are mapped with `x / 127.5 - 1`, so 0 becomes -1 and 255
    becomes 1. Floating-point images are assumed to be in [-1, 1] already
    and are only cast to float32; they are not rescaled or checked.

    The result repeats forever, so pass `steps_per_epoch` to `fit`.

    Args:
        dataset: A `tf.data.Dataset` whose elements are one image each, as
            a uint8 or float tensor of shape `(height, width, channels)`,
            an `(image, label)` tuple, or a dict such as those of
            `tfds.load` (`{"image": ..., "label": ..., ...}`; other keys
            are ignored).
        batch_size: Images per batch, at least 1.
        conditional: If True, yield `(images, labels)`; the elements must
            carry integer class labels, scalars or of shape `(1,)`. If
            False, labels are dropped.
        flip: If True, flip each real image left-right with probability
            0.5, as the DiffAugment paper does for every model.
        shuffle_buffer: Size of the shuffle buffer, at least 1 (1 keeps
            the input order). Reshuffled on every pass over the data.
        cache: If True, keep the decoded images in memory after the first
            pass. Turn off for datasets larger than memory.
        seed: Integer seed that makes shuffling and flipping reproducible,
            or None for a different stream on every run.
        drop_remainder: Whether `batch` drops a short last batch. As the
            data repeats before batching, no batch is ever short; True
            only makes the batch dimension static, which XLA likes.
        image_key: Key of the image when elements are dicts.
        label_key: Key of the label when elements are dicts.
        image_size: None keeps the images' size; (height, width) resizes
            them (area-averaged when shrinking, bilinear when enlarging)
            before caching.
        repeat: If True, repeat forever (training). False makes one pass
            over the data, e.g. for evaluation; pass
            `drop_remainder=False` too to keep a short last batch.

    Returns:
        An infinite (unless `repeat=False`) `tf.data.Dataset` of float32
        image batches of shape
        `(batch_size, height, width, channels)`, or of
        `(images, labels)` tuples with int32 labels of shape
        `(batch_size,)` when `conditional` is True.

    Raises:
        ValueError: If `dataset` is not a `tf.data.Dataset`, `batch_size`
            or `shuffle_buffer` is below 1, the images are not rank 3 or
            not uint8/float, the labels are not integer scalars, or
            `conditional` is True and the elements carry no labels.

    Example:

    ```python
    (x, y), _ = keras.datasets.cifar10.load_data()
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = prepare_dataset(ds, batch_size=64, conditional=True, flip=True)
    gan.fit(ds, steps_per_epoch=1000, epochs=10)
    ```
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            "dataset must be a tf.data.Dataset; got "
            f"{type(dataset).__name__}. Wrap arrays with "
            "tf.data.Dataset.from_tensor_slices(images) or "
            "tf.data.Dataset.from_tensor_slices((images, labels))."
        )
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("shuffle_buffer", shuffle_buffer)
    select = _element_selector(
        dataset.element_spec, conditional, image_key, label_key
    )

    dataset = dataset.map(select, num_parallel_calls=tf.data.AUTOTUNE)
    if image_size is not None:
        dataset = dataset.map(_resizer(dataset.element_spec, tuple(image_size)),
                              num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        dataset = dataset.cache()
    dataset = dataset.shuffle(
        shuffle_buffer, seed=seed, reshuffle_each_iteration=True
    )
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    # Scaling whole batches is one vectorized op instead of one per image.
    if conditional:
        dataset = dataset.map(
            lambda images, labels: (_to_unit_range(images), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        dataset = dataset.map(
            _to_unit_range, num_parallel_calls=tf.data.AUTOTUNE
        )
    if flip:
        dataset = _random_flip(dataset, conditional, seed)
    return dataset.prefetch(tf.data.AUTOTUNE)


def load_tfds(
    name,
    split="train",
    data_dir=None,
    batch_size=64,
    conditional=False,
    flip=True,
    seed=None,
    fraction=1.0,
    **prepare_kwargs,
):
    """Loads a TensorFlow Datasets dataset as endless training batches.

    Calls `tfds.load(name, split=split, data_dir=data_dir,
    shuffle_files=True)`, which downloads and prepares the dataset on first
    use and reads the prepared copy afterwards, also offline, then passes
    the result to `prepare_dataset`.

    Args:
        name: Registered tfds name such as "cifar10", optionally with a
            config and version ("celeb_a_hq/128:2.0.0").
        split: tfds split, e.g. "train" or "train[:10%]".
        data_dir: Where tfds keeps prepared datasets; defaults to tfds's
            own (`~/tensorflow_datasets`).
        batch_size: Images per batch, at least 1.
        conditional: If True, yield `(images, labels)` from the
            dataset's `label_key` feature ("label" by default).
        flip: If True, flip each real image left-right with probability
            0.5, as the DiffAugment paper does.
        seed: Integer seed for file and element shuffling and flipping,
            or None.
        fraction: Share of each class to keep, in (0, 1]: a deterministic
            class-stratified subset (`stratified_indices` with seed 0, the
            same for every `seed`). Below 1 the split is read once, in
            order, to learn its labels.
        **prepare_kwargs: Further arguments of `prepare_dataset`, such as
            `shuffle_buffer`, `cache`, `image_key` or `label_key`.

    Returns:
        The infinite `tf.data.Dataset` of `prepare_dataset`.

    Raises:
        ValueError: If `name` is not a registered tfds dataset, or for the
            bad inputs listed in `prepare_dataset`.
        RuntimeError: If the dataset is not prepared in `data_dir` and
            tfds fails to download or prepare it (e.g. without internet).

    Example:

    ```python
    ds = load_tfds("cifar10", batch_size=64, conditional=True, seed=0)
    gan.fit(ds, steps_per_epoch=1000, epochs=10)
    ```
    """
    # Imported here: tfds takes seconds to import and only this loader
    # needs it.
    import tensorflow_datasets as tfds

    # Fail before tfds spends minutes downloading.
    _check_positive_int("batch_size", batch_size)
    validate_fraction(fraction)
    try:
        dataset = tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            # A subset is chosen by position, which needs a fixed order.
            shuffle_files=fraction == 1.0,
            # Without a seed, tfds shuffles the files differently on
            # every run even when `seed` is set.
            read_config=tfds.ReadConfig(shuffle_seed=seed),
        )
    except tfds.core.DatasetNotFoundError:
        # tfds's own message lists every registered dataset.
        raise ValueError(
            f"Unknown tfds dataset name {name!r}. Check the spelling; "
            "tensorflow_datasets.list_builders() lists the valid names."
        ) from None
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
    if fraction < 1.0:
        dataset = _stratified_subset(dataset, fraction, prepare_kwargs.get("label_key", "label"))
    return prepare_dataset(
        dataset,
        batch_size,
        conditional=conditional,
        flip=flip,
        seed=seed,
        **prepare_kwargs,
    )


def _stratified_subset(dataset, fraction, label_key):
    if not isinstance(dataset.element_spec, dict) or label_key not in dataset.element_spec:
        labels = np.zeros(int(dataset.cardinality()) if dataset.cardinality() >= 0
                          else sum(1 for _ in dataset), np.int64)
    else:
        labels = np.array([int(label) for label in dataset.map(lambda e: e[label_key])
                           .as_numpy_iterator()])
    keep = np.zeros(len(labels), bool)
    keep[stratified_indices(labels, fraction)] = True
    keep = tf.constant(keep)
    return dataset.enumerate().filter(lambda index, _: keep[index]).map(lambda _, element: element)


def load_image_folder(
    path,
    batch_size=64,
    conditional=False,
    flip=True,
    seed=None,
    fraction=1.0,
    **prepare_kwargs,
):
    """Loads a folder of same-sized images as endless training batches.

    Images (PNG, JPEG, BMP, GIF or WebP, by file extension) sit either in class
    subfolders, `path/<class>/...`, searched recursively, whose sorted
    names give the labels 0..K-1, or directly in `path`, which gives no
    labels. Every image is decoded once up front, in parallel, to check
    that it is readable and that all share one size; the pipeline then
    decodes them again with
    `tf.io.decode_image(channels=3, expand_animations=False)`, so images
    always have 3 channels.

    Args:
        path: The folder, or a .tar, .tar.gz, .tgz or .zip archive of one,
            which is unpacked once into `~/.cache/keras_dagan/extracted`.
        batch_size: Images per batch, at least 1.
        conditional: If True, yield `(images, labels)`; needs class
            subfolders.
        flip: If True, flip each real image left-right with probability
            0.5, as the DiffAugment paper does.
        seed: Integer seed for the file order, shuffling and flipping, or
            None.
        fraction: Share of each class folder to keep, in (0, 1]: a
            deterministic class-stratified subset (`stratified_indices`
            with seed 0, the same for every `seed`).
        **prepare_kwargs: Further arguments of `prepare_dataset`, such as
            `shuffle_buffer`, `cache` or `image_size`.

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
            `conditional` is True without class subfolders, or for the
            bad inputs listed in `prepare_dataset`.

    Example:

    ```python
    # flowers/daisy/*.jpg, flowers/rose/*.jpg, ... all 64x64
    ds, class_names = load_image_folder("flowers", conditional=True)
    gan.fit(ds, steps_per_epoch=500, epochs=20)
    ```
    """
    _check_positive_int("batch_size", batch_size)
    validate_fraction(fraction)
    path = os.fspath(path)
    if is_archive(path):
        path = extracted_folder(path)
    files, labels, class_names = _list_images(path)
    if fraction < 1.0:
        keep = stratified_indices(labels if class_names else np.zeros(len(files)), fraction)
        files = [files[i] for i in keep]
        labels = [labels[i] for i in keep] if class_names else []
    if conditional and not class_names:
        raise ValueError(
            f"conditional=True needs labels, but the images in {path!r} "
            "are not in class subfolders. Move them into "
            f"{os.path.join(path, '<class name>')} folders, or pass "
            "conditional=False."
        )
    shape = _common_image_shape(files, path)

    # Files are listed class by class; a shuffle buffer smaller than the
    # dataset would then start training on the first classes only.
    order = np.random.default_rng(seed).permutation(len(files))
    files = [files[i] for i in order]
    labels = [labels[i] for i in order] if class_names else []

    def load(file):
        return tf.ensure_shape(_decode_image(file), shape)

    if class_names:
        dataset = tf.data.Dataset.from_tensor_slices((files, labels)).map(
            lambda file, label: (load(file), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        dataset = tf.data.Dataset.from_tensor_slices(files).map(
            load, num_parallel_calls=tf.data.AUTOTUNE
        )
    dataset = prepare_dataset(
        dataset,
        batch_size,
        conditional=conditional,
        flip=flip,
        seed=seed,
        **prepare_kwargs,
    )
    return dataset, class_names


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}.")


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


def _random_flip(dataset, conditional, seed):
    """Flips each image of each batch left-right with probability 0.5."""
    # Stateless draws keyed by a seeded random stream are reproducible and
    # need no generator state shared between parallel map calls.
    if seed is None:
        seed = secrets.randbits(63)
    keys = tf.data.Dataset.random(
        seed=seed, rerandomize_each_iteration=True
    ).batch(2)

    def flip(element, key):
        images, labels = element if conditional else (element, None)
        mask = tf.random.stateless_uniform([tf.shape(images)[0]], key) < 0.5
        images = tf.where(
            mask[:, None, None, None], tf.reverse(images, axis=[2]), images
        )
        return (images, labels) if conditional else images

    return tf.data.Dataset.zip((dataset, keys)).map(
        flip, num_parallel_calls=tf.data.AUTOTUNE
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


def _decode_image(file):
    return tf.io.decode_image(
        tf.io.read_file(file), channels=3, expand_animations=False
    )


def _common_image_shape(files, folder, chunk_size=256):
    """Decodes every file once and returns the `(height, width, 3)` shape
    they share, naming the first file that is unreadable or differs."""
    # Shapes come back in chunks because Python-side iteration, not
    # decoding, dominates for small images.
    shapes = (
        tf.data.Dataset.from_tensor_slices(files)
        .map(
            lambda file: tf.shape(_decode_image(file)),
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
            _decode_image(file)
        except tf.errors.OpError as error:
            # Keep TensorFlow's reason, without its op and function names.
            reason = re.sub(r"\{\{.*?\}\}|\[Op:.*", "", error.message).strip()
            raise ValueError(
                f"Could not read or decode image {file!r}: {reason} "
                "Replace or delete the file."
            ) from None


FOLDER_PREFIX = "folder:"


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
            `batch_size`, `conditional`, `flip`, `seed`, `repeat`.

    Returns:
        `(dataset, class_names)`; class_names is None for tfds datasets.

    Example:

    ```python
    dataset, _ = load_dataset("folder:data/100-shot-obama", batch_size=32)
    ```
    """
    if spec.startswith(FOLDER_PREFIX):
        return load_image_folder(spec[len(FOLDER_PREFIX):], **kwargs)
    return load_tfds(spec, split=split, data_dir=data_dir, **kwargs), None
