"""Streaming evaluation: images in batches through an extractor, into scores.

`image_statistics` pushes any stream of image batches through a feature
extractor into `FeatureStatistics` (and Inception-score splits), for example
the stream `keras_dagan.samples.generated_batches` makes from a generator; `reference_statistics`
caches the statistics of real data; `score_generator` puts it together.
"""

import os
import re

import numpy as np

from keras_dagan.files import as_uint8
from keras_dagan.metrics.scores import frechet_distance, kernel_distance, split_score
from keras_dagan.metrics.statistics import FeatureStatistics


def images_of(batch):
    """The images of a batch given alone, as `(images, labels)` or as `{"image": ...}`."""
    if isinstance(batch, dict):
        return batch["image"]
    if isinstance(batch, (tuple, list)):
        return batch[0]
    return batch


def image_statistics(extractor, batches, num_samples, is_splits=10, kid_samples=10_000):
    """Runs `num_samples` images from `batches` through `extractor`.

    Memory is bounded by the feature covariance, `kid_samples` feature
    vectors and one Inception-score split of logits (num_samples / is_splits
    rows), so 50k samples stream through.

    Args:
        extractor: A feature extractor (see `keras_dagan.metrics.extractors`).
        batches: An iterable (e.g. a `tf.data.Dataset`) of image batches:
            float in [-1, 1] or uint8, alone, as `(images, labels)` or as
            `{"image": ...}` dicts. The last batch is cut to `num_samples`.
        num_samples: How many images to use; None uses the whole (finite)
            stream and skips IS.
        is_splits: Inception-score splits; 0 or an extractor without logits
            skips IS.
        kid_samples: Feature vectors kept for KID.

    Returns:
        `(statistics, split_scores)`: the `FeatureStatistics` and the list of
        per-split classifier scores (empty when IS is skipped).

    Raises:
        ValueError: If `batches` runs out before `num_samples` images.

    Example:

    ```python
    statistics, _ = image_statistics(cifar10_extractor(), dataset, 10_000, is_splits=0)
    ```
    """
    if num_samples is not None and (not isinstance(num_samples, int) or num_samples < 2):
        raise ValueError(f"num_samples must be an integer >= 2, or None; got {num_samples!r}.")
    use_logits = bool(is_splits) and extractor.has_logits and num_samples is not None
    if use_logits and not 1 <= is_splits <= num_samples:
        raise ValueError(f"is_splits must be in [0, num_samples={num_samples}]; got {is_splits}.")
    split_size = num_samples // is_splits if use_logits else 0
    limit = num_samples if num_samples is not None else float("inf")
    statistics = FeatureStatistics(kid_samples=int(min(kid_samples, limit)))
    pending_logits, scores = [], []
    seen = 0
    for batch in batches:
        images = images_of(batch)
        if num_samples is not None:
            images = images[: num_samples - seen]
        outputs = extractor(images)
        statistics.update(outputs["features"].numpy())
        seen += len(images)
        if use_logits:
            pending_logits.append(outputs["logits"].numpy())
            pending = np.concatenate(pending_logits)
            while len(pending) >= split_size and len(scores) < is_splits:
                scores.append(split_score(pending[:split_size]))
                pending = pending[split_size:]
            pending_logits = [pending]
        if seen >= limit:
            return statistics, scores
    if num_samples is None and seen >= 2:
        return statistics, scores
    raise ValueError(
        f"The image stream ended after {seen} images; {num_samples or 2} were needed. "
        "Lower num_samples or use a larger (or repeating) dataset."
    )


def statistics_cache_path(cache_dir, dataset, split, extractor_name, num_samples):
    """The cache file of one dataset's reference statistics."""
    key = "-".join(str(part) for part in (dataset, split, extractor_name, num_samples))
    return os.path.join(cache_dir, re.sub(r"[^A-Za-z0-9_.=-]+", "_", key) + ".npz")


def reference_statistics(extractor, batches, num_samples, cache_path=None, kid_samples=10_000):
    """The statistics of real images, read from `cache_path` when it exists.

    Otherwise computed from `batches` (see `image_statistics`) and written to
    `cache_path` atomically. Name the file with `statistics_cache_path`, which
    keys it by dataset, split, extractor and sample count.

    Args:
        extractor: The feature extractor.
        batches: Real image batches (only read on a cache miss).
        num_samples: Images to use; None for all of `batches`.
        cache_path: `.npz` file, or None for no caching.
        kid_samples: Feature vectors kept for KID.

    Returns:
        A `FeatureStatistics`.

    Example:

    ```python
    path = statistics_cache_path("~/.cache/keras_dagan", "cifar10", "train", "inception", 50000)
    real = reference_statistics(extractor, dataset, 50000, cache_path=path)
    ```
    """
    if cache_path is not None and os.path.exists(cache_path):
        statistics = FeatureStatistics.load(cache_path)
        if num_samples is None or statistics.count == num_samples:
            return statistics
    statistics, _ = image_statistics(extractor, batches, num_samples, is_splits=0,
                                     kid_samples=kid_samples)
    if cache_path is not None:
        statistics.save(cache_path)
    return statistics


