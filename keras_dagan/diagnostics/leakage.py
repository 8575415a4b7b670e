"""Augmentation leakage: how many generated samples carry an augmentation.

When D only ever sees augmented images, G may learn to produce the
augmentation itself: cutout squares, rotated or colour-shifted samples. For
each transform family of the library whose presence in a sample is a leak,
a small CNN learns to tell real images from the same images transformed by
the library's own layers, on the user's training images. Its rates on
held-out real images, clean (false positives, FPR) and transformed (true
positives, TPR), turn the share of generated samples it flags into an
estimate of the share that carry the transform:

    leakage = clip((flagged share - FPR) / (TPR - FPR), 0, 1)

near 0 for a clean generator and near 1 when every sample carries the
transform. Horizontal flips are left out: the data is flip-augmented, so a
flipped sample is no leak, and every detector sees flipped images on both
sides.
"""

import hashlib
import json
import os

import keras
import numpy as np

from keras_dagan.augment.adaptive import COLOR_TRANSFORMS, GEOMETRIC_TRANSFORMS, AdaptiveAugment
from keras_dagan.augment.color import RandomColor
from keras_dagan.augment.cutout import RandomCutout
from keras_dagan.augment.translation import RandomTranslation
from keras_dagan.files import atomic_path
from keras_dagan.models.dag_transforms import TRANSFORM_GROUPS, crop_corner, rotate

# Family -> what it detects. Quarter turns are both ADA's rotate90 and DAG's
# rotation heads; ADA's integer translation and cutout look like
# DiffAugment's translation and cutout.
LEAK_FAMILIES = {
    "color": "DiffAugment color: brightness, saturation and contrast shifts",
    "translation": "DiffAugment translation: shifts of up to 1/8 with grey borders",
    "cutout": "DiffAugment (and ADA) cutout: a grey square of half the image size",
    "rotation": "quarter turns: ADA's rotate90 and DAG's rotation heads",
    "geometric": "ADA geometric: scaling, arbitrary rotation, anisotropy, fractional shifts",
    "ada_color": "ADA colour: brightness, contrast, luma flip, hue and saturation",
    "crop": "DAG's cropping heads: a 3/4 corner crop resized to full size",
}

# A detector whose TPR - FPR on held-out images is below this cannot tell
# the transform apart; its leakage is reported as None rather than noise.
MIN_SEPARATION = 0.2

# Training steps of each detector: 20 to 90 s on 2 busy CPU cores at 32 px,
# for the held-out accuracies the README reports.
DETECTOR_STEPS = 500

# Bump when the detector's architecture or training changes, so that cached
# detectors of the old kind are not reused.
DETECTOR_VERSION = 1


def family_transform(family, seed=0):
    """The library transform of one leak family, as `images -> images`.

    Args:
        family: A key of `LEAK_FAMILIES`.
        seed: Seed of the transform's draws.

    Returns:
        A callable taking float32 images in [-1, 1], (N, H, W, C), and
        returning them transformed (NumPy, same shape).

    Example:

    ```python
    cut = family_transform("cutout", seed=0)(images)
    ```
    """
    if family not in LEAK_FAMILIES:
        raise ValueError(f"Unknown leak family {family!r}; valid families are "
                         f"{', '.join(LEAK_FAMILIES)}.")
    layers = {
        "color": lambda: RandomColor(seed=seed),
        "translation": lambda: RandomTranslation(seed=seed),
        "cutout": lambda: RandomCutout(seed=seed),
        # p = 1 with the controller off: every sample gets every transform
        # of the family, at the paper's strengths.
        "geometric": lambda: AdaptiveAugment(
            None, p=1.0, target=None, seed=seed,
            multipliers={name: 1.0 for name in GEOMETRIC_TRANSFORMS}),
        "ada_color": lambda: AdaptiveAugment(
            None, p=1.0, target=None, seed=seed,
            multipliers={name: 1.0 for name in COLOR_TRANSFORMS}),
    }
    if family in layers:
        layer = layers[family]()
        return lambda images: keras.ops.convert_to_numpy(layer(images, training=True))
    rng = np.random.default_rng(seed)
    if family == "rotation":
        choices = [lambda x, turns=turns: rotate(x, turns) for turns in (1, 2, 3)]
    else:
        corners = [name[len("crop_"):] for name in TRANSFORM_GROUPS["cropping"]]
        choices = [lambda x, corner=corner: crop_corner(x, corner) for corner in corners]

    def per_sample_choice(images):
        images = np.asarray(images, "float32")
        picks = rng.integers(len(choices), size=len(images))
        transformed = images.copy()
        for index, choice in enumerate(choices):
            chosen = picks == index
            if np.any(chosen):
                transformed[chosen] = keras.ops.convert_to_numpy(choice(images[chosen]))
        return transformed

    return per_sample_choice


