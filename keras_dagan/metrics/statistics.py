"""Running statistics of classifier features, in bounded memory, cacheable."""

import os

import numpy as np

from keras_dagan.files import atomic_path


class FeatureStatistics:
    """The mean and covariance of a stream of feature vectors, plus a sample.

    `update` adds a batch; memory stays O(D^2) however many batches pass
    (sums in float64), except for the first `kid_samples` feature vectors,
    which are kept for KID (an unbiased estimator, so a fixed-size sample
    is enough). The statistics save to and load from an `.npz` file, so
    the reference statistics of a dataset are computed once.

    Args:
        kid_samples: How many feature vectors to keep for KID; 0 keeps none.

    Example:

    ```python
    statistics = FeatureStatistics()
    for images in batches:
        statistics.update(extractor(images)["features"])
    statistics.mean, statistics.covariance, statistics.count
    ```
    """

    def __init__(self, kid_samples=10_000):
        if not isinstance(kid_samples, int) or kid_samples < 0:
            raise ValueError(f"kid_samples must be an integer >= 0; got {kid_samples!r}.")
        self.kid_samples = kid_samples
        self.count = 0
        self._sum = None
        self._outer_sum = None
        self._kept = []

    @classmethod
    def from_features(cls, features, kid_samples=None):
        """The statistics of one (N, D) array of features (all kept for KID
        unless `kid_samples` says otherwise)."""
        features = np.asarray(features)
        statistics = cls(len(features) if kid_samples is None else kid_samples)
        statistics.update(features)
        return statistics

    def update(self, features):
        """Adds a batch of feature vectors, (N, D) or anything flattening to it."""
        features = np.asarray(features, "float64")
        features = features.reshape(len(features), -1)
        if self._sum is None:
            self._sum = np.zeros(features.shape[1])
            self._outer_sum = np.zeros((features.shape[1], features.shape[1]))
        elif features.shape[1] != self._sum.shape[0]:
            raise ValueError(
                f"Got {features.shape[1]}-dimensional features after "
                f"{self._sum.shape[0]}-dimensional ones; use one extractor per statistics."
            )
        self.count += len(features)
        self._sum += features.sum(axis=0)
        self._outer_sum += features.T @ features
        room = self.kid_samples - sum(len(kept) for kept in self._kept)
        if room > 0:
            self._kept.append(features[:room].astype("float32"))

    def _require_samples(self, minimum):
        if self.count < minimum:
            raise ValueError(
                f"These statistics hold {self.count} feature vectors; at least "
                f"{minimum} are needed."
            )

    @property
    def mean(self):
        self._require_samples(1)
        return self._sum / self.count

    @property
    def covariance(self):
        """The unbiased sample covariance (divided by count - 1), as TF-GAN's."""
        self._require_samples(2)
        mean = self.mean
        return (self._outer_sum - self.count * np.outer(mean, mean)) / (self.count - 1)

    @property
    def kid_features(self):
        """The kept feature vectors, (min(count, kid_samples), D) float32."""
        self._require_samples(1)
        return np.concatenate(self._kept) if self._kept else np.zeros((0, len(self._sum)), "float32")

    def save(self, path):
        """Writes the statistics to an `.npz` file, atomically."""
        self._require_samples(1)
        with atomic_path(path) as partial:
            with open(partial, "wb") as file:
                np.savez(file, count=self.count, sum=self._sum, outer_sum=self._outer_sum,
                         kid_samples=self.kid_samples, kid_features=self.kid_features)

    @classmethod
    def load(cls, path):
        """Reads statistics written by `save`."""
        with np.load(os.fspath(path)) as data:
            statistics = cls(int(data["kid_samples"]))
            statistics.count = int(data["count"])
            statistics._sum = data["sum"]
            statistics._outer_sum = data["outer_sum"]
            statistics._kept = [data["kid_features"]]
        return statistics
