import sys
import types

import numpy as np
import pytest
import scipy.linalg

from keras_dagan.metrics import FeatureStatistics, frechet_distance, inception_score, kernel_distance
from keras_dagan.metrics.tfgan import classifier_metrics


def scipy_fid(a, b):
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * root)


def test_shim_imports_tfgan_eval_without_leaving_placeholders():
    assert callable(classifier_metrics.frechet_classifier_distance_from_activations)
    # The placeholder packages are gone, so `import tensorflow_gan` elsewhere
    # behaves as it would without keras_dagan.
    for name in ("tensorflow_gan", "tensorflow_gan.python", "tensorflow_gan.python.eval"):
        module = sys.modules.get(name)
        assert module is None or not isinstance(module, types.ModuleType) or hasattr(module, "__file__")


def test_fid_matches_scipy_and_tfgan():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((600, 16))
    b = 0.7 * rng.standard_normal((500, 16)) @ rng.standard_normal((16, 16)) * 0.5 + 0.3
    expected = scipy_fid(a, b)
    ours = frechet_distance(FeatureStatistics.from_features(a), FeatureStatistics.from_features(b))
    tfgan = float(classifier_metrics.frechet_classifier_distance_from_activations(a, b))
    np.testing.assert_allclose(ours, expected, rtol=1e-3)
    np.testing.assert_allclose(ours, tfgan, rtol=1e-6)


def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(1).standard_normal((300, 8))
    statistics = FeatureStatistics.from_features(features)
    assert abs(frechet_distance(statistics, statistics)) < 1e-6


def test_fid_of_known_gaussians():
    # N(m1, diag(v1)) vs N(m2, diag(v2)): |m1 - m2|^2 + sum (sqrt v1 - sqrt v2)^2.
    exact = types.SimpleNamespace
    a = exact(mean=np.array([0.0, 1.0, 2.0]), covariance=np.diag([1.0, 4.0, 9.0]))
    b = exact(mean=np.array([1.0, 1.0, 0.0]), covariance=np.diag([4.0, 4.0, 1.0]))
    assert frechet_distance(a, b) == pytest.approx(1 + 4 + (1 + 0 + 4), rel=1e-9)


def test_fid_rejects_mismatched_feature_sizes():
    a = FeatureStatistics.from_features(np.ones((3, 4)) * np.arange(3)[:, None])
    b = FeatureStatistics.from_features(np.ones((3, 5)) * np.arange(3)[:, None])
    with pytest.raises(ValueError, match="different feature extractors"):
        frechet_distance(a, b)


def test_inception_score_bounds():
    identical = np.tile([[3.0, 0.0, -1.0, 2.0]], (100, 1))
    assert inception_score(identical, splits=5)[0] == pytest.approx(1.0, abs=1e-9)
    classes = 10
    one_hot = np.eye(classes)[np.arange(1000) % classes] * 100.0
    score, spread = inception_score(one_hot, splits=10)
    assert score == pytest.approx(classes, rel=1e-6)
    assert spread == pytest.approx(0.0, abs=1e-6)


def test_inception_score_rejects_bad_splits():
    with pytest.raises(ValueError, match="splits"):
        inception_score(np.zeros((5, 3)), splits=6)


def test_kid_separates_distributions():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((400, 8)), rng.standard_normal((400, 8))
    same, same_std = kernel_distance(a, b, max_block_size=100)
    other, _ = kernel_distance(a, b + 1.0, max_block_size=100)
    assert abs(same) < 3 * same_std + 1e-3
    assert other > 0.1 and other > 20 * abs(same)


def test_streaming_statistics_equal_batch_statistics(tmp_path):
    rng = np.random.default_rng(3)
    features = rng.standard_normal((250, 6)) * 2 + 1
    statistics = FeatureStatistics(kid_samples=100)
    for start in range(0, 250, 64):
        statistics.update(features[start:start + 64])
    np.testing.assert_allclose(statistics.mean, features.mean(0), rtol=1e-12)
    np.testing.assert_allclose(statistics.covariance, np.cov(features, rowvar=False), rtol=1e-10)
    np.testing.assert_allclose(statistics.kid_features, features[:100], rtol=1e-6)
    path = tmp_path / "stats.npz"
    statistics.save(path)
    loaded = FeatureStatistics.load(path)
    assert loaded.count == 250
    np.testing.assert_array_equal(loaded.covariance, statistics.covariance)
    np.testing.assert_array_equal(loaded.kid_features, statistics.kid_features)
    with pytest.raises(ValueError, match="6-dimensional"):
        statistics.update(np.zeros((2, 7)))
