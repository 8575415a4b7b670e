"""Tests of keras_dagan.GAN's train step."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras import ops

from keras_dagan.augment import DiffAugment
from keras_dagan.augment.base import BaseAugmentation
from keras_dagan.models.dcgan import dcgan_discriminator, dcgan_generator
from keras_dagan.models.gan import GAN, interleave_for_replicas
from keras_dagan.models.losses import discriminator_loss, generator_loss

LATENT = 8


def tiny_models(num_classes=None, seed=0):
    keras.utils.set_random_seed(seed)
    generator = dcgan_generator(latent_dim=LATENT, resolution=32, width=4, num_classes=num_classes)
    discriminator = dcgan_discriminator(resolution=32, width=4, num_classes=num_classes)
    return generator, discriminator


def compiled(gan, lr=1e-3):
    gan.compile(
        d_optimizer=keras.optimizers.Adam(lr, beta_1=0.0),
        g_optimizer=keras.optimizers.Adam(lr, beta_1=0.0),
    )
    return gan


def real_dataset(batch=8, count=32, labels=False, value=0.5):
    rng = np.random.default_rng(0)
    x = (value + 0.05 * rng.standard_normal((count, 32, 32, 3))).astype("float32")
    if labels:
        y = rng.integers(0, 10, count).astype("int32")
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch, drop_remainder=True).repeat()
    return tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True).repeat()


class RecordingAugment(keras.layers.Layer):
    """Records, in call order, whether it saw reals (+1) or fakes (-1).

    The real batch is all positive and the generator below outputs -1, so
    the sign of the input mean says which path called.
    """

    def __init__(self):
        super().__init__()
        self.calls = self.add_weight(shape=(8,), initializer="zeros", trainable=False)
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, dtype="int32")

    def call(self, images, training=True):
        sign = ops.sign(ops.mean(images))
        slot = ops.arange(8, dtype="int32") == self.count
        self.calls.assign(ops.where(slot, sign, self.calls))
        self.count.assign(self.count + 1)
        return images


def constant_generator():
    z = keras.Input((LATENT,))
    h = keras.layers.Dense(32 * 32 * 3, kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(-5.0))(z)
    return keras.Model(z, keras.layers.Reshape((32, 32, 3))(keras.layers.Activation("tanh")(h)))


@pytest.mark.parametrize(
    "mode,expected",
    [
        ("both", [1, -1, -1]),      # D real, D fake, G fake
        ("d_only", [1, -1]),        # D real, D fake
        ("real_only", [1]),         # D real
        ("none", []),
    ],
)
def test_each_augment_mode_augments_exactly_its_paths(mode, expected):
    recorder = RecordingAugment()
    _, discriminator = tiny_models()
    gan = compiled(GAN(constant_generator(), discriminator, LATENT, augment=recorder,
                       augment_mode=mode, ema_decay=0.0))
    gan.fit(real_dataset(), steps_per_epoch=1, epochs=1, verbose=0)
    assert int(recorder.count.numpy()) == len(expected)
    np.testing.assert_array_equal(recorder.calls.numpy()[: len(expected)], expected)


class Scale(keras.layers.Layer):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, images, training=True):
        return images * self.factor


class ScaleAugmentation(BaseAugmentation):
    """The same scaling as a keras_dagan layer, which GAN compiles with XLA."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def get_random_transformation(self, images, training=True, seed=None):
        (u,) = self.draw_uniform(images, 1, seed)
        return {"factor": ops.zeros_like(u) + self.factor}

    def transform_images(self, images, transformation, training=True):
        return images * ops.reshape(transformation["factor"], (-1, 1, 1, 1))


@pytest.mark.parametrize("layer", [Scale, ScaleAugmentation])
@pytest.mark.parametrize("mode,factor,g_changes", [
    ("both", 0.0, False),      # zero augmentation: no gradient reaches G
    ("both", 1.0, True),       # identity: G learns
    ("d_only", 0.0, True),     # G's update is not augmented in d_only
])
def test_generator_gradient_flows_through_the_augmentation(layer, mode, factor, g_changes):
    generator, discriminator = tiny_models()
    gan = compiled(GAN(generator, discriminator, LATENT, augment=layer(factor),
                       augment_mode=mode, ema_decay=0.0))
    trainable_before = [v.numpy().copy() for v in generator.trainable_variables]
    gan.fit(real_dataset(), steps_per_epoch=1, epochs=1, verbose=0)
    changed = any(not np.array_equal(a, v.numpy()) for a, v in zip(trainable_before, generator.trainable_variables))
    assert changed == g_changes


