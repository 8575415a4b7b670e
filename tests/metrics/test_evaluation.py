import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan.files import write_png
from keras_dagan.metrics import (
    KerasClassifierExtractor,
    dataset_images,
    dataset_statistics,
    image_array,
    image_features,
    image_statistics,
    inception_score,
    reference_statistics,
    score_images,
    statistics_cache_path,
)


def extractor():
    images = keras.Input((8, 8, 3))
    features = keras.layers.Flatten(name="features")(images)
    logits = keras.layers.Dense(5, name="logits", kernel_initializer=keras.initializers.RandomNormal(seed=0))(features)
    return KerasClassifierExtractor(keras.Model(images, logits), "features", "logits", name="toy")


def images(count, seed=0, shift=0.0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, 8, 8, 3)).astype("float32") * 0.5 + shift


def test_streaming_equals_one_shot_for_every_batch_form():
    toy, data = extractor(), images(100)
    outputs = toy(data)
    labels = np.zeros(100, "int32")
    forms = {
        "plain": tf.data.Dataset.from_tensor_slices(data).batch(32),
        "tuples": tf.data.Dataset.from_tensor_slices((data, labels)).batch(32),
        "dicts": tf.data.Dataset.from_tensor_slices({"image": data, "label": labels}).batch(32),
    }
    for form, batches in forms.items():
        statistics, scores = image_statistics(toy, batches, 90, is_splits=3, kid_samples=50)
        assert statistics.count == 90, form
        np.testing.assert_allclose(statistics.mean, outputs["features"].numpy()[:90].mean(0), atol=1e-7)
        assert len(statistics.kid_features) == 50
        mean, _ = inception_score(outputs["logits"].numpy()[:90], splits=3)
        np.testing.assert_allclose(np.mean(scores), mean, rtol=1e-6)


def test_stream_too_short_is_an_error_unless_all_is_asked():
    batches = [images(10)]
    with pytest.raises(ValueError, match="ended after 10 images; 20"):
        image_statistics(extractor(), batches, 20)
    statistics, scores = image_statistics(extractor(), batches, None)
    assert statistics.count == 10 and scores == []


def test_reference_statistics_are_cached(tmp_path):
    path = statistics_cache_path(str(tmp_path), "folder:/data/x", "train", "toy", 64)
    assert path.startswith(str(tmp_path)) and path.endswith("folder_data_x-train-toy-64.npz")
    first = reference_statistics(extractor(), [images(64)], 64, cache_path=path)

    def unreadable():
        raise AssertionError("the cache should have been used")
        yield

    second = reference_statistics(extractor(), unreadable(), 64, cache_path=path)
    np.testing.assert_array_equal(first.covariance, second.covariance)


def test_scores_rank_a_shifted_distribution_worse():
    toy = extractor()
    real = reference_statistics(toy, [images(400, seed=0)], 400, kid_samples=400)
    close = score_images(toy, real, [images(400, seed=1)], 400, is_splits=4)
    far = score_images(toy, real, [images(400, seed=2, shift=0.5)], 400, is_splits=4)
    assert set(close) == {"fid", "is", "is_std", "kid", "kid_std", "num_samples"}
    assert far["fid"] > 5 * close["fid"]
    assert far["kid"] > 5 * abs(close["kid"])


def test_dataset_images_and_statistics_of_a_training_subset(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        for index in range(20):
            write_png(tmp_path / "data" / label / f"{index}.png",
                      rng.integers(0, 256, (8, 8, 3)).astype("uint8"))
    spec = f"folder:{tmp_path / 'data'}"
    subset = dataset_images(spec, fraction=0.5)
    assert subset.shape == (20, 8, 8, 3) and subset.dtype == np.uint8
    toy = extractor()
    full = dataset_statistics(toy, spec, cache_dir=tmp_path / "cache")
    half = dataset_statistics(toy, spec, cache_dir=tmp_path / "cache", fraction=0.5)
    assert (full.count, half.count) == (40, 20)
    np.testing.assert_allclose(half.mean, image_features(toy, subset).mean(axis=0), atol=1e-5)
    assert len(list((tmp_path / "cache").iterdir())) == 2  # one cache file each


def test_image_array_collects_and_cuts_batches():
    batches = [images(6, seed=0), images(6, seed=1)]
    collected = image_array(iter(batches), num_samples=8)
    assert collected.shape == (8, 8, 8, 3) and collected.dtype == np.uint8
    with pytest.raises(ValueError, match="empty"):
        image_array([])
