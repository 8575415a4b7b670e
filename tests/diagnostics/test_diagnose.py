import keras
import numpy as np
import pytest

from keras_dagan.diagnostics import Diagnostics
from keras_dagan.metrics import KerasClassifierExtractor


def pooled_pixels(size=32):
    """A fast stand-in extractor: 4x4 average-pooled pixels."""
    images = keras.Input((size, size, 3))
    pooled = keras.layers.AveragePooling2D(size // 4)(images)
    features = keras.layers.Flatten(name="features")(pooled)
    return KerasClassifierExtractor(keras.Model(images, features), "features", name="pooled")


def test_scores_every_key_and_writes_the_copies_png(cifar_parts, tmp_path):
    diagnostics = Diagnostics(pooled_pixels(), cifar_parts["train"][:500],
                              cifar_parts["heldout"][:500], leak_families=("cutout",),
                              detector_steps=20)
    scores = diagnostics(cifar_parts["train"][:300], copies_png=tmp_path / "copies.png")
    assert set(scores) == {"memorization", "data_copying", "leakage", "precision", "recall",
                           "density", "coverage"}
    assert scores["memorization"] > 0.95 and scores["precision"] == 1.0
    assert set(scores["leakage"]) == {"cutout"}
    assert set(diagnostics.detector_accuracies()) == {"cutout"}
    assert (tmp_path / "copies.png").exists()


def test_precision_recall_alone_needs_no_heldout_images(cifar_parts):
    diagnostics = Diagnostics(pooled_pixels(), cifar_parts["train"][:200], None,
                              memorization=False, leakage=False)
    assert set(diagnostics(cifar_parts["unseen"][:100])) == {"precision", "recall", "density",
                                                             "coverage"}


def test_errors_name_the_problem(cifar_parts):
    train = cifar_parts["train"][:100]
    with pytest.raises(ValueError, match="need held-out real images"):
        Diagnostics(pooled_pixels(), train, None, leakage=False)
    diagnostics = Diagnostics(pooled_pixels(), train, None, memorization=False, leakage=False)
    with pytest.raises(ValueError, match=r"makes images of shape \(16, 16, 3\) but the data is "
                                         r"\(32, 32, 3\)"):
        diagnostics(np.zeros((10, 16, 16, 3), "uint8"))
    with pytest.raises(ValueError, match="k-NN with k=3 needs more than 3 generated samples"):
        diagnostics(train[:3])
    with pytest.raises(ValueError, match=r"cannot read the training images: .*takes images of "
                                         r"shape \(32, 32, 3\); got \(16, 16, 3\)"):
        Diagnostics(pooled_pixels(), np.zeros((10, 16, 16, 3), "uint8"), None,
                    memorization=False, leakage=False)
