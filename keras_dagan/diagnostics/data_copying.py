"""The data-copying test C_T of Meehan, Chaudhuri and Dasgupta (2020).

"A Non-Parametric Test to Detect Data-Copying in Generative Models"
(AISTATS 2020): partition feature space into cells by k-means on the
training set; in each cell, compare the distances to the cell's nearest
training sample of generated samples (Q_m) and of held-out real samples
(P_n) with a Mann-Whitney U test, Z-scored under the null hypothesis; C_T is
the average of the cells' Z scores weighted by the share of held-out samples
in each, over the cells holding more than a `tau` share of the generated
samples. C_T << 0 (the paper flags below -3) means the samples sit closer
to the training set than unseen real images do: data copying. C_T >> 0
means they sit farther: underfitting. The arithmetic follows the authors'
code (github.com/casey-meehan/data-copying), with NumPy in place of
scikit-learn and SciPy.
"""

import numpy as np

from keras_dagan.metrics.neighbors import nearest_neighbors

# A cell enters C_T when it holds more than this many generated samples.
MIN_GENERATED_PER_CELL = 20


def kmeans(features, num_cells, seed=0, iterations=100):
    """Lloyd's k-means with k-means++ seeding.

    Args:
        features: (N, D) features, N >= num_cells.
        num_cells: Number of centroids.
        seed: Seed of the k-means++ draws.
        iterations: Most Lloyd iterations.

    Returns:
        (num_cells, D) float64 centroids.

    Example:

    ```python
    centroids = kmeans(train_features, 20)
    ```
    """
    features = np.asarray(features, "float64")
    if not isinstance(num_cells, int) or not 1 <= num_cells <= len(features):
        raise ValueError(f"num_cells must be an integer in [1, {len(features)}] (the number of "
                         f"training samples); got {num_cells!r}.")
    rng = np.random.default_rng(seed)
    centroids = [features[rng.integers(len(features))]]
    closest = np.sum(np.square(features - centroids[0]), axis=1)
    for _ in range(num_cells - 1):
        total = closest.sum()
        # Once every sample coincides with a centroid, any sample will do.
        if total > 0:
            index = rng.choice(len(features), p=closest / total)
        else:
            index = rng.integers(len(features))
        centroids.append(features[index])
        closest = np.minimum(closest, np.sum(np.square(features - features[index]), axis=1))
    centroids = np.stack(centroids)
    for _ in range(iterations):
        _, cells = nearest_neighbors(features, centroids)
        updated = centroids.copy()
        for cell in np.unique(cells):
            updated[cell] = features[cells == cell].mean(axis=0)
        if np.array_equal(updated, centroids):
            break
        centroids = updated
    return centroids


def _average_ranks(values):
    """1-based ranks of `values`, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(values)])
    group_ranks = starts + (sizes + 1) / 2
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(group_ranks, sizes)
    return ranks


def mann_whitney_z(generated_distances, heldout_distances):
    """The Z-scored Mann-Whitney U of the generated distances, as the paper's code.

    U counts the pairs (generated, held-out) in which the generated sample
    is the farther from the training set (ties count 1/2), the U that SciPy's
    `mannwhitneyu(generated, heldout)` returns; it is centred with the
    authors' continuity correction, (U - (mn/2 - 1/2)) / sqrt(mn(m+n+1)/12).

    Args:
        generated_distances: (m,) distances of generated samples to the
            training set.
        heldout_distances: (n,) the same for held-out real samples.

    Returns:
        Z, a Python float: negative when generated samples are the closer.

    Example:

    ```python
    z = mann_whitney_z(generated_distances, heldout_distances)
    ```
    """
    generated = np.asarray(generated_distances, "float64").ravel()
    heldout = np.asarray(heldout_distances, "float64").ravel()
    m, n = len(generated), len(heldout)
    ranks = _average_ranks(np.concatenate([generated, heldout]))
    u = ranks[:m].sum() - m * (m + 1) / 2
    return float((u - (m * n / 2 - 0.5)) / np.sqrt(m * n * (m + n + 1) / 12))


def data_copying(train_features, heldout_features, generated_features, num_cells=None, tau=None,
                 seed=0):
    """Meehan et al.'s C_T statistic of generated samples.

    Args:
        train_features: (N, D) features of the training images.
        heldout_features: (n, D) features of held-out real images.
        generated_features: (m, D) features of generated samples.
        num_cells: k-means cells on the training features; None uses one
            per 50 held-out images, between 1 and 50, so every cell holds
            some.
        tau: A cell enters C_T when its share of the generated samples is
            above tau; None uses `MIN_GENERATED_PER_CELL` / m.
        seed: Seed of the k-means seeding.

    Returns:
        C_T, a Python float: about 0 when generated samples are as close to
        the training set as unseen real images, below -3 for data copying.

    Raises:
        ValueError: If a cell has no held-out or training sample (use fewer
            cells), or no cell holds enough generated samples.

    Example:

    ```python
    c_t = data_copying(train_features, test_features, generated_features)
    ```
    """
    train = np.asarray(train_features, "float64")
    heldout = np.asarray(heldout_features, "float64")
    generated = np.asarray(generated_features, "float64")
    if num_cells is None:
        num_cells = int(np.clip(len(heldout) // 50, 1, 50))
    if tau is None:
        tau = MIN_GENERATED_PER_CELL / len(generated)
    centroids = kmeans(train, num_cells, seed)
    train_cells = nearest_neighbors(train, centroids)[1]
    heldout_cells = nearest_neighbors(heldout, centroids)[1]
    generated_cells = nearest_neighbors(generated, centroids)[1]
    heldout_shares = np.bincount(heldout_cells, minlength=num_cells) / len(heldout)
    generated_shares = np.bincount(generated_cells, minlength=num_cells) / len(generated)
    counted = generated_shares > tau
    if not counted.any():
        raise ValueError(
            f"No k-means cell holds more than a {tau:.3g} share of the {len(generated)} generated "
            "samples; C_T needs more generated samples or fewer cells."
        )
    empty = np.flatnonzero((np.bincount(train_cells, minlength=num_cells) == 0)
                           | (heldout_shares == 0))
    if len(empty):
        raise ValueError(
            f"k-means cell {empty[0]} of {num_cells} holds no held-out or no training sample; "
            "use fewer cells (num_cells) or more held-out images."
        )
    scores = np.zeros(num_cells)
    for cell in np.flatnonzero(counted):
        cell_train = train[train_cells == cell]
        scores[cell] = mann_whitney_z(
            nearest_neighbors(generated[generated_cells == cell], cell_train)[0],
            nearest_neighbors(heldout[heldout_cells == cell], cell_train)[0])
    weights = heldout_shares[counted]
    return float(weights @ scores[counted] / weights.sum())
