"""keras_dagan.GAN training the StyleGAN2 networks with StyleGAN2's
regularization: lazy R1, path length and style mixing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan.augment import DiffAugment
from keras_dagan.models import GAN, stylegan2_discriminator, stylegan2_generator
from keras_dagan.models.regularization import lazy_adam

LATENT = 16


@pytest.mark.slow
def test_stylegan2_trains_with_lazy_r1_path_length_and_style_mixing():
    keras.utils.set_random_seed(0)
    generator = stylegan2_generator(latent_dim=LATENT, resolution=32, channel_base=256,
                                    channel_max=32, mapping_layers=2, w_dim=LATENT,
                                    style_mixing=0.9, seed=1)
    discriminator = stylegan2_discriminator(resolution=32, channel_base=256, channel_max=32,
                                            mbstd_group_size=4)
    gan = GAN(generator, discriminator, LATENT, augment=DiffAugment("translation", seed=2),
              loss="non_saturating", r1_gamma=0.1, r1_interval=2, pl_weight=2.0, pl_interval=2,
              ema_kimg=0.01, ema_rampup=0.05, zero_nonfinite_gradients=True, seed=3)
    gan.compile(d_optimizer=lazy_adam(2e-3, interval=2), g_optimizer=lazy_adam(2e-3, interval=2))
    w_avg = generator.w_avg.numpy().copy()
    real = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    data = tf.data.Dataset.from_tensors(real).repeat()
    logs = gan.fit(data, steps_per_epoch=3, epochs=1, verbose=0).history
    assert all(np.isfinite(value[0]) for value in logs.values()), logs
    assert logs["pl_penalty"][0] > 0 and logs["r1"][0] > 0
    # Steps 0 and 2 regularize: 3 updates + 2 lazy steps for each network.
    assert int(gan.d_optimizer.iterations.numpy()) == 5
    assert int(gan.g_optimizer.iterations.numpy()) == 5
    assert float(gan.pl_mean.numpy()) > 0
    assert not np.allclose(generator.w_avg.numpy(), w_avg)
    images = gan.ema_generator(np.zeros((2, LATENT), "float32"))
    assert images.shape == (2, 32, 32, 3) and np.isfinite(images).all()
