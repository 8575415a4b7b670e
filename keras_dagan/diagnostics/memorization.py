"""Memorization: the share of generated samples that copy a training image.

With few training images a generator can learn to reproduce them, and FID
against that small training set rewards it. Each generated sample is matched
to its nearest training image in the extractor's feature space. Whether that
distance is "a copy" is calibrated on held-out real images, which no model
has seen: their distances to the nearest training image give the normal
closeness of an unseen image. A generated sample closer to a training image
than all but a `quantile` share of held-out images is counted as a
near-copy.
"""

import dataclasses

import numpy as np

from keras_dagan.files import as_uint8, image_grid, write_png
from keras_dagan.metrics.neighbors import nearest_neighbors

# Closer than 95 % of unseen real images counts as a near-copy.
COPY_QUANTILE = 0.05


@dataclasses.dataclass
class Memorization:
    """What `memorization` found.

    Attributes:
        score: Share of near-copies beyond the `quantile` that unseen real
            images reach, rescaled to [0, 1]: (share - quantile) /
            (1 - quantile), clipped. About 0 for a generator whose samples
            are as new as unseen real images, 1 when every sample copies a
            training image.
        copied_share: The raw share of generated samples under `threshold`.
        threshold: The distance under which a sample counts as a copy: the
            `quantile` of the held-out images' nearest-training distances.
        distances: (M,) distance of each generated sample to its nearest
            training image.
        nearest: (M,) index of that training image.
    """

    score: float
    copied_share: float
    threshold: float
    distances: np.ndarray
    nearest: np.ndarray

    def most_copied(self, count):
        """Indices of the `count` generated samples closest to a training image."""
        return np.argsort(self.distances, kind="stable")[:count]


def memorization(train_features, heldout_features, generated_features, quantile=COPY_QUANTILE,
                 block_size=1024):
    """How many generated samples are near-copies of a training image.

    Args:
        train_features: (N, D) extractor features of the images the GAN was
            trained on.
        heldout_features: (H, D) features of real images it never saw (e.g.
            the test split), H >= 1 / quantile.
        generated_features: (M, D) features of generated samples.
        quantile: Share of held-out images allowed under the copy
            threshold, in (0, 1).
        block_size: Rows per distance block.

    Returns:
        A `Memorization`.

    Raises:
        ValueError: For a `quantile` outside (0, 1), too few held-out images
            to estimate it, or features of different sizes.

    Example:

    ```python
    result = memorization(train_features, test_features, generated_features)
    result.score  # 0: nothing copied, 1: every sample copies a training image
    ```
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1); got {quantile!r}.")
    needed = int(np.ceil(1 / quantile))
    if len(heldout_features) < needed:
        raise ValueError(
            f"The copy threshold at quantile {quantile} needs at least {needed} held-out real "
            f"images; got {len(heldout_features)}. Use more held-out images or a larger quantile."
        )
    heldout_distances, _ = nearest_neighbors(heldout_features, train_features, block_size)
    threshold = float(np.quantile(heldout_distances, quantile))
    distances, nearest = nearest_neighbors(generated_features, train_features, block_size)
    copied_share = float(np.mean(distances < threshold))
    score = float(np.clip((copied_share - quantile) / (1 - quantile), 0.0, 1.0))
    return Memorization(score, copied_share, threshold, distances, nearest)


def write_copies_png(path, result, generated_images, train_images, count=16):
    """Writes the most-copied samples beside their nearest training images.

    Each row of the PNG is one pair: the generated sample on the left, the
    training image nearest to it in feature space on the right, closest
    pairs first.

    Args:
        path: The PNG file.
        result: The `Memorization` of these images.
        generated_images: (M, H, W, C) the generated samples, in the order
            of `result.distances` (uint8, or float in [-1, 1]).
        train_images: (N, H, W, C) the training images, in the order of the
            training features.
        count: Pairs to show.

    Example:

    ```python
    write_copies_png("copies.png", result, generated_images, train_images)
    ```
    """
    chosen = result.most_copied(count)
    pairs = []
    for index in chosen:
        pairs.append(as_uint8(generated_images[index]))
        pairs.append(as_uint8(train_images[result.nearest[index]]))
    write_png(path, image_grid(np.stack(pairs), columns=2))

