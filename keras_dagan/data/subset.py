"""Which examples a subset of the training data keeps: the papers' "10 % of
the data", chosen the way this library or a reference implementation does."""

import re

import numpy as np

SUBSETS = ("stratified", "reference", "first")


def validate_fraction(fraction):
    """Raises a ValueError unless `fraction` is a number in (0, 1]."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(
            f"fraction must be in (0, 1] (0.1 keeps 10 % of each class); got {fraction!r}."
        )


def validate_subset(subset):
    """Raises a ValueError unless `subset` names a known selection."""
    if not isinstance(subset, str) or subset not in SUBSETS:
        raise ValueError(
            f"subset must be one of {', '.join(map(repr, SUBSETS))}; got {subset!r}. "
            "'stratified' keeps the same share of every class, 'reference' the "
            "DiffAugment-biggan-cifar selection, 'first' the first examples."
        )


def subset_size(count, fraction):
    """Examples a subset of `fraction` of `count` examples keeps: the
    nearest whole number, at least one."""
    return max(1, int(round(fraction * count)))


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

    Raises:
        ValueError: If `fraction` is not in (0, 1].

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
        keep = subset_size(len(members), fraction)
        chosen.append(rng.permutation(members)[:keep])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros((0,), np.int64)


def reference_indices(count, fraction):
    """The examples DiffAugment-biggan-cifar trains on, by original index.

    Reproduces `CIFAR10.__init__` of DiffAugment-biggan-cifar/datasets.py
    (mit-han-lab/data-efficient-gans), which with its default
    `val_split=0` and the published scripts' `--seed 0` runs

        np.random.seed(seed)
        train_idx = np.random.choice(len(self.data), num_samples, replace=False)

    over the training images in the order of the original CIFAR batches
    (`data_batch_1` ... `data_batch_5`; CIFAR-100's single `train` file).
    `num_samples` is `subset_size(count, fraction)`: 5,000 and 10,000 of
    50,000 for the scripts' 10 % and 20 %. The selection is not stratified:
    classes keep about, not exactly, `fraction` of their images.

    Args:
        count: Images in the whole original split (50,000 for CIFAR).
        fraction: Share to keep, in (0, 1].

    Returns:
        An int64 array of indices into the original order, in the order
        `np.random.choice` draws them (the order of the reference's data).

    Raises:
        ValueError: If `fraction` is not in (0, 1].

    Example:

    ```python
    keep = reference_indices(50_000, 0.1)  # the 5,000 images of "10 %"
    ```
    """
    validate_fraction(fraction)
    # A private RandomState(0) draws exactly what np.random.seed(0) followed
    # by np.random.choice draws, without resetting the global generator.
    return np.random.RandomState(0).choice(count, subset_size(count, fraction), replace=False)


def original_indices(ids):
    """Each example's index in the original order, from tfds ids such as
    "train_16399" (tfds's cifar10 and cifar100 number them so).

    Args:
        ids: Example ids, str or bytes, each ending in its index.

    Returns:
        An int64 array with the number ending each id.

    Raises:
        ValueError: If an id does not end in a number (naming it).

    Example:

    ```python
    original_indices([b"train_16399", b"train_7"])  # array([16399, 7])
    ```
    """
    indices = np.empty(len(ids), np.int64)
    for position, example_id in enumerate(ids):
        text = example_id.decode() if isinstance(example_id, bytes) else str(example_id)
        match = re.search(r"(\d+)$", text)
        if match is None:
            raise ValueError(
                f"Example id {text!r} does not end in its index in the original order "
                "(like tfds's cifar10 ids, 'train_16399'), so subset='reference' cannot "
                "place it. Use subset='stratified' or 'first' for this dataset."
            )
        indices[position] = int(match.group(1))
    return indices


def subset_positions(subset, fraction, count, labels=None, original=None):
    """Positions, in the source's order, of the examples a subset keeps.

    Args:
        subset: "stratified" (`stratified_indices` with seed 0: each class
            keeps its share), "reference" (`reference_indices`: the
            DiffAugment-biggan-cifar selection by original index) or
            "first" (the first `subset_size(count, fraction)` examples, as
            DiffAugment-stylegan2's `dset.take(num_samples)` does).
        fraction: Share to keep, in (0, 1].
        count: Examples in the source.
        labels: (count,) class labels, for "stratified"; None treats the
            data as one class.
        original: (count,) index of each example in the original order, for
            "reference"; it must be a permutation of 0..count-1, i.e. the
            source must be a whole split.

    Returns:
        A sorted int64 array of positions into the source.

    Raises:
        ValueError: For a bad `subset` or `fraction`, or "reference" without
            `original` or with `original` not a permutation of 0..count-1.

    Example:

    ```python
    keep = subset_positions("reference", 0.1, 50_000, original=original_indices(ids))
    ```
    """
    validate_subset(subset)
    validate_fraction(fraction)
    if subset == "stratified":
        return stratified_indices(np.zeros(count, np.int64) if labels is None else labels, fraction)
    if subset == "first":
        return np.arange(subset_size(count, fraction), dtype=np.int64)
    if original is None:
        raise ValueError(
            "subset='reference' needs each example's index in the original order "
            "(tfds's 'id' feature, e.g. 'train_16399'); this source has none. Use "
            "subset='stratified' or 'first'."
        )
    original = np.asarray(original, np.int64)
    position_of = np.full(count, -1, np.int64)
    in_range = (original >= 0) & (original < count)
    position_of[original[in_range]] = np.flatnonzero(in_range)
    if not in_range.all() or (position_of < 0).any():
        raise ValueError(
            f"subset='reference' draws from the original indices 0..{count - 1} of a "
            f"whole split, but the {count} examples' ids do not number exactly those "
            "(a sliced split such as 'train[:50%]'?). Load the whole split, e.g. "
            "split='train'."
        )
    return np.sort(position_of[reference_indices(count, fraction)])