def score_images(extractor, real_statistics, batches, num_samples, is_splits=10, kid=True):
    """FID (and IS, KID) of `num_samples` images from `batches` against real statistics.

    Args:
        extractor: The feature extractor used for `real_statistics`.
        real_statistics: `FeatureStatistics` of the real data.
        batches: Image batches to score, e.g. `generated_batches(...)`.
        num_samples: Images to score.
        is_splits: Inception-score splits (0 skips IS).
        kid: Whether to compute KID (needs kept real features).

    Returns:
        A dict with "fid", "num_samples", and when available "is",
        "is_std", "kid", "kid_std".

    Example:

    ```python
    scores = score_images(extractor, real, generated_batches(...), 5000)
    ```
    """
    statistics, split_scores = image_statistics(
        extractor, batches, num_samples, is_splits=is_splits,
        kid_samples=len(real_statistics.kid_features) if kid else 0)
    scores = {"fid": frechet_distance(real_statistics, statistics), "num_samples": num_samples}
    if split_scores:
        scores["is"] = float(np.mean(split_scores))
        scores["is_std"] = float(np.std(split_scores))
    if kid and len(real_statistics.kid_features) >= 2:
        scores["kid"], scores["kid_std"] = kernel_distance(
            real_statistics.kid_features, statistics.kid_features)
    return scores


def dataset_statistics(extractor, dataset, split="train", data_dir=None, num_samples=None,
                       image_size=None, cache_dir=None, batch_size=250, fraction=1.0,
                       subset="stratified"):
    """`reference_statistics` of a dataset named as the scripts name it.

    Loads `dataset` ("folder:PATH" or a tfds name, see
    `keras_dagan.data.load_dataset`) in one unflipped pass, resized to
    `image_size` if given, and caches the statistics in `cache_dir` under a
    name keyed by dataset, split, size, subset, extractor and sample count.

    Args:
        extractor: The feature extractor.
        dataset: "folder:PATH" or a tfds name.
        split: tfds split.
        data_dir: tfds data_dir.
        num_samples: Images to use; None for all.
        image_size: (height, width) to resize to, or None.
        cache_dir: Cache folder, or None for no caching.
        batch_size: Images per extractor call.
        fraction: Share of the split to use, as training's `--data_fraction`
            (the same images: see `load_dataset`).
        subset: How that share is picked, as `load_dataset`'s `subset`.

    Returns:
        A `FeatureStatistics`.

    Raises:
        ValueError, RuntimeError: From `load_dataset` for a bad dataset.

    Example:

    ```python
    real = dataset_statistics(cifar10_extractor(), "cifar10", cache_dir="~/.cache/keras_dagan")
    ```
    """
    real = _dataset_batches(dataset, split, data_dir, image_size, batch_size, fraction, subset)
    cache_path = None
    if cache_dir is not None:
        size = "" if image_size is None else f"-{image_size[0]}x{image_size[1]}"
        part = "" if fraction == 1.0 else f"-{subset}{fraction:g}"
        cache_path = statistics_cache_path(os.path.expanduser(cache_dir), dataset,
                                           split + size + part, extractor.name,
                                           num_samples or "all")
    return reference_statistics(extractor, real, num_samples, cache_path=cache_path)


def _dataset_batches(dataset, split, data_dir, image_size, batch_size, fraction, subset):
    """One unflipped pass over a dataset named as the scripts name it."""
    from keras_dagan.data import load_dataset

    real, _ = load_dataset(dataset, split=split, data_dir=data_dir, batch_size=batch_size,
                           flip=False, repeat=False, drop_remainder=False, cache=False, seed=0,
                           image_size=image_size, fraction=fraction, subset=subset)
    return real


def dataset_images(dataset, split="train", data_dir=None, image_size=None, fraction=1.0,
                   subset="stratified", batch_size=250):
    """All images of a dataset named as the scripts name it, as one uint8 array.

    The images `load_dataset` trains on with the same `fraction` and
    `subset`, unflipped, in an order fixed by seed 0.

    Args:
        dataset: "folder:PATH" or a tfds name.
        split: tfds split.
        data_dir: tfds data_dir.
        image_size: (height, width) to resize to, or None.
        fraction: Share of the split to keep, in (0, 1].
        subset: How that share is picked (see `load_dataset`).
        batch_size: Images decoded at once.

    Returns:
        (N, H, W, C) uint8.

    Example:

    ```python
    train_images = dataset_images("folder:data/cifar10_quickstart.tar.gz", fraction=0.1)
    ```
    """
    return image_array(_dataset_batches(dataset, split, data_dir, image_size, batch_size,
                                        fraction, subset))


def image_array(batches, num_samples=None):
    """Collects image batches (as `image_statistics` takes them) into one
    uint8 array, (N, H, W, C), cut to `num_samples` when given.

    Example:

    ```python
    images = image_array(generated_batches(generator.sample, 128, 5000, 250))
    ```
    """
    collected, seen = [], 0
    for batch in batches:
        images = as_uint8(np.asarray(images_of(batch)))
        if num_samples is not None:
            images = images[: num_samples - seen]
        collected.append(images)
        seen += len(images)
        if num_samples is not None and seen >= num_samples:
            break
    if not collected:
        raise ValueError("The image stream is empty.")
    return np.concatenate(collected)


def image_features(extractor, images, batch_size=250):
    """(N, D) float32 extractor features of an image array, in batches.

    Example:

    ```python
    features = image_features(cifar10_extractor(), images)
    ```
    """
    features = [np.asarray(extractor(images[start:start + batch_size])["features"])
                for start in range(0, len(images), batch_size)]
    return np.concatenate(features).astype("float32")
