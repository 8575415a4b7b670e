import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan import GAN
from keras_dagan.augment import AdaptiveAugment
from keras_dagan.models import dcgan_discriminator, dcgan_generator

LATENT, BATCH = 8, 8


def one_step(strategy, **adaptive):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        augment = AdaptiveAugment("bgc", seed=1, **adaptive)
        gan = GAN(dcgan_generator(LATENT, 32, width=4), dcgan_discriminator(32, width=4), LATENT,
                  augment=augment, ema_decay=0.0, seed=3)
        gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    real = np.random.default_rng(0).uniform(-1, 1, (BATCH * 2, 32, 32, 3)).astype("float32")
    history = gan.fit(tf.data.Dataset.from_tensor_slices(real).batch(BATCH).repeat(),
                      steps_per_epoch=1, epochs=1, verbose=0)
    return history.history, augment


def test_controller_steps_p_from_the_step_r_t():
    logs, augment = one_step(tf.distribute.get_strategy(), p=0.5, target=0.6, speed_kimg=0.1,
                             interval=1)
    r_t = logs["r_t"][0]
    expected = np.clip(0.5 + np.sign(r_t - 0.6) * BATCH / 100.0, 0, 1)
    assert float(augment.p.numpy()) == pytest.approx(expected, abs=1e-6)
    assert logs["augment_p"][0] == pytest.approx(expected, abs=1e-6)


def test_fixed_p_without_target_and_logged():
    logs, augment = one_step(tf.distribute.get_strategy(), p=0.3, target=None)
    assert float(augment.p.numpy()) == pytest.approx(0.3, abs=1e-7)
    assert logs["augment_p"][0] == pytest.approx(0.3, abs=1e-7)


@pytest.mark.slow
def test_controller_sees_the_global_batch_under_mirrored_strategy(mirrored_strategy):
    single, single_augment = one_step(tf.distribute.get_strategy(), p=0.5, target=0.6,
                                      speed_kimg=0.1, interval=1)
    mirrored, mirrored_augment = one_step(mirrored_strategy, p=0.5, target=0.6, speed_kimg=0.1,
                                          interval=1)
    np.testing.assert_allclose(mirrored["r_t"][0], single["r_t"][0], atol=1e-6)
    assert float(mirrored_augment.p.numpy()) == float(single_augment.p.numpy())
