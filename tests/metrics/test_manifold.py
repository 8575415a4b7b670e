import numpy as np
import pytest

from keras_dagan.metrics.manifold import density_coverage, precision_recall


def direct_scores(real, fake, k_pr=3, k_dc=5):
    """The papers' definitions on full distance matrices."""
    def distances(a, b):
        return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)

    def radii(x, k):
        d = distances(x, x)
        return np.sort(d, axis=1)[:, k]  # column 0 is the sample itself

    real_fake = distances(real, fake)  # (N, M)
    precision = np.mean(np.any(real_fake <= radii(real, k_pr)[:, None], axis=0))
    recall = np.mean(np.any(real_fake <= radii(fake, k_pr)[None, :], axis=1))
    inside = real_fake < radii(real, k_dc)[:, None]
    density = inside.sum() / (k_dc * len(fake))
    coverage = np.mean(inside.any(axis=1))
    return precision, recall, density, coverage


@pytest.mark.parametrize("shift", [0.0, 0.7, 3.0])
def test_scores_equal_a_direct_numpy_computation(shift):
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 6))
    fake = rng.normal(size=(45, 6)) * 1.3 + shift
    precision, recall = precision_recall(real, fake, block_size=7)
    density, coverage = density_coverage(real, fake, block_size=7)
    np.testing.assert_allclose((precision, recall, density, coverage),
                               direct_scores(real, fake), rtol=1e-12)


def test_identical_sets_score_perfectly_and_disjoint_sets_score_zero():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(40, 3))
    assert precision_recall(real, real) == (1.0, 1.0)
    assert density_coverage(real, real + 100.0) == (0.0, 0.0)


def test_too_few_samples_for_knn():
    with pytest.raises(ValueError, match="k-NN with k=3 needs more than 3 generated samples"):
        precision_recall(np.zeros((10, 2)), np.zeros((3, 2)))
