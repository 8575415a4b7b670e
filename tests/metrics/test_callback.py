import glob

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan import GAN
from keras_dagan.diagnostics import Diagnostics
from keras_dagan.metrics import FIDCallback, KerasClassifierExtractor, reference_statistics
from keras_dagan.metrics.callback import scalar_logs
from keras_dagan.models import dcgan_discriminator, dcgan_generator

LATENT = 8


def toy_extractor():
    images = keras.Input((32, 32, 3))
    pooled = keras.layers.AveragePooling2D(8)(images)
    features = keras.layers.Flatten(name="features")(pooled)
    logits = keras.layers.Dense(4, name="logits")(features)
    return KerasClassifierExtractor(keras.Model(images, logits), "features", "logits", name="toy")


@pytest.mark.parametrize("num_classes", [None, 3])
def test_fid_goes_into_history_and_tensorboard(num_classes, tmp_path):
    keras.utils.set_random_seed(0)
    gan = GAN(dcgan_generator(LATENT, 32, width=4, num_classes=num_classes),
              dcgan_discriminator(32, width=4, num_classes=num_classes), LATENT,
              num_classes=num_classes, ema_decay=0.5)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (64, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 3, 64).astype("int32")
    extractor = toy_extractor()
    statistics = reference_statistics(extractor, [real], 64)
    callback = FIDCallback(statistics, extractor, every_n_steps=2, num_samples=40, batch_size=20,
                           is_splits=2)
    elements = (real, labels) if num_classes else real
    dataset = tf.data.Dataset.from_tensor_slices(elements).batch(8).repeat()
    logs = tmp_path / "logs"
    history = gan.fit(dataset, steps_per_epoch=3, epochs=2, verbose=0,
                      callbacks=[callback, keras.callbacks.TensorBoard(str(logs))])
    assert len(history.history["fid"]) == 2
    assert all(np.isfinite(value) and value > 0 for value in history.history["fid"])
    # Step 2 was scored in epoch 1, step 6 in epoch 2: different generators.
    assert history.history["fid"][0] != history.history["fid"][1]
    assert history.history["is"][1] >= 1.0
    tags = set()
    for path in glob.glob(str(logs / "train" / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    assert {"epoch_fid", "epoch_is"} <= tags


def test_rejects_a_bad_period():
    with pytest.raises(ValueError, match="every_n_steps"):
        FIDCallback(None, None, every_n_steps=0)


def test_diagnostics_are_logged_as_one_scalar_per_key(tmp_path):
    keras.utils.set_random_seed(0)
    gan = GAN(dcgan_generator(LATENT, 32, width=4), dcgan_discriminator(32, width=4), LATENT,
              ema_decay=0.5)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (64, 32, 32, 3)).astype("float32")
    extractor = toy_extractor()
    diagnostics = Diagnostics(extractor, real[:40], real[40:], leak_families=("cutout",),
                              detector_steps=2)
    callback = FIDCallback(reference_statistics(extractor, [real], 64), extractor,
                           every_n_steps=2, num_samples=30, batch_size=20, is_splits=0,
                           diagnostics=diagnostics)
    dataset = tf.data.Dataset.from_tensor_slices(real).batch(8).repeat()
    logs = tmp_path / "logs"
    history = gan.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0,
                      callbacks=[callback, keras.callbacks.TensorBoard(str(logs))])
    keys = {"fid", "memorization", "data_copying", "precision", "recall", "density", "coverage"}
    assert keys <= set(history.history)
    tags = set()
    for path in glob.glob(str(logs / "train" / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    assert {f"epoch_{key}" for key in keys} <= tags
    # A cutout detector trained for 2 steps on noise cannot separate it: no scalar.
    assert ("leakage/cutout" in history.history) == (
        diagnostics.detectors["cutout"].leakage(real) is not None)


def test_scalar_logs_flatten_leakage():
    assert scalar_logs({"fid": 3.0, "leakage": {"cutout": 0.5, "rotation": None}}) == {
        "fid": 3.0, "leakage/cutout": 0.5}
