"""Nearest-neighbour distances between feature sets, computed in row blocks.

Precision/recall, density/coverage and the memorization diagnostics all
compare feature vectors by Euclidean distance to their nearest (or k-th
nearest) neighbours. The full (N, M) distance matrix of 50k x 50k features
does not fit in memory, so every function here walks `block_size` query rows
at a time: memory is O(block_size * M).
"""

import numpy as np


def _as_features(name, features):
    features = np.asarray(features, "float64")
    if features.ndim != 2:
        raise ValueError(f"{name} must be an (N, D) array of feature vectors; got shape "
                         f"{features.shape}.")
    return features


def distance_blocks(queries, references, block_size=1024):
    """Yields `(start, distances)`: Euclidean distances of `block_size` query
    rows at a time to every reference row, as (rows, M) float64 blocks.

    Args:
        queries: (N, D) features.
        references: (M, D) features.
        block_size: Query rows per block.

    Example:

    ```python
    for start, block in distance_blocks(fake_features, real_features):
        inside[start:start + len(block)] = (block <= radii).any(axis=1)
    ```
    """
    queries = _as_features("queries", queries)
    references = _as_features("references", references)
    if queries.shape[1] != references.shape[1]:
        raise ValueError(
            f"Cannot compare {queries.shape[1]}-dimensional and {references.shape[1]}-"
            "dimensional features: compute both with the same feature extractor."
        )
    reference_norms = np.sum(np.square(references), axis=1)
    for start in range(0, len(queries), block_size):
        block = queries[start:start + block_size]
        squared = (np.sum(np.square(block), axis=1)[:, None] + reference_norms[None, :]
                   - 2.0 * block @ references.T)
        # Rounding can make the squared distance of near-equal vectors
        # slightly negative.
        yield start, np.sqrt(np.maximum(squared, 0.0))


def nearest_neighbors(queries, references, block_size=1024):
    """The nearest reference of every query.

    Args:
        queries: (N, D) features.
        references: (M, D) features, M >= 1.
        block_size: Query rows per block.

    Returns:
        `(distances, indices)`: (N,) float64 distances to, and (N,) int
        indices of, each query's nearest reference row.

    Example:

    ```python
    distances, indices = nearest_neighbors(generated_features, train_features)
    ```
    """
    references = _as_features("references", references)
    if len(references) == 0:
        raise ValueError("nearest_neighbors needs at least one reference feature vector.")
    count = len(_as_features("queries", queries))
    distances, indices = np.empty(count), np.empty(count, "int64")
    for start, block in distance_blocks(queries, references, block_size):
        nearest = np.argmin(block, axis=1)
        indices[start:start + len(block)] = nearest
        distances[start:start + len(block)] = block[np.arange(len(block)), nearest]
    return distances, indices


def kth_neighbor_distances(features, k, block_size=1024, name="features"):
    """The distance of every row to its k-th nearest other row of `features`.

    The radius of the k-NN ball around each sample that Kynkäänniemi et al.
    (2019) and Naeem et al. (2020) use to estimate a manifold; a sample is
    not its own neighbour.

    Args:
        features: (N, D) features, N > k.
        k: Which neighbour, >= 1.
        block_size: Rows per block.
        name: What the features are, for the error message.

    Returns:
        (N,) float64 distances.

    Raises:
        ValueError: If there are not more than k samples.

    Example:

    ```python
    radii = kth_neighbor_distances(real_features, k=3)
    ```
    """
    features = _as_features(name, features)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}.")
    if len(features) <= k:
        raise ValueError(
            f"k-NN with k={k} needs more than {k} {name}; got {len(features)}. "
            "Use more samples."
        )
    radii = np.empty(len(features))
    for start, block in distance_blocks(features, features, block_size):
        rows = np.arange(len(block))
        block[rows, start + rows] = np.inf  # a sample is not its own neighbour
        radii[start:start + len(block)] = np.partition(block, k - 1, axis=1)[:, k - 1]
    return radii