def _as_unit_float(images):
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype("float32") / 127.5 - 1.0
    return images.astype("float32")


def detector_model(image_shape):
    """The small CNN of one detector: logits of "transformed" for images in [-1, 1].

    Strided convolutions down to 4x4 and a dense layer over the flattened
    map, which keeps where things are (rotation is only visible from the
    layout of the image).

    Args:
        image_shape: (height, width, channels); height and width >= 8.

    Example:

    ```python
    model = detector_model((32, 32, 3))
    ```
    """
    inputs = keras.Input(image_shape)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    for width in (32, 64, 128):
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x), name="leak_detector")


class LeakageDetector:
    """Detects one transform family in images, with its held-out rates.

    Args:
        family: A key of `LEAK_FAMILIES`.
        image_shape: (height, width, channels) of the data.
        model: A trained `detector_model`, or None for a new one.

    Attributes:
        true_positive_rate: Share of transformed held-out images flagged
            (set by `calibrate`).
        false_positive_rate: Share of clean held-out images flagged.
        accuracy: Held-out accuracy on clean and transformed images.

    Example:

    ```python
    detector = LeakageDetector("cutout", (32, 32, 3))
    detector.fit(train_images, steps=300)
    detector.calibrate(test_images)
    detector.leakage(generated_images)
    ```
    """

    def __init__(self, family, image_shape, model=None):
        family_transform(family)  # validates the name
        self.family = family
        self.image_shape = tuple(image_shape)
        if len(self.image_shape) != 3 or min(self.image_shape[:2]) < 8:
            raise ValueError(f"A leak detector needs images of at least 8x8 pixels, (H, W, C); "
                             f"got shape {self.image_shape}.")
        self.model = model if model is not None else detector_model(self.image_shape)
        self.true_positive_rate = None
        self.false_positive_rate = None
        self.accuracy = None

    def _check_shape(self, images, what):
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"The {self.family!r} leak detector was trained on images of shape "
                f"{self.image_shape}; the {what} have shape {tuple(images.shape[1:])}. Generate "
                "at the data's resolution, or train detectors on data of this size."
            )

    def fit(self, images, steps=DETECTOR_STEPS, batch_size=64, seed=0, learning_rate=1e-3):
        """Trains on real images against their transforms, and returns self.

        Each step takes `batch_size` images, flips each left-right with
        probability 1/2 (so flips never tell), and transforms half of them.

        Args:
            images: (N, H, W, C) training images, uint8 or float in [-1, 1].
            steps: Adam steps.
            batch_size: Images per step, half of them transformed.
            seed: Seed of the batches, flips and transforms.
            learning_rate: Adam's learning rate.
        """
        images = _as_unit_float(images)
        self._check_shape(images, "training images")
        rng = np.random.default_rng(seed)
        transform = family_transform(self.family, seed)
        self.model.compile(keras.optimizers.Adam(learning_rate),
                           keras.losses.BinaryCrossentropy(from_logits=True))
        labels = (np.arange(batch_size) < batch_size // 2).astype("float32")[:, None]
        for _ in range(steps):
            batch = images[rng.integers(len(images), size=batch_size)]
            flips = rng.random(batch_size) < 0.5
            batch[flips] = batch[flips, :, ::-1]
            batch[: batch_size // 2] = transform(batch[: batch_size // 2])
            self.model.train_on_batch(batch, labels)
        return self

    def flagged(self, images, batch_size=256):
        """(N,) bool: which images the detector takes for transformed."""
        images = _as_unit_float(images)
        self._check_shape(images, "images")
        logits = self.model.predict(images, batch_size=batch_size, verbose=0)
        return logits[:, 0] > 0

    def calibrate(self, heldout_images, seed=1):
        """Measures the detector's rates on held-out real images, clean and
        transformed (with draws other than training's), and returns self."""
        heldout = _as_unit_float(heldout_images)
        transform = family_transform(self.family, seed + 1000)
        # In chunks: ADA's resampling of 10k images at once takes gigabytes.
        transformed = np.concatenate([transform(heldout[start:start + 256])
                                      for start in range(0, len(heldout), 256)])
        self.false_positive_rate = float(np.mean(self.flagged(heldout)))
        self.true_positive_rate = float(np.mean(self.flagged(transformed)))
        self.accuracy = (self.true_positive_rate + 1 - self.false_positive_rate) / 2
        return self

    def leakage(self, images):
        """The estimated share of `images` that carry the transform, in [0, 1].

        None when the detector cannot separate the transform (TPR - FPR
        below `MIN_SEPARATION` on held-out images).
        """
        if self.true_positive_rate is None:
            raise ValueError("Call calibrate(heldout_images) before leakage().")
        separation = self.true_positive_rate - self.false_positive_rate
        if separation < MIN_SEPARATION:
            return None
        flagged = float(np.mean(self.flagged(images)))
        return float(np.clip((flagged - self.false_positive_rate) / separation, 0.0, 1.0))


def detector_cache_path(cache_dir, family, train_images, steps, batch_size, seed):
    """The cache file of one detector, keyed by the training images' bytes,
    the family, the training budget and the detector version."""
    digest = hashlib.sha1(np.ascontiguousarray(train_images).tobytes())
    digest.update(json.dumps([family, list(train_images.shape), str(train_images.dtype), steps,
                              batch_size, seed, DETECTOR_VERSION]).encode())
    return os.path.join(os.path.expanduser(cache_dir), "leak_detectors",
                        f"{family}-{digest.hexdigest()[:16]}.keras")


def train_leakage_detectors(train_images, heldout_images, families=tuple(LEAK_FAMILIES),
                            steps=DETECTOR_STEPS, batch_size=64, seed=0, cache_dir=None):
    """Trains (or loads from `cache_dir`) and calibrates one detector per family.

    Args:
        train_images: (N, H, W, C) the training images, uint8 or float in
            [-1, 1].
        heldout_images: (H, ...) real images kept out of training, for the
            detectors' rates (and never passed to `fit`).
        families: Keys of `LEAK_FAMILIES`.
        steps: Training steps per detector.
        batch_size: Images per step.
        seed: Seed of the training draws.
        cache_dir: Folder for trained detectors (under `leak_detectors/`),
            or None to train every time.

    Returns:
        A dict {family: calibrated `LeakageDetector`}.

    Example:

    ```python
    detectors = train_leakage_detectors(train_images, test_images, cache_dir="~/.cache/keras_dagan")
    augmentation_leakage(detectors, generated_images)  # {"cutout": 0.02, ...}
    ```
    """
    train_images = np.asarray(train_images)
    image_shape = train_images.shape[1:]
    detectors = {}
    for family in families:
        path = None
        if cache_dir is not None:
            path = detector_cache_path(cache_dir, family, train_images, steps, batch_size, seed)
        if path is not None and os.path.exists(path):
            detector = LeakageDetector(family, image_shape, keras.saving.load_model(path))
        else:
            detector = LeakageDetector(family, image_shape).fit(
                train_images, steps=steps, batch_size=batch_size, seed=seed)
            if path is not None:
                with atomic_path(path) as partial:
                    detector.model.save(partial)
        detectors[family] = detector.calibrate(heldout_images, seed=seed)
    return detectors


def augmentation_leakage(detectors, generated_images):
    """{family: estimated share of `generated_images` carrying it} (None for a
    detector that cannot separate its transform).

    Example:

    ```python
    augmentation_leakage(train_leakage_detectors(train, test), generated)
    ```
    """
    return {family: detector.leakage(generated_images) for family, detector in detectors.items()}
