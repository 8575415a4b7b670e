import numpy as np
import pytest
from scipy import stats

from keras_dagan.diagnostics import kmeans, mann_whitney_z
from keras_dagan.diagnostics.data_copying import data_copying


@pytest.mark.parametrize("ties", [False, True])
def test_mann_whitney_z_is_the_papers_z_of_scipys_u(ties):
    rng = np.random.default_rng(0)
    generated, heldout = rng.normal(size=37), rng.normal(0.3, 1, size=52)
    if ties:
        generated, heldout = np.round(generated, 1), np.round(heldout, 1)
    u = stats.mannwhitneyu(generated, heldout, alternative="less").statistic
    m, n = 37, 52
    expected = (u - (m * n / 2 - 0.5)) / np.sqrt(m * n * (m + n + 1) / 12)
    assert mann_whitney_z(generated, heldout) == pytest.approx(expected, rel=1e-12)


def test_kmeans_finds_separated_clusters():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [10, 0], [0, 10]], "float64")
    points = np.concatenate([centre + rng.normal(size=(50, 2)) for centre in centres])
    found = kmeans(points, 3, seed=0)
    distances = np.linalg.norm(found[:, None] - centres[None], axis=-1)
    assert np.all(distances.min(axis=0) < 0.5)


def test_cells_without_heldout_samples_are_explained():
    rng = np.random.default_rng(2)
    train = rng.normal(size=(200, 2))
    with pytest.raises(ValueError, match="holds no held-out or no training sample"):
        data_copying(train, np.zeros((20, 2)), rng.normal(size=(200, 2)), num_cells=10)
