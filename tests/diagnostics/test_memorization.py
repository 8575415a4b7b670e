import numpy as np
import pytest
import tensorflow as tf

from keras_dagan.diagnostics import data_copying, memorization, write_copies_png
from keras_dagan.metrics import cifar10_extractor, image_features


@pytest.fixture(scope="module")
def features(cifar_parts):
    extractor = cifar10_extractor()
    return {name: image_features(extractor, images) for name, images in cifar_parts.items()}


def test_a_generator_returning_training_images_is_flagged(features):
    copier = features["train"][:1000]
    result = memorization(features["train"], features["heldout"], copier)
    assert result.score > 0.95 and result.copied_share == 1.0
    assert data_copying(features["train"], features["heldout"], copier) < -3


def test_a_generator_returning_unseen_real_images_is_not(features):
    result = memorization(features["train"], features["heldout"], features["unseen"])
    assert result.score < 0.05
    assert abs(data_copying(features["train"], features["heldout"], features["unseen"])) < 3


def test_half_copies_score_about_half(features):
    half = np.concatenate([features["train"][:500], features["unseen"][:500]])
    assert 0.4 < memorization(features["train"], features["heldout"], half).score < 0.6


def test_copies_png_pairs_samples_with_their_nearest_training_image(features, cifar_parts,
                                                                    tmp_path):
    generated = cifar_parts["train"][:40]
    result = memorization(features["train"], features["heldout"], features["train"][:40])
    write_copies_png(tmp_path / "copies.png", result, generated, cifar_parts["train"], count=3)
    grid = tf.io.decode_png(tf.io.read_file(str(tmp_path / "copies.png"))).numpy()
    assert grid.shape == (96, 64, 3)
    np.testing.assert_array_equal(grid[:32, :32], grid[:32, 32:])  # an exact copy


def test_too_few_heldout_images_for_the_threshold():
    with pytest.raises(ValueError, match="needs at least 20 held-out real images; got 5"):
        memorization(np.zeros((30, 4)), np.zeros((5, 4)), np.zeros((10, 4)))
