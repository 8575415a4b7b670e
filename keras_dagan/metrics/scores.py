"""FID, IS and KID from classifier outputs, computed by TF-GAN.

Each function here takes what a feature extractor produced (activations,
logits, or their running statistics) and hands the arithmetic to TF-GAN's
evaluation module (through `keras_dagan.metrics.tfgan`), in float64.
"""

import numpy as np
import tensorflow as tf

from keras_dagan.metrics.tfgan import classifier_metrics


def frechet_distance(statistics_a, statistics_b):
    """The Fréchet distance between two Gaussians fitted to activations (FID).

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 sqrt(S_a S_b)), with the trace of
    the matrix square root from TF-GAN's `trace_sqrt_product`, the routine
    behind its `frechet_classifier_distance_from_activations`. Taking
    running statistics instead of activations lets 50k samples stream
    through in bounded memory.

    Args:
        statistics_a: A `FeatureStatistics` (or anything with `mean` (D,)
            and `covariance` (D, D) arrays), e.g. of real images.
        statistics_b: The same for the other set, e.g. generated images.

    Returns:
        The distance, a Python float (0 for identical statistics).

    Example:

    ```python
    fid = frechet_distance(FeatureStatistics.from_features(real_features),
                           FeatureStatistics.from_features(fake_features))
    ```
    """
    mean_a, mean_b = np.asarray(statistics_a.mean, "float64"), np.asarray(statistics_b.mean, "float64")
    cov_a = np.asarray(statistics_a.covariance, "float64")
    cov_b = np.asarray(statistics_b.covariance, "float64")
    if mean_a.shape != mean_b.shape:
        raise ValueError(
            f"Cannot compare statistics of {mean_a.shape[0]}-dimensional and "
            f"{mean_b.shape[0]}-dimensional features: they come from different "
            "feature extractors. Compute both with the same extractor."
        )
    trace_sqrt = float(classifier_metrics.trace_sqrt_product(cov_a, cov_b))
    distance = np.sum(np.square(mean_a - mean_b)) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    return float(distance)


def inception_score(logits, splits=10):
    """The Inception score exp(E_x KL(p(y|x) || p(y))), averaged over splits.

    As in Salimans et al. (2016) and the paper's tables: the samples are cut
    into `splits` equal parts (a remainder is dropped), each part is scored by
    TF-GAN's `classifier_score_from_logits`, and the mean and standard
    deviation over the parts are returned.

    Args:
        logits: (N, K) classifier logits of generated images.
        splits: Number of parts, 1 <= splits <= N.

    Returns:
        `(mean, std)` as Python floats: 1 when every sample gets the same
        prediction, K for confident predictions spread evenly over K classes.

    Example:

    ```python
    score, spread = inception_score(logits, splits=10)
    ```
    """
    logits = np.asarray(logits, "float64")
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, classes); got {logits.shape}.")
    if not 1 <= splits <= len(logits):
        raise ValueError(
            f"splits must be between 1 and the number of samples ({len(logits)}); got {splits}."
        )
    size = len(logits) // splits
    scores = [split_score(logits[i * size:(i + 1) * size]) for i in range(splits)]
    return float(np.mean(scores)), float(np.std(scores))


def split_score(logits):
    """TF-GAN's classifier score of one split of logits, as a Python float."""
    return float(classifier_metrics.classifier_score_from_logits(np.asarray(logits, "float64")))


def kernel_distance(features_a, features_b, max_block_size=1000):
    """The kernel inception distance (KID) of Bińkowski et al. (2018).

    The unbiased MMD^2 estimate with the cubic polynomial kernel
    k(x, y) = (x.y / D + 1)^3, by TF-GAN's
    `kernel_classifier_distance_and_std_from_activations` (a block
    estimator; both inputs must be in random order). Unlike FID it is
    unbiased, so it stays meaningful for a few hundred samples.

    Args:
        features_a: (N, D) activations, e.g. of real images.
        features_b: (M, D) activations, e.g. of generated images.
        max_block_size: Largest block of the estimator.

    Returns:
        `(kid, std)` as Python floats; kid is about 0 (and may be slightly
        negative) for two samples of one distribution. std, TF-GAN's rough
        standard error over blocks, is NaN when there is only one block.

    Example:

    ```python
    kid, kid_std = kernel_distance(real_features, fake_features)
    ```
    """
    features_a = np.asarray(features_a, "float64")
    features_b = np.asarray(features_b, "float64")
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            "KID needs two (N, D) activation arrays with the same D; got "
            f"{features_a.shape} and {features_b.shape}."
        )
    if min(len(features_a), len(features_b)) < 2:
        raise ValueError("KID needs at least 2 samples on each side.")
    kid, std = classifier_metrics.kernel_classifier_distance_and_std_from_activations(
        tf.constant(features_a), tf.constant(features_b), max_block_size=max_block_size
    )
    return float(kid), float(std)