def test_training_moves_generated_distribution_toward_the_data():
    generator, discriminator = tiny_models(seed=1)
    gan = compiled(GAN(generator, discriminator, LATENT,
                       augment=DiffAugment("translation,cutout", seed=0),
                       loss="non_saturating", ema_decay=0.0, seed=0), lr=2e-3)
    z = keras.random.normal((64, LATENT), seed=3)

    def distance():
        samples = generator(z, training=False).numpy()
        return abs(samples.mean() - 0.5)

    start = distance()
    gan.fit(real_dataset(batch=16, count=64), steps_per_epoch=200, epochs=1, verbose=0)
    end = distance()
    assert end < 0.5 * start, (start, end)


def test_losses_match_their_formulas():
    real = np.array([2.0, -0.5, 0.3], "float32")
    fake = np.array([-2.0, 0.5, 0.0], "float32")
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731
    np.testing.assert_allclose(discriminator_loss("hinge", real, fake), relu(1 - real) + relu(1 + fake), rtol=1e-6)
    np.testing.assert_allclose(discriminator_loss("non_saturating", real, fake),
                               softplus(-real) + softplus(fake), rtol=1e-5)
    np.testing.assert_allclose(discriminator_loss("wasserstein", real, fake), fake - real)
    np.testing.assert_allclose(generator_loss("hinge", fake), -fake)
    np.testing.assert_allclose(generator_loss("non_saturating", fake), softplus(-fake), rtol=1e-5)
    np.testing.assert_allclose(generator_loss("wasserstein", fake), -fake)


@pytest.mark.parametrize("loss", ["hinge", "non_saturating", "wasserstein"])
def test_logs_hold_every_metric(loss):
    generator, discriminator = tiny_models()
    gan = compiled(GAN(generator, discriminator, LATENT, augment=DiffAugment(), loss=loss,
                       r1_gamma=0.1, d_steps=2))
    history = gan.fit(real_dataset(), steps_per_epoch=2, epochs=1, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "r1", "d_real", "d_fake", "r_t"}
    assert all(np.isfinite(v[0]) for v in history.values())
    assert -1 <= history["r_t"][0] <= 1
    assert history["r1"][0] > 0


@pytest.mark.parametrize("d_steps", [1, 3])
def test_d_steps_discriminator_updates_per_generator_update(d_steps):
    generator, discriminator = tiny_models()
    gan = compiled(GAN(generator, discriminator, LATENT, d_steps=d_steps, ema_decay=0.0))
    gan.fit(real_dataset(batch=4 * d_steps), steps_per_epoch=2, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    assert int(gan.d_optimizer.iterations.numpy()) == 2 * d_steps


class RecordingDiscriminator(keras.Model):
    """Records the first pixel of every image of each call, in call order,
    then scores the images with a trainable linear layer."""

    def __init__(self, batch, calls=16):
        super().__init__()
        self.seen = self.add_weight(shape=(calls, batch), initializer="zeros", trainable=False)
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, dtype="int32")
        self.score = keras.layers.Dense(1)

    def call(self, images, training=False):
        if training:
            slot = ops.arange(self.seen.shape[0], dtype="int32")[:, None] == self.count
            self.seen.assign(ops.where(slot, images[None, :, 0, 0, 0], self.seen))
            self.count.assign(self.count + 1)
        return self.score(ops.reshape(images, (ops.shape(images)[0], -1)))


def test_each_d_update_gets_its_own_slice_of_reals():
    # Real image i is the constant (i + 1) / 100, the fakes are about -1.
    batch, d_steps = 4, 3
    values = (np.arange(batch * d_steps) + 1) / 100
    x = np.broadcast_to(values[:, None, None, None], (batch * d_steps, 32, 32, 3)).astype("float32")
    discriminator = RecordingDiscriminator(batch)
    gan = compiled(GAN(constant_generator(), discriminator, LATENT, d_steps=d_steps,
                       ema_decay=0.0))
    gan.fit(tf.data.Dataset.from_tensors(x).repeat(), steps_per_epoch=1, epochs=1, verbose=0)
    # Calls: D update k scores its reals, then fakes; then G's update.
    assert int(discriminator.count.numpy()) == 2 * d_steps + 1
    seen = discriminator.seen.numpy()
    for k in range(d_steps):
        np.testing.assert_allclose(seen[2 * k], values[k * batch:(k + 1) * batch], rtol=1e-6)
        assert np.all(seen[2 * k + 1] < -0.99)
    assert np.all(seen[2 * d_steps] < -0.99)


def test_a_batch_not_divisible_by_d_steps_names_both_numbers():
    gan = compiled(GAN(*tiny_models(), LATENT, d_steps=2))
    with pytest.raises(ValueError, match=r"batch of 7 reals .* d_steps=2 .*d_steps=2\)"):
        gan.fit(real_dataset(batch=7), steps_per_epoch=1, epochs=1, verbose=0)


