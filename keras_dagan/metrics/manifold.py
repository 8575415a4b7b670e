"""Precision, recall, density and coverage: k-NN manifold estimates.

FID folds fidelity and diversity into one number. These split them, on the
same extractor features: each real (or generated) sample's manifold is the
union of balls reaching its k-th nearest neighbour.

- precision (Kynkäänniemi et al. 2019): the share of generated samples inside
  the real manifold, fidelity;
- recall: the share of real samples inside the generated manifold, diversity;
- density (Naeem et al. 2020): how many real balls hold each generated
  sample, divided by k (about 1 for matching distributions, not capped);
- coverage: the share of real balls holding at least one generated sample,
  a recall that outliers among the generated samples cannot inflate.
"""

import numpy as np

from keras_dagan.metrics.neighbors import distance_blocks, kth_neighbor_distances

# Kynkäänniemi et al. use k = 3 for precision and recall; Naeem et al.
# recommend k = 5 for density and coverage.
PRECISION_RECALL_K = 3
DENSITY_COVERAGE_K = 5


def _share_inside(queries, centres, radii, block_size):
    """The share of `queries` within distance `radii[i]` of some `centres[i]`."""
    inside = 0
    for _, block in distance_blocks(queries, centres, block_size):
        inside += int(np.sum(np.any(block <= radii[None, :], axis=1)))
    return inside / len(queries)


def precision_recall(real_features, fake_features, k=PRECISION_RECALL_K, block_size=1024):
    """Improved precision and recall of Kynkäänniemi et al. (2019).

    Args:
        real_features: (N, D) extractor features of real images, N > k.
        fake_features: (M, D) features of generated images, M > k.
        k: Neighbour that sets each ball's radius (3 in the paper).
        block_size: Rows per distance block (memory is block_size * N).

    Returns:
        `(precision, recall)`, Python floats in [0, 1].

    Raises:
        ValueError: If either set has k or fewer samples, or the feature
            sizes differ.

    Example:

    ```python
    precision, recall = precision_recall(real_features, fake_features)
    ```
    """
    real_radii = kth_neighbor_distances(real_features, k, block_size, name="real samples")
    fake_radii = kth_neighbor_distances(fake_features, k, block_size, name="generated samples")
    precision = _share_inside(fake_features, real_features, real_radii, block_size)
    recall = _share_inside(real_features, fake_features, fake_radii, block_size)
    return precision, recall


def density_coverage(real_features, fake_features, k=DENSITY_COVERAGE_K, block_size=1024):
    """Density and coverage of Naeem et al. (2020).

    density = (1 / kM) sum_j sum_i 1[fake_j in B(real_i, r_k(real_i))],
    coverage = (1 / N) sum_i 1[some fake_j in B(real_i, r_k(real_i))], with
    strict inequalities as in the authors' code.

    Args:
        real_features: (N, D) extractor features of real images, N > k.
        fake_features: (M, D) features of generated images.
        k: Neighbour that sets each real ball's radius (5 in the paper).
        block_size: Rows per distance block.

    Returns:
        `(density, coverage)`, Python floats; coverage is in [0, 1],
        density in [0, N / k].

    Raises:
        ValueError: If there are k or fewer real samples, or the feature
            sizes differ.

    Example:

    ```python
    density, coverage = density_coverage(real_features, fake_features)
    ```
    """
    real_radii = kth_neighbor_distances(real_features, k, block_size, name="real samples")
    fake_features = np.asarray(fake_features)
    if len(fake_features) == 0:
        raise ValueError("density and coverage need at least one generated sample.")
    balls_holding = 0
    covered = np.zeros(len(real_radii), bool)
    for _, block in distance_blocks(fake_features, real_features, block_size):
        inside = block < real_radii[None, :]
        balls_holding += int(np.sum(inside))
        covered |= np.any(inside, axis=0)
    return balls_holding / (k * len(fake_features)), float(np.mean(covered))
