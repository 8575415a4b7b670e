import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan.metrics import InceptionExtractor, KerasClassifierExtractor, inception_cache_path


class StandInInception(tf.Module):
    """The interface of TF-GAN's Inception module: images (N, 299, 299, 3)
    in [-1, 1] -> {"pool_3": ..., "logits": ...}; reports what it received."""

    @tf.function(input_signature=[tf.TensorSpec([None, 299, 299, 3], tf.float32)])
    def __call__(self, images):
        low = tf.reduce_min(images, axis=[1, 2, 3])
        high = tf.reduce_max(images, axis=[1, 2, 3])
        size = tf.cast(tf.fill(tf.shape(low), tf.shape(images)[1]), tf.float32)
        return {"pool_3": tf.stack([low, high, size], -1)[:, None, None, :],
                "logits": tf.stack([high, -high], -1)}


@pytest.fixture(scope="module")
def inception_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("inception"))
    tf.saved_model.save(StandInInception(), path)
    return path


def test_inception_gets_299px_images_in_unit_range(inception_dir):
    extractor = InceptionExtractor(inception_dir)
    images = np.zeros((2, 32, 32, 3), np.uint8)
    images[1] = 255
    outputs = extractor(images)
    np.testing.assert_allclose(outputs["features"].numpy(), [[-1, -1, 299], [1, 1, 299]], atol=1e-6)
    assert outputs["logits"].shape == (2, 2)
    gray = extractor(np.zeros((1, 28, 28, 1), np.float32))
    np.testing.assert_allclose(gray["features"].numpy(), [[0, 0, 299]])


def test_inception_from_the_tfhub_cache(inception_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    tf.io.gfile.rename(inception_dir, inception_cache_path())
    try:
        assert InceptionExtractor().path == inception_cache_path()
    finally:
        tf.io.gfile.rename(inception_cache_path(), inception_dir)


def test_missing_inception_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="tfgan/eval/inception/1.*inception_path"):
        InceptionExtractor(tmp_path / "nowhere")


def small_classifier():
    images = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(images)
    logits = keras.layers.Dense(4, name="logits")(pooled)
    return keras.Model(images, logits, name="small")


def test_keras_classifier_from_file(tmp_path):
    model = small_classifier()
    path = str(tmp_path / "small.keras")
    model.save(path)
    extractor = KerasClassifierExtractor(path, "pool", "logits")
    images = np.random.default_rng(0).uniform(-1, 1, (3, 8, 8, 3)).astype("float32")
    outputs = extractor(images)
    np.testing.assert_allclose(outputs["features"].numpy(), images.mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(outputs["logits"].numpy(), model(images).numpy(), rtol=1e-5)
    assert extractor.name == "small" and extractor.has_logits


def test_keras_classifier_errors(tmp_path):
    model = small_classifier()
    with pytest.raises(ValueError, match="'pool3' is not a layer.*'pool'"):
        KerasClassifierExtractor(model, "pool3")
    with pytest.raises(FileNotFoundError, match="No .keras classifier"):
        KerasClassifierExtractor(str(tmp_path / "missing.keras"), "pool")
    extractor = KerasClassifierExtractor(model, "pool")
    assert not extractor.has_logits
    with pytest.raises(ValueError, match=r"shape \(8, 8, 3\); got \(16, 16, 3\)"):
        extractor(np.zeros((1, 16, 16, 3), np.float32))
