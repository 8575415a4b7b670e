import numpy as np
import pytest

from keras_dagan.metrics.neighbors import kth_neighbor_distances, nearest_neighbors


def full_distances(a, b):
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)


def test_nearest_neighbors_match_the_full_matrix_across_blocks():
    rng = np.random.default_rng(0)
    queries, references = rng.normal(size=(23, 5)), rng.normal(size=(17, 5))
    distances, indices = nearest_neighbors(queries, references, block_size=4)
    full = full_distances(queries, references)
    np.testing.assert_array_equal(indices, np.argmin(full, axis=1))
    np.testing.assert_allclose(distances, np.min(full, axis=1), rtol=1e-9)


def test_kth_neighbor_distances_skip_the_sample_itself():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(19, 4))
    full = full_distances(features, features)
    np.fill_diagonal(full, np.inf)
    expected = np.sort(full, axis=1)[:, 2]
    np.testing.assert_allclose(kth_neighbor_distances(features, 3, block_size=5), expected,
                               rtol=1e-9)


def test_too_few_samples_and_mismatched_features_are_explained():
    with pytest.raises(ValueError, match="k-NN with k=3 needs more than 3 real samples; got 3"):
        kth_neighbor_distances(np.zeros((3, 2)), 3, name="real samples")
    with pytest.raises(ValueError, match="same feature extractor"):
        nearest_neighbors(np.zeros((3, 2)), np.zeros((3, 4)))
