"""`Diagnostics`: the limited-data checks of a generator, prepared once.

Holds the training and held-out real images with their extractor features
and the trained leak detectors, so that scoring a generator's samples (once
from `scripts/evaluate.py`, or every N steps from `FIDCallback`) only
extracts the samples' features. The keys it returns:

- "memorization" and "data_copying": see `memorization` and `data_copying`;
- "leakage": {family: estimated share of samples carrying it};
- "precision", "recall", "density", "coverage": see
  `keras_dagan.metrics.manifold`, against the real features given.
"""

from keras_dagan.diagnostics.data_copying import data_copying
from keras_dagan.diagnostics.leakage import (
    DETECTOR_STEPS,
    LEAK_FAMILIES,
    augmentation_leakage,
    train_leakage_detectors,
)
from keras_dagan.diagnostics.memorization import memorization, write_copies_png
from keras_dagan.files import as_uint8
from keras_dagan.metrics.evaluation import image_features
from keras_dagan.metrics.manifold import density_coverage, precision_recall

class Diagnostics:
    """Memorization, augmentation leakage and precision/recall of generated samples.

    Args:
        extractor: The feature extractor (see `keras_dagan.metrics`).
        train_images: (N, H, W, C) the images the GAN trained on, uint8 or
            float in [-1, 1].
        heldout_images: Real images it never saw (e.g. the test split), for
            the memorization threshold, C_T and the detectors' rates; None
            when only precision and recall are wanted.
        memorization: Whether to report "memorization" and "data_copying".
        leakage: Whether to train (or load) leak detectors and report
            "leakage".
        precision_recall: Whether to report precision, recall, density and
            coverage.
        real_features: (R, D) features of the real set that precision and
            recall compare with (e.g. FID's reference set); None uses the
            training images.
        leak_families: Keys of `LEAK_FAMILIES` to detect.
        detector_steps: Training steps of each leak detector.
        cache_dir: Where trained detectors are cached, or None.
        batch_size: Images per extractor call.

    Raises:
        ValueError: If the image sets differ in shape, or the extractor
            does not take images of this resolution.

    Example:

    ```python
    diagnostics = Diagnostics(cifar10_extractor(), train_images, test_images,
                              cache_dir="~/.cache/keras_dagan")
    diagnostics(generated_images)
    # {"memorization": 0.01, "data_copying": 0.4, "leakage": {"cutout": 0.0, ...},
    #  "precision": 0.7, "recall": 0.5, "density": 0.9, "coverage": 0.8}
    ```
    """

    def __init__(self, extractor, train_images, heldout_images, memorization=True, leakage=True,
                 precision_recall=True, real_features=None, leak_families=tuple(LEAK_FAMILIES),
                 detector_steps=DETECTOR_STEPS, cache_dir=None, batch_size=250):
        self.train_images = as_uint8(train_images)
        if heldout_images is None:
            if memorization or leakage:
                raise ValueError("Memorization and leakage need held-out real images "
                                 "(heldout_images), such as the test split.")
        else:
            heldout_images = as_uint8(heldout_images)
            if self.train_images.shape[1:] != heldout_images.shape[1:]:
                raise ValueError(
                    f"The training images are {self.train_images.shape[1:]} and the held-out "
                    f"images {heldout_images.shape[1:]}; both must have the data's shape."
                )
        self.extractor = extractor
        self.batch_size = batch_size
        self.memorization = memorization
        self.precision_recall = precision_recall
        self.train_features = self._features(self.train_images, "training images")
        if memorization:
            self.heldout_features = self._features(heldout_images, "held-out images")
        self.real_features = self.train_features if real_features is None else real_features
        self.detectors = {}
        if leakage:
            self.detectors = train_leakage_detectors(
                self.train_images, heldout_images, families=leak_families,
                steps=detector_steps, cache_dir=cache_dir)

    def _features(self, images, what):
        try:
            return image_features(self.extractor, images, self.batch_size)
        except ValueError as error:
            raise ValueError(f"The feature extractor cannot read the {what}: {error}") from None

    def __call__(self, generated_images, copies_png=None):
        """Scores generated samples.

        Args:
            generated_images: (M, H, W, C) samples, uint8 or float in [-1, 1],
                of the data's shape.
            copies_png: With memorization, a PNG path for the most-copied
                samples beside their nearest training images, or None.

        Returns:
            A dict of the enabled keys (see the module docstring).

        Raises:
            ValueError: If the samples' shape differs from the data's, or
                there are too few for k-NN.
        """
        generated_images = as_uint8(generated_images)
        if generated_images.shape[1:] != self.train_images.shape[1:]:
            raise ValueError(
                f"The generator makes images of shape {generated_images.shape[1:]} but the data "
                f"is {self.train_images.shape[1:]}; generate at the data's resolution."
            )
        features = self._features(generated_images, "generated images")
        scores = {}
        if self.memorization:
            result = memorization(self.train_features, self.heldout_features, features)
            scores["memorization"] = result.score
            scores["data_copying"] = data_copying(self.train_features, self.heldout_features,
                                                  features)
            if copies_png is not None:
                write_copies_png(copies_png, result, generated_images, self.train_images)
        if self.detectors:
            scores["leakage"] = augmentation_leakage(self.detectors, generated_images)
        if self.precision_recall:
            scores["precision"], scores["recall"] = precision_recall(self.real_features, features)
            scores["density"], scores["coverage"] = density_coverage(self.real_features, features)
        return scores

    def detector_accuracies(self):
        """{family: held-out accuracy of its detector}."""
        return {family: detector.accuracy for family, detector in self.detectors.items()}

