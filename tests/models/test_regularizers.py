"""Tests of LeCam, APA and CR/bCR (keras_dagan.regularizers) in the GAN."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan.augment import AdaptiveAugment, DiffAugment
from keras_dagan.models import DAG, dag_discriminator
from keras_dagan.models.gan import GAN
from keras_dagan.regularizers import (
    AdaptivePseudoAugmentation,
    ConsistencyAugment,
    ConsistencyRegularization,
    LeCam,
)
from tests.models.test_gan import (
    LATENT,
    RecordingAugment,
    batch_norm_free_generator,
    compiled,
    constant_generator,
    real_dataset,
    tiny_models,
)


def lecam_updates(decay, start, means):
    """The references' EMAs of a sequence of means, one per train step:
    BigGAN's `ema_losses` (decay 0 before `start_itr`) when start > 0,
    else TensorFlow's zero-debiased `assign_moving_average` (StyleGAN2)."""
    value, biased, averages = 0.0, 0.0, []
    for step, mean in enumerate(means, start=0):
        if start > 0:
            value = mean if step < start else decay * value + (1 - decay) * mean
        else:
            biased = decay * biased + (1 - decay) * mean
            value = biased / (1 - decay ** (step + 1))
        averages.append(value)
    return averages


@pytest.mark.parametrize("decay,start", [(0.9, 3), (0.99, 0)])
def test_lecam_averages_are_the_references(decay, start):
    lecam = LeCam(0.3, ema_decay=decay, start=start)
    rng = np.random.default_rng(0)
    real_means, fake_means = rng.normal(size=6), rng.normal(size=6) - 2
    for step in range(6):
        real = tf.constant(real_means[step] + np.array([-1.0, 1.0]), "float32")
        fake = tf.constant(fake_means[step] + np.array([0.5, -0.5]), "float32")
        ema_real, ema_fake = lecam.update_averages(real, fake, 2, tf.constant(step, "int64"))
        assert float(lecam.active(tf.constant(step, "int64"))) == float(step >= start)
    np.testing.assert_allclose([float(ema_real), float(ema_fake)],
                               [lecam_updates(decay, start, real_means)[-1],
                                lecam_updates(decay, start, fake_means)[-1]], rtol=1e-5)


def test_lecam_penalty_is_its_formula():
    real, fake = np.array([0.5, -1.0, 2.0], "float32"), np.array([-2.0, 0.3, 1.0], "float32")
    ema_real, ema_fake = 0.2, -0.4
    expected = (np.mean(np.maximum(real - ema_fake, 0) ** 2)
                + np.mean(np.maximum(ema_real - fake, 0) ** 2))
    per_sample = LeCam.penalty(tf.constant(real), tf.constant(fake), ema_real, ema_fake)
    np.testing.assert_allclose(np.mean(per_sample), expected, rtol=1e-6)


def test_consistency_penalty_is_its_formula():
    logits, partner = np.array([0.5, -1.0], "float32"), np.array([1.5, 1.0], "float32")
    np.testing.assert_allclose(ConsistencyRegularization.penalty(logits, partner), [1.0, 4.0])


def test_consistency_augment_flips_half_the_images_then_applies_its_policy():
    x = np.random.default_rng(0).uniform(-1, 1, (200, 8, 8, 3)).astype("float32")
    y = np.asarray(ConsistencyAugment("flip", seed=0)(x))
    flipped = np.array([np.array_equal(y[i], x[i, :, ::-1]) for i in range(200)])
    kept = np.array([np.array_equal(y[i], x[i]) for i in range(200)])
    assert np.all(flipped | kept) and 70 < flipped.sum() < 130
    translated = ConsistencyAugment("flip,translation", seed=0)
    assert translated.diff_augment.policy == ("translation",)
    assert ConsistencyAugment("color").flip is False


def linear_discriminator():
    keras.utils.set_random_seed(3)
    images = keras.Input((32, 32, 3))
    logits = keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.02))(
        keras.layers.Flatten()(images))
    return keras.Model(images, logits)