def test_interleave_gives_each_replica_its_share_of_every_d_update():
    d_steps, replicas, per_replica = 3, 2, 2
    images = tf.range(d_steps * replicas * per_replica)
    labels = images * 10
    reordered, reordered_labels = interleave_for_replicas((images, labels), d_steps, replicas)
    shares = np.split(reordered.numpy(), replicas)
    for r, share in enumerate(shares):
        for k, rows in enumerate(np.split(share, d_steps)):
            global_slice = np.split(images.numpy(), d_steps)[k]
            np.testing.assert_array_equal(rows, np.split(global_slice, replicas)[r])
    np.testing.assert_array_equal(reordered_labels.numpy(), reordered.numpy() * 10)
    with pytest.raises(ValueError, match="multiple of 6"):
        interleave_for_replicas(tf.zeros((8, 2)), d_steps, replicas)


def test_r1_penalty_matches_a_direct_computation():
    generator, discriminator = tiny_models()
    gan = compiled(GAN(generator, discriminator, LATENT, augment=None, r1_gamma=10.0, ema_decay=0.0), lr=0.0)
    x = next(iter(real_dataset()))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logit_sum = tf.reduce_sum(discriminator(x, training=True))
    expected = tf.reduce_mean(tf.reduce_sum(tf.square(tape.gradient(logit_sum, x)), [1, 2, 3]))
    history = gan.fit(real_dataset(), steps_per_epoch=1, epochs=1, verbose=0).history
    np.testing.assert_allclose(history["r1"][0], expected, rtol=1e-4)


@pytest.mark.parametrize("through", [True, False])
def test_r1_is_taken_through_the_augmentation_or_at_the_augmented_reals(through):
    # With augment(x) = c x: the gradient of D(c x) with respect to x is
    # c grad D(c x); with respect to the augmented reals it is grad D(c x).
    factor = 0.5
    generator, discriminator = tiny_models()
    gan = compiled(GAN(generator, discriminator, LATENT, augment=ScaleAugmentation(factor),
                       augment_mode="both", r1_gamma=10.0, r1_through_augment=through,
                       ema_decay=0.0), lr=0.0)
    x = next(iter(real_dataset()))
    augmented = factor * x
    with tf.GradientTape() as tape:
        tape.watch(augmented)
        logit_sum = tf.reduce_sum(discriminator(augmented, training=True))
    at_augmented = tf.reduce_mean(tf.reduce_sum(tf.square(tape.gradient(logit_sum, augmented)),
                                                [1, 2, 3]))
    expected = at_augmented * (factor ** 2 if through else 1.0)
    history = gan.fit(real_dataset(), steps_per_epoch=1, epochs=1, verbose=0).history
    np.testing.assert_allclose(history["r1"][0], expected, rtol=1e-4)


def test_ema_generator_tracks_the_generator():
    generator, discriminator = tiny_models()
    gan = compiled(GAN(generator, discriminator, LATENT, augment=DiffAugment(), ema_decay=0.75))
    initial = [v.numpy().copy() for v in generator.trainable_variables]
    gan.fit(real_dataset(), steps_per_epoch=1, epochs=1, verbose=0)
    trained = [v.numpy() for v in generator.trainable_variables]
    # clone_model keeps the variable order.
    ema_of = dict(zip((id(v) for v in generator.variables), gan.ema_generator.variables))
    for variable, before, after in zip(generator.trainable_variables, initial, trained):
        ema = ema_of[id(variable)].numpy()
        np.testing.assert_allclose(ema, 0.75 * before + 0.25 * after, rtol=1e-5, atol=1e-7)
    assert not np.allclose(initial[0], trained[0])
    assert gan.ema_generator is not generator
    assert GAN(*tiny_models(), LATENT, ema_decay=0.0).ema_generator is not None


def test_ema_disabled_uses_the_generator():
    generator, discriminator = tiny_models()
    assert GAN(generator, discriminator, LATENT, ema_decay=0.0).ema_generator is generator


def test_save_and_load_weights_round_trip_including_ema(tmp_path):
    gan = compiled(GAN(*tiny_models(), LATENT, augment=DiffAugment(), ema_decay=0.5))
    gan.fit(real_dataset(), steps_per_epoch=2, epochs=1, verbose=0)
    path = str(tmp_path / "gan.weights.h5")
    gan.save_weights(path)
    other = compiled(GAN(*tiny_models(seed=5), LATENT, augment=DiffAugment(), ema_decay=0.5))
    z = np.random.default_rng(0).standard_normal((4, LATENT)).astype("float32")
    assert not np.allclose(other.ema_generator(z), gan.ema_generator(z))
    other.load_weights(path)
    np.testing.assert_array_equal(other.ema_generator(z), gan.ema_generator(z))
    np.testing.assert_array_equal(other.generator(z), gan.generator(z))
    x = next(iter(real_dataset()))
    np.testing.assert_array_equal(other.discriminator(x), gan.discriminator(x))


