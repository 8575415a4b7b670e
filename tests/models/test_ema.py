"""Tests of the generator EMA's schedules against the two references."""

import numpy as np
import pytest


from keras_dagan.models.ema import EMASchedule
from keras_dagan.models.gan import GAN
from tests.models.test_gan import LATENT, compiled, real_dataset, tiny_models


def decays(schedule, steps, batch_size):
    return [float(schedule(step, batch_size)) for step in steps]


def test_biggan_warm_up_copies_g_until_ema_start():
    # BigGAN's utils.ema(start_itr=1000): updates 2..1000 copy G (decay 0)
    # and update 1001 (itr 1000) is the first decayed one.
    schedule = EMASchedule(decay=0.9999, start=1000)
    assert decays(schedule, [1, 2, 999, 1000], 50) == [0.0] * 4
    np.testing.assert_allclose(decays(schedule, [1001, 1002, 250_000], 50), [0.9999] * 3, rtol=1e-7)


def test_no_warm_up_decays_from_the_first_update():
    np.testing.assert_allclose(decays(EMASchedule(0.999), [1, 2, 10], 64), [0.999] * 3, rtol=1e-7)


def test_stylegan2_ada_half_life_and_ramp_up():
    # training_loop.py: ema_nimg = min(ema_kimg * 1000, cur_nimg * ema_rampup),
    # beta = 0.5 ** (batch / max(ema_nimg, 1e-8)), cur_nimg counted before
    # the update: update 1 copies G, update 2 is the first decayed one.
    batch, kimg, rampup = 64, 500, 0.05
    schedule = EMASchedule(kimg=kimg, rampup=rampup)

    def reference(step):
        cur_nimg = (step - 1) * batch
        ema_nimg = min(kimg * 1000, cur_nimg * rampup)
        return 0.5 ** (batch / max(ema_nimg, 1e-8))

    steps = [1, 2, 3, 100, 156_250, 156_251, 1_000_000]
    np.testing.assert_allclose(decays(schedule, steps, batch), [reference(s) for s in steps],
                               rtol=1e-5)
    assert decays(schedule, [1], batch) == [0.0] and decays(schedule, [2], batch)[0] > 0
    # Without ramp-up the half-life holds from the first update.
    np.testing.assert_allclose(decays(EMASchedule(kimg=10), [1, 7], 32), [0.5 ** (32 / 10_000)] * 2,
                               rtol=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    ({"decay": 1.0}, "ema_decay"),
    ({"start": 1.5}, "ema_start"),
    ({"kimg": -1}, "ema_kimg"),
    ({"rampup": 0.05}, "set ema_kimg"),
    ({"kimg": 10, "rampup": 0}, "ema_rampup"),
])
def test_bad_schedules_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EMASchedule(**kwargs)


def test_gan_ema_copies_g_during_warm_up_then_decays():
    generator, discriminator = tiny_models()
    gan = compiled(GAN(generator, discriminator, LATENT, ema_decay=0.5, ema_start=2))
    ema_of = dict(zip((id(v) for v in generator.variables), gan.ema_generator.variables))
    pairs = [(ema_of[id(v)], v) for v in generator.trainable_variables]
    data = real_dataset()
    for step in (1, 2):
        gan.fit(data, steps_per_epoch=1, epochs=1, verbose=0)
        for ema, variable in pairs:
            np.testing.assert_array_equal(ema.numpy(), variable.numpy(), err_msg=f"step {step}")
    before = [ema.numpy().copy() for ema, _ in pairs]
    gan.fit(data, steps_per_epoch=1, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 3
    for (ema, variable), previous in zip(pairs, before):
        np.testing.assert_allclose(ema.numpy(), 0.5 * previous + 0.5 * variable.numpy(),
                                   rtol=1e-5, atol=1e-7)


def test_gan_ema_half_life_in_images():
    generator, discriminator = tiny_models()
    gan = compiled(GAN(generator, discriminator, LATENT, ema_decay=0.0, ema_kimg=0.008))
    assert gan.ema_generator is not generator
    ema_of = dict(zip((id(v) for v in generator.variables), gan.ema_generator.variables))
    pairs = [(ema_of[id(v)], v) for v in generator.trainable_variables]
    before = [ema.numpy().copy() for ema, _ in pairs]
    gan.fit(real_dataset(batch=8), steps_per_epoch=1, epochs=1, verbose=0)
    beta = 0.5 ** (8 / 8.0)  # batch 8, half-life 8 images
    for (ema, variable), previous in zip(pairs, before):
        np.testing.assert_allclose(ema.numpy(), beta * previous + (1 - beta) * variable.numpy(),
                                   rtol=1e-5, atol=1e-7)