def one_d_step(**kwargs):
    """D's kernel before and after one train step with plain SGD (lr 1),
    a constant G and a linear D, so the expected update is computable."""
    gan = GAN(constant_generator(), linear_discriminator(), LATENT, ema_decay=0.0, seed=0,
              **kwargs)
    gan.compile(d_optimizer=keras.optimizers.SGD(1.0), g_optimizer=keras.optimizers.SGD(0.0))
    before = [w.numpy() for w in gan.discriminator.trainable_weights]
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    fake = gan.generator(np.zeros((8, LATENT), "float32")).numpy()
    logs = gan.train_on_batch(x, return_dict=True)
    return gan, before, x, fake, logs


def expected_kernel(gan, before, loss_fn):
    discriminator = linear_discriminator()
    discriminator.set_weights(before)
    with tf.GradientTape() as tape:
        loss = loss_fn(lambda images: tf.reshape(discriminator(images), (-1,)))
    gradients = tape.gradient(loss, discriminator.trainable_weights)
    return [w - g.numpy() for w, g in zip(before, gradients)]


def hinge(real_logits, fake_logits):
    return tf.reduce_mean(tf.nn.relu(1 - real_logits)) + tf.reduce_mean(tf.nn.relu(1 + fake_logits))


def test_lecam_joins_the_d_loss_as_the_reference_computes_it():
    gan, before, x, fake, logs = one_d_step(augment=None, lecam_weight=5.0)

    def loss(D):
        real_logits, fake_logits = D(x), D(fake)
        # The first update: the zero-debiased EMAs are this batch's means.
        ema_real = tf.stop_gradient(tf.reduce_mean(real_logits))
        ema_fake = tf.stop_gradient(tf.reduce_mean(fake_logits))
        penalty = (tf.reduce_mean(tf.nn.relu(real_logits - ema_fake) ** 2)
                   + tf.reduce_mean(tf.nn.relu(ema_real - fake_logits) ** 2))
        loss.penalty = float(penalty)
        return hinge(real_logits, fake_logits) + 5.0 * penalty

    expected = expected_kernel(gan, before, loss)
    for got, want in zip(gan.discriminator.get_weights(), expected):
        # atol at 1e-5 of kernels near 2: float32 sums in another order
        # (oneDNN on another CPU) move small entries by 2e-6.
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logs["lecam"], loss.penalty, rtol=1e-4)
    np.testing.assert_allclose(logs["lecam_ema_real"], logs["d_real"], rtol=1e-5)


@pytest.mark.parametrize("cr_augment", [None, keras.layers.Rescaling(2.0)])
def test_cr_and_bcr_join_the_d_loss_as_the_reference_computes_them(cr_augment):
    # D's augmentation halves the images; the partner view is the image
    # before it (None) or T(view) = 2 * view: the same pair both ways.
    gan, before, x, fake, logs = one_d_step(augment=keras.layers.Rescaling(0.5),
                                            cr_weight_real=10.0, cr_weight_fake=3.0,
                                            cr_augment=cr_augment)

    def loss(D):
        real_logits, fake_logits = D(0.5 * x), D(0.5 * fake)
        cr_real = tf.reduce_mean((real_logits - D(x)) ** 2)
        cr_fake = tf.reduce_mean((fake_logits - D(fake)) ** 2)
        loss.terms = (float(cr_real), float(cr_fake))
        return hinge(real_logits, fake_logits) + 10.0 * cr_real + 3.0 * cr_fake

    expected = expected_kernel(gan, before, loss)
    for got, want in zip(gan.discriminator.get_weights(), expected):
        # atol at 1e-5 of kernels near 2: float32 sums in another order
        # (oneDNN on another CPU) move small entries by 2e-6.
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose((logs["cr_real"], logs["cr_fake"]), loss.terms, rtol=1e-4)


def test_zero_weights_leave_the_step_bitwise_unchanged():
    def trained(**kwargs):
        gan = compiled(GAN(*tiny_models(), LATENT, augment=DiffAugment(seed=1), r1_gamma=1.0,
                           seed=2, **kwargs))
        gan.fit(real_dataset(), steps_per_epoch=2, epochs=1, verbose=0)
        return gan.get_weights()

    plain = trained()
    off = trained(lecam_weight=0.0, cr_weight_real=0.0, cr_weight_fake=0.0, apa=False)
    for a, b in zip(plain, off):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("p,sign", [(1.0, -1.0), (0.0, 1.0)])
