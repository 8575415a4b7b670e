"""Deterministic, class-stratified subsets: the papers' "10 % of the data"."""

import numpy as np


def validate_fraction(fraction):
    """Raises a ValueError unless `fraction` is a number in (0, 1]."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(
            f"fraction must be in (0, 1] (0.1 keeps 10 % of each class); got {fraction!r}."
        )


def stratified_indices(labels, fraction, seed=0):
    """Indices of a subset holding `fraction` of every class.

    Each class keeps round(fraction * its size) samples, at least one, picked
    by a permutation seeded with `seed`, so the same call always gives the
    same subset and the class balance of the full data is kept. The indices
    come back sorted.

    Args:
        labels: (N,) integer class labels; all one value for unlabelled data.
        fraction: Share of each class to keep, in (0, 1].
        seed: Seed of the selection.

    Returns:
        A sorted int64 array of indices into `labels`.

    Example:

    ```python
    keep = stratified_indices(labels, 0.1)  # CIFAR-10 train: 500 per class
    ```
    """
    validate_fraction(fraction)
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        keep = max(1, int(round(fraction * len(members))))
        chosen.append(rng.permutation(members)[:keep])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros((0,), np.int64)