def test_conditional_gan_takes_labels_from_tuples_and_tfds_dicts():
    gan = compiled(GAN(*tiny_models(num_classes=10), LATENT, augment=DiffAugment(), num_classes=10))
    history = gan.fit(real_dataset(labels=True), steps_per_epoch=2, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0])
    as_dicts = real_dataset(labels=True).map(lambda x, y: {"image": x, "label": tf.cast(y, tf.int64), "id": y})
    gan.fit(as_dicts, steps_per_epoch=1, epochs=1, verbose=0)
    z = np.zeros((2, LATENT), "float32")
    images = gan([z, np.array([0, 1], "int32")])
    assert tuple(images.shape) == (2, 32, 32, 3)
    with pytest.raises(ValueError, match="yields no labels"):
        gan.fit(real_dataset(labels=False), steps_per_epoch=1, epochs=1, verbose=0)


def batch_norm_free_generator():
    keras.utils.set_random_seed(1)
    z = keras.Input((LATENT,))
    h = keras.layers.Dense(8 * 8 * 8, activation="relu")(z)
    h = keras.layers.Reshape((8, 8, 8))(h)
    h = keras.layers.UpSampling2D(4)(h)
    return keras.Model(z, keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(h))


@pytest.mark.parametrize("d_steps", [1, 2])
def test_first_step_matches_between_one_device_and_mirrored_strategy(mirrored_strategy, d_steps):
    # The augmentation is made outside the scope on purpose: draws must still
    # be mirrored. G has no batch norm, whose statistics are per replica.
    # With d_steps = 2 the reals differ per D update, so a replica that
    # trained on the wrong rows would change the losses.
    augment = DiffAugment()

    def first_step_logs(strategy):
        with strategy.scope():
            _, discriminator = tiny_models()
            gan = compiled(GAN(batch_norm_free_generator(), discriminator, LATENT,
                               augment=augment, r1_gamma=1.0, seed=7, d_steps=d_steps))
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, (8 * d_steps, 32, 32, 3)).astype("float32")
        data = tf.data.Dataset.from_tensors(x).repeat()
        return gan.fit(data, steps_per_epoch=1, epochs=1, verbose=0).history

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    single = first_step_logs(tf.distribute.OneDeviceStrategy(devices[0]))
    mirrored = first_step_logs(mirrored_strategy)
    for name in ("d_loss", "g_loss", "d_real", "d_fake", "r1", "r_t"):
        np.testing.assert_allclose(mirrored[name][0], single[name][0], rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    try:
        gan = compiled(GAN(*tiny_models(), LATENT, augment=DiffAugment(), r1_gamma=0.1))
        history = gan.fit(real_dataset(), steps_per_epoch=2, epochs=1, verbose=0).history
        if policy == "mixed_float16":
            assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    finally:
        keras.config.set_dtype_policy("float32")
    assert all(np.isfinite(v[0]) for v in history.values()), history


@pytest.mark.parametrize("kwargs,match", [
    ({"augment_mode": "fakes"}, "augment_mode"),
    ({"loss": "mse"}, "loss"),
    ({"d_steps": 0}, "d_steps"),
    ({"r1_gamma": -1.0}, "r1_gamma"),
    ({"ema_decay": 1.0}, "ema_decay"),
    ({"ema_start": -1}, "ema_start"),
    ({"ema_kimg": 0}, "ema_kimg"),
    ({"ema_rampup": 0.05}, "ema_kimg too"),
    ({"r1_through_augment": "yes"}, "r1_through_augment"),
    ({"num_classes": 1}, "num_classes"),
    ({"augment": DiffAugment(value_range=(0, 1))}, r"value_range=\(0.0, 1.0\).*\(-1, 1\)"),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GAN(*tiny_models(), LATENT, **kwargs)


def test_uint8_images_are_rejected_with_the_fix():
    gan = compiled(GAN(*tiny_models(), LATENT))
    ds = tf.data.Dataset.from_tensors(np.zeros((8, 32, 32, 3), "uint8")).repeat()
    with pytest.raises(ValueError, match="prepare_dataset"):
        gan.fit(ds, steps_per_epoch=1, epochs=1, verbose=0)