def test_apa_shows_d_generated_images_as_reals_with_probability_p(p, sign):
    # Reals are positive, the generator's images -1: the recorder's first
    # call, D's real path, says which it saw.
    recorder = RecordingAugment()
    apa = dict(apa_target=None, apa_p=1.0) if p == 1 else dict(apa_target=0.6, apa_p=0.0)
    gan = compiled(GAN(constant_generator(), tiny_models()[1], LATENT, augment=recorder,
                       apa=True, **apa))
    gan.train_on_batch(np.full((8, 32, 32, 3), 0.5, "float32"))
    assert recorder.calls.numpy()[0] == sign
    mixed = AdaptivePseudoAugmentation(target=None, p=0.5).mix(
        tf.ones((1000, 1, 1, 1)), -tf.ones((1000, 1, 1, 1)), tf.random.uniform((1000,), seed=1))
    assert 400 < int(tf.reduce_sum(tf.cast(mixed < 0, "int32"))) < 600


@pytest.mark.parametrize("reals,initial,direction", [(0.5, 0.0, 1), (-0.5, 0.5, -1)])
def test_apa_controller_raises_p_when_d_overfits_and_lowers_it_otherwise(reals, initial,
                                                                         direction):
    # D scores the images' sum with a frozen positive weight: it separates
    # bright reals from G's dark images (r_t = 1 > target), not dark reals.
    images = keras.Input((32, 32, 3))
    logits = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(
        keras.layers.Flatten()(images))
    gan = GAN(constant_generator(), keras.Model(images, logits), LATENT, apa=True,
              apa_target=0.6, apa_kimg=0.01, apa_interval=1, apa_p=initial)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    logs = gan.train_on_batch(np.full((8, 32, 32, 3), reals, "float32"), return_dict=True)
    # p moves by the batch / (kimg * 1000) = 0.8 per step, kept in [0, 1].
    assert np.sign(logs["apa_p"] - initial) == direction
    np.testing.assert_allclose(logs["apa_p"], np.clip(initial + 0.8 * direction, 0, 1))


def test_apa_shares_adas_p_and_controller_by_default():
    augment = AdaptiveAugment(target=0.6, speed_kimg=100)
    shared = AdaptivePseudoAugmentation(target=0.6, speed_kimg=100)
    shared.share(augment)
    assert shared.p is augment.p
    shared.update(8.0, 8.0)  # left to the layer's controller
    assert float(shared.named()[1][1]) == 0.0
    separate = AdaptivePseudoAugmentation(target=0.7, separate_controller=True)
    separate.share(augment)
    assert separate.p is not augment.p
    with pytest.raises(ValueError, match="apa_separate_controller=True"):
        AdaptivePseudoAugmentation(target=0.7).share(augment)


def test_lecam_and_apa_state_survive_save_and_load(tmp_path):
    def build(seed):
        return compiled(GAN(*tiny_models(seed=seed), LATENT, augment=DiffAugment(),
                            lecam_weight=0.3, apa=True, apa_kimg=1, apa_interval=1,
                            apa_p=0.3))

    gan = build(0)
    gan.fit(real_dataset(), steps_per_epoch=2, epochs=1, verbose=0)
    path = str(tmp_path / "gan.weights.h5")
    gan.save_weights(path)
    other = build(5)
    other.load_weights(path)
    for (name, mine), (_, theirs) in zip(other._named_state(), gan._named_state()):
        assert float(mine) == float(theirs), name
    assert float(gan.apa.p) != 0.3 and float(gan.lecam.ema_weight) > 0


@pytest.mark.slow
def test_regularizers_match_between_one_device_and_mirrored_strategy(mirrored_strategy):
    augment = DiffAugment()

    def first_steps(strategy):
        with strategy.scope():
            _, discriminator = tiny_models()
            gan = compiled(GAN(batch_norm_free_generator(), discriminator, LATENT,
                               augment=augment, seed=7, d_steps=2, lecam_weight=0.3,
                               cr_weight_real=10.0, cr_weight_fake=10.0, apa=True,
                               apa_kimg=0.01, apa_interval=1))
        x = np.random.default_rng(0).uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
        history = gan.fit(tf.data.Dataset.from_tensors(x).repeat(), steps_per_epoch=2, epochs=1,
                          verbose=0).history
        return history, [float(v.numpy()) for _, v in gan._named_state()]

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    single, single_state = first_steps(tf.distribute.OneDeviceStrategy(devices[0]))
    mirrored, mirrored_state = first_steps(mirrored_strategy)
    for name in ("d_loss", "g_loss", "lecam", "cr_real", "cr_fake", "apa_p", "lecam_ema_real",
                 "lecam_ema_fake"):
        np.testing.assert_allclose(mirrored[name][0], single[name][0], rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    np.testing.assert_allclose(mirrored_state, single_state, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("loss,with_dag,cr_augment", [
    ("hinge", True, None), ("non_saturating", False, "flip,translation"),
    ("wasserstein", False, None)])
def test_all_three_with_each_loss_and_with_dag_and_labels(loss, with_dag, cr_augment):
    dag = DAG(["rotation"]) if with_dag else None
    classes = 10 if with_dag else None
    generator, discriminator = tiny_models(num_classes=classes)
    if with_dag:
        discriminator = dag_discriminator(discriminator, dag.num_heads)
    gan = compiled(GAN(generator, discriminator, LATENT, augment=DiffAugment(), dag=dag,
                       num_classes=classes, loss=loss, lecam_weight=0.3, apa=True,
                       cr_weight_real=10.0, cr_weight_fake=10.0,
                       cr_augment=cr_augment and ConsistencyAugment(cr_augment)))
    data = real_dataset(labels=with_dag)
    logs = gan.fit(data, steps_per_epoch=1, epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in logs.values()), logs
    assert {"lecam", "cr_real", "cr_fake", "apa_p", "lecam_ema_real"} <= set(logs)


@pytest.mark.slow
def test_apa_with_ada_shares_one_p_through_training():
    augment = AdaptiveAugment(target=0.6, speed_kimg=0.01, interval=1)
    gan = compiled(GAN(*tiny_models(), LATENT, augment=augment, apa=True, apa_target=0.6,
                       apa_kimg=0.01, apa_interval=1, r1_gamma=1.0, r1_interval=2))
    logs = gan.fit(real_dataset(), steps_per_epoch=2, epochs=1, verbose=0).history
    assert gan.apa.p is augment.p and logs["apa_p"] == logs["augment_p"]


@pytest.mark.parametrize("kwargs,match", [
    ({"lecam_weight": -0.1}, "lecam_weight must be a number >= 0"),
    ({"lecam_weight": 0.3, "lecam_ema_decay": 1.0}, r"lecam_ema_decay must be in \[0, 1\)"),
    ({"lecam_start": -1}, "lecam_start must be an integer >= 0"),
    ({"apa": True, "apa_target": None, "apa_p": 0.0}, "set apa_target"),
    ({"apa": True, "apa_target": 1.5}, r"apa_target must be a number in \[0, 1\]"),
    ({"apa": True, "apa_kimg": 0}, "apa_kimg must be a number > 0"),
    ({"apa": "yes"}, "apa must be True or False"),
    ({"apa": True, "augment": AdaptiveAugment(target=0.6, speed_kimg=100)}, "settings differ"),
    ({"cr_weight_real": -1.0}, "cr_weight_real must be a number >= 0"),
    ({"cr_weight_fake": 10.0, "augment": DiffAugment(), "augment_mode": "real_only"},
     "cr_weight_fake > 0 without cr_augment"),
    ({"cr_weight_real": 10.0}, "cr_weight_real > 0 without cr_augment"),
])
def test_bad_regularizer_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GAN(*tiny_models(), LATENT, **kwargs)
