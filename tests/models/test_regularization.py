"""Tests of keras_dagan.models.regularization and of the GAN's lazy
regularization: lazy R1, path length, lazy_adam, non-finite gradients."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_dagan.augment import DiffAugment
from keras_dagan.divergence import StopOnDivergence
from keras_dagan.models.dag import DAG, dag_discriminator
from keras_dagan.models.dcgan import dcgan_discriminator, dcgan_generator
from keras_dagan.models.gan import GAN
from keras_dagan.models.regularization import lazy_adam, nan_to_num, path_lengths

LATENT, RES = 8, 8


class TinyStyleGenerator(keras.Model):
    """A StyleGAN-shaped generator small enough to compute by hand: ws is the
    mapped z repeated `num_ws` times, the synthesis is linear."""

    def __init__(self, num_ws=3, w_dim=4, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim, self.num_ws, self.w_dim = LATENT, num_ws, w_dim
        self.map = keras.layers.Dense(w_dim)
        self.synthesize = keras.layers.Dense(RES * RES * 3)
        self.training_ws_calls = keras.Variable(0, dtype="int32", trainable=False)

    def training_ws(self, z, labels=None):
        self.training_ws_calls.assign_add(1)
        return ops.repeat(self.map(z)[:, None], self.num_ws, axis=1)

    def mapping(self, z, labels=None, training=False):
        return ops.repeat(self.map(z)[:, None], self.num_ws, axis=1)

    def synthesis(self, ws, training=False):
        flat = ops.reshape(ws, (-1, self.num_ws * self.w_dim))
        return ops.reshape(self.synthesize(flat), (-1, RES, RES, 3))

    def call(self, z, training=False):
        return self.synthesis(self.mapping(z), training=training)


def linear_discriminator():
    return keras.Sequential([keras.Input((RES, RES, 3)), keras.layers.Flatten(),
                             keras.layers.Dense(1)])


def constant_data(batch=4, seed=0):
    x = np.random.default_rng(seed).uniform(-1, 1, (batch, RES, RES, 3)).astype("float32")
    return tf.data.Dataset.from_tensors(x).repeat()


def style_gan(strategy=None, optimizer=keras.optimizers.Adam, lr=1e-2, jit_compile=False,
              **kwargs):
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    with strategy.scope():
        gan = GAN(TinyStyleGenerator(), linear_discriminator(), LATENT, loss="non_saturating",
                  ema_decay=0.0, seed=3, **kwargs)
        gan.compile(d_optimizer=optimizer(lr), g_optimizer=optimizer(lr), jit_compile=jit_compile)
    return gan


def fit(gan, steps, data=None):
    return gan.fit(data or constant_data(), steps_per_epoch=steps, epochs=1, verbose=0).history


# -- lazy R1 ---------------------------------------------------------------


@pytest.mark.parametrize("d_steps", [1, 2])
def test_lazy_r1_adds_one_d_optimizer_step_every_interval(d_steps):
    gan = style_gan(r1_gamma=1.0, r1_interval=4, d_steps=d_steps)
    fit(gan, 8 // d_steps, constant_data(4 * d_steps))
    # D updates 0..7; R1 steps on updates 0 and 4.
    assert int(gan.d_optimizer.iterations.numpy()) == 8 + 2
    assert int(gan.g_optimizer.iterations.numpy()) == 8 // d_steps
    assert int(gan.train_steps.numpy()) == 8 // d_steps


def test_r1_every_update_adds_no_optimizer_step():
    gan = style_gan(r1_gamma=1.0)
    fit(gan, 3)
    assert int(gan.d_optimizer.iterations.numpy()) == 3


def test_lazy_r1_step_is_gamma_times_interval_on_the_penalty():
    # D(x) = w . x + b: grad_x D = w, so R1 = ||w||^2 and the R1 step's loss
    # gamma / 2 * N * ||w||^2 has gradient gamma * N * w (none for b). With
    # SGD, the R1 step after D's main update scales w by 1 - lr gamma N.
    gamma, interval, lr = 0.5, 4, 0.05
    lazy = style_gan(optimizer=keras.optimizers.SGD, lr=lr, r1_gamma=gamma,
                     r1_interval=interval)
    plain = style_gan(optimizer=keras.optimizers.SGD, lr=lr)
    logs = fit(lazy, 1)
    fit(plain, 1)
    main_kernel, main_bias = (v.numpy() for v in plain.discriminator.trainable_variables)
    kernel, bias = (v.numpy() for v in lazy.discriminator.trainable_variables)
    np.testing.assert_allclose(kernel, main_kernel * (1 - lr * gamma * interval), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(bias, main_bias, rtol=1e-6)
    np.testing.assert_allclose(logs["r1"][0], np.sum(main_kernel ** 2), rtol=1e-5)


def test_lazy_r1_step_steps_the_weights_it_does_not_depend_on_with_zero_gradients():
    # R1 does not depend on D's bias. The reference still gives it a zero
    # gradient in the R1 step, so Adam's momentum moves it further.
    def bias(**kwargs):
        gan = style_gan(optimizer=lambda lr: keras.optimizers.Adam(lr, beta_1=0.9), **kwargs)
        fit(gan, 1)
        return gan.discriminator.trainable_variables[1].numpy()

    plain, lazy = bias(), bias(r1_gamma=1.0, r1_interval=4)
    assert not np.allclose(lazy, plain)


def test_lazy_r1_logs_only_the_steps_that_computed_it():
    gan = style_gan(r1_gamma=1.0, r1_interval=2)
    first, second = fit(gan, 1)["r1"][0], fit(gan, 1)["r1"][0]
    assert first > 0 and second == 0.0


def test_lazy_r1_schedule_resumes_after_save_and_load(tmp_path):
    path = str(tmp_path / "gan.weights.h5")
    straight = style_gan(r1_gamma=1.0, r1_interval=4)
    fit(straight, 5)
    interrupted = style_gan(r1_gamma=1.0, r1_interval=4)
    fit(interrupted, 3)
    interrupted.save_weights(path)
    resumed = style_gan(r1_gamma=1.0, r1_interval=4)
    resumed.load_weights(path)
    assert int(resumed.train_steps.numpy()) == 3
    fit(resumed, 2)
    # Steps 0..4: R1 steps at 0 and 4, in both runs.
    assert int(resumed.d_optimizer.iterations.numpy()) == 5 + 2
    for a, b in zip(resumed.discriminator.weights + resumed.generator.weights,
                    straight.discriminator.weights + straight.generator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)


def test_weights_without_train_steps_resume_from_the_g_iterations(tmp_path):
    import h5py

    gan = style_gan(r1_gamma=1.0, r1_interval=4)
    fit(gan, 3)
    path = str(tmp_path / "gan.weights.h5")
    gan.save_weights(path)
    with h5py.File(path, "r+") as file:  # as an earlier version wrote them
        found = []
        file.visit(lambda name: found.append(name) if name.endswith("vars/train_steps") else None)
        assert found
        for name in found:
            del file[name]
    resumed = style_gan(r1_gamma=1.0, r1_interval=4)
    resumed.load_weights(path)
    assert int(resumed.train_steps.numpy()) == 3


# -- path length -----------------------------------------------------------


def test_path_lengths_match_a_hand_computation():
    keras.utils.set_random_seed(1)
    generator = TinyStyleGenerator()
    z = np.random.default_rng(0).standard_normal((5, LATENT)).astype("float32")
    generator(z)
    noise = np.random.default_rng(1).standard_normal((5, RES, RES, 3)).astype("float32")
    lengths = path_lengths(generator, tf.constant(z), None, lambda shape: tf.constant(noise))
    # images = flat(ws) A + b, so d sum(images * y) / d ws = reshape(y A^T).
    kernel = generator.synthesize.kernel.numpy()
    y = noise.reshape(5, -1) / math.sqrt(RES * RES)
    gradient = (y @ kernel.T).reshape(5, generator.num_ws, generator.w_dim)
    expected = np.sqrt((gradient ** 2).sum(axis=2).mean(axis=1))
    np.testing.assert_allclose(lengths.numpy(), expected, rtol=1e-5)


def test_path_length_mean_moves_as_its_ema_and_the_penalty_follows_it():
    # One sample per path length step (batch 2, shrink 2): its length L is
    # the batch mean, so pl_mean' = pl_mean + decay (L - pl_mean) and the
    # penalty is (L - pl_mean')^2.
    decay = 0.3
    gan = style_gan(pl_weight=2.0, pl_interval=2, pl_decay=decay)
    data = constant_data(batch=2)
    previous = 0.0
    for step in range(4):
        penalty = fit(gan, 1, data)["pl_penalty"][0]
        mean = float(gan.pl_mean.numpy())
        if step % 2:
            assert mean == previous and penalty == 0.0
        else:
            length = previous + (mean - previous) / decay
            assert length > 0
            assert penalty == pytest.approx((length - mean) ** 2, rel=1e-4)
            assert mean != previous
        previous = mean
    # Two path length steps among four G updates; training_ws ran in them only.
    assert int(gan.g_optimizer.iterations.numpy()) == 4 + 2
    assert int(gan.generator.training_ws_calls.numpy()) == 2


def test_path_length_step_is_weight_times_interval_on_the_penalty():
    # With SGD the path length step moves G by lr * pl_weight * pl_interval
    # * the gradient of the mean penalty: twice the weight, twice the move;
    # a quarter of the interval and four times the weight, the same move.
    def g_change(weight, interval=4):
        gan = style_gan(optimizer=keras.optimizers.SGD, lr=1e-3, pl_weight=weight,
                        pl_interval=interval)
        base = style_gan(optimizer=keras.optimizers.SGD, lr=1e-3)
        fit(gan, 1)
        fit(base, 1)
        return np.concatenate([(a.numpy() - b.numpy()).ravel() for a, b in zip(
            gan.generator.trainable_variables, base.generator.trainable_variables)])

    one = g_change(1.0)
    tolerance = 1e-3 * np.abs(one).max()  # float32 differences of nearby weights
    assert tolerance > 0
    np.testing.assert_allclose(g_change(2.0), 2 * one, rtol=0, atol=tolerance)
    np.testing.assert_allclose(g_change(4.0, interval=1), one, rtol=0, atol=tolerance)


def test_path_length_needs_training_ws_and_synthesis():
    generator = dcgan_generator(latent_dim=LATENT, resolution=32, width=4)
    with pytest.raises(ValueError, match="training_ws.*stylegan2_generator.*pl_weight=0"):
        GAN(generator, dcgan_discriminator(resolution=32, width=4), LATENT, pl_weight=2.0)


def test_path_length_rejects_a_batch_it_would_empty():
    gan = style_gan(pl_weight=2.0, pl_batch_shrink=4)
    with pytest.raises(ValueError, match="pl_batch_shrink=4"):
        fit(gan, 1, constant_data(batch=2))


# -- lazy_adam -------------------------------------------------------------


def test_lazy_adam_applies_mb_ratio():
    optimizer = lazy_adam(0.0025, beta_1=0.5, beta_2=0.99, interval=16)
    ratio = 16 / 17
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(0.0025 * ratio, rel=1e-6)
    assert optimizer.beta_1 == pytest.approx(0.5 ** ratio)
    assert optimizer.beta_2 == pytest.approx(0.99 ** ratio)
    assert optimizer.epsilon == 1e-8
    plain = lazy_adam(0.002)
    assert float(plain.learning_rate.numpy()) == pytest.approx(0.002)
    assert (plain.beta_1, plain.beta_2) == (0.0, 0.99)
    with pytest.raises(ValueError, match="interval"):
        lazy_adam(0.002, interval=0)


# -- non-finite gradients --------------------------------------------------


def test_nan_to_num_is_the_references():
    values = tf.constant([np.nan, np.inf, -np.inf, 1.5, 2e5], "float32")
    np.testing.assert_array_equal(nan_to_num(values).numpy(), [0, 1e5, -1e5, 1.5, 2e5])


@tf.custom_gradient
def _nan_gradient(x):
    return tf.identity(x), lambda dy: dy * np.nan


class NanGradientScale(keras.layers.Layer):
    """Multiplies by a trainable scalar whose gradient is NaN."""

    def build(self, shape):
        self.scale = self.add_weight(shape=(), initializer="ones")

    def call(self, x):
        return x * _nan_gradient(self.scale)


@pytest.mark.parametrize("zero", [False, True])
def test_zero_nonfinite_gradients_keeps_the_weights_finite(zero):
    discriminator = keras.Sequential([keras.Input((RES, RES, 3)), keras.layers.Flatten(),
                                      keras.layers.Dense(1), NanGradientScale()])
    keras.utils.set_random_seed(0)
    gan = GAN(TinyStyleGenerator(), discriminator, LATENT, ema_decay=0.0,
              zero_nonfinite_gradients=zero)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2))
    kernel = discriminator.layers[1].kernel.numpy()
    logs = fit(gan, 1)
    assert np.isfinite(logs["d_loss"][0])
    scale = float(discriminator.layers[2].scale.numpy())
    if zero:
        assert scale == 1.0  # a zero gradient from zero moments moves Adam nowhere
        assert not np.array_equal(discriminator.layers[1].kernel.numpy(), kernel)
        assert all(np.isfinite(w.numpy()).all() for w in discriminator.weights)
    else:
        assert math.isnan(scale)


class PoisonDiscriminator(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if batch == 2:
            weight = self.model.discriminator.weights[0]
            weight.assign(np.full(weight.shape, np.nan, "float32"))


def test_a_nonfinite_loss_still_stops_training_with_zeroed_gradients():
    gan = style_gan(r1_gamma=1.0, r1_interval=2, zero_nonfinite_gradients=True)
    stop = StopOnDivergence()
    fit_logs = gan.fit(constant_data(), steps_per_epoch=10, epochs=1, verbose=0,
                       callbacks=[PoisonDiscriminator(), stop]).history
    assert stop.diverged is not None and stop.diverged.step == 3
    assert int(gan.train_steps.numpy()) == 3
    assert not np.isfinite(fit_logs["d_loss"][0])


def test_zero_nonfinite_gradients_trains_without_loss_scaling():
    gan = GAN(TinyStyleGenerator(), linear_discriminator(), LATENT, zero_nonfinite_gradients=True)
    with pytest.raises(ValueError, match="LossScaleOptimizer"):
        gan.compile(d_optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam()),
                    g_optimizer=keras.optimizers.Adam())
    keras.config.set_dtype_policy("mixed_float16")
    try:
        gan = GAN(TinyStyleGenerator(), linear_discriminator(), LATENT,
                  zero_nonfinite_gradients=True)
        gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
    finally:
        keras.config.set_dtype_policy("float32")
    assert not isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert not isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)


# -- arguments, compilation, distribution ----------------------------------


@pytest.mark.parametrize("kwargs,match", [
    ({"r1_interval": 0}, "r1_interval"),
    ({"r1_interval": 2.0}, "r1_interval"),
    ({"pl_weight": -1.0}, "pl_weight"),
    ({"pl_interval": 0}, "pl_interval"),
    ({"pl_interval": None}, "pl_interval"),
    ({"pl_batch_shrink": 0}, "pl_batch_shrink"),
    ({"pl_decay": 0.0}, "pl_decay"),
    ({"zero_nonfinite_gradients": "yes"}, "zero_nonfinite_gradients"),
])
def test_bad_regularization_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GAN(TinyStyleGenerator(), linear_discriminator(), LATENT, **kwargs)


def test_lazy_r1_with_labels_dag_and_diffaugment():
    # The R1 step scores head 0 of the DAG discriminator on labelled reals.
    keras.utils.set_random_seed(0)
    dag = DAG(["rotate90"])
    discriminator = dag_discriminator(dcgan_discriminator(resolution=32, width=4, num_classes=10),
                                      dag.num_heads)
    gan = GAN(dcgan_generator(LATENT, 32, width=4, num_classes=10), discriminator, LATENT,
              augment=DiffAugment("translation"), num_classes=10, dag=dag, r1_gamma=1.0,
              r1_interval=2, seed=1)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensors((rng.uniform(-1, 1, (4, 32, 32, 3)).astype("float32"),
                                         np.arange(4, dtype="int32"))).repeat()
    logs = fit(gan, 3, data)
    assert all(np.isfinite(v[0]) for v in logs.values()) and logs["r1"][0] > 0
    assert int(gan.d_optimizer.iterations.numpy()) == 3 + 2


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_lazy_regularization_under_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    try:
        gan = style_gan(r1_gamma=1.0, r1_interval=2, pl_weight=2.0, pl_interval=2)
        logs = fit(gan, 3)
    finally:
        keras.config.set_dtype_policy("float32")
    assert all(np.isfinite(v[0]) for v in logs.values()), logs
    assert int(gan.d_optimizer.iterations.numpy()) == 3 + 2


def test_lazy_regularization_compiles_with_xla():
    gan = style_gan(jit_compile=True, r1_gamma=1.0, r1_interval=2, pl_weight=2.0, pl_interval=2)
    logs = fit(gan, 3)
    assert gan.jit_compile
    assert all(np.isfinite(v[0]) for v in logs.values()), logs
    assert int(gan.d_optimizer.iterations.numpy()) == 3 + 2
    assert int(gan.g_optimizer.iterations.numpy()) == 3 + 2


@pytest.mark.parametrize("r1_interval", [None, 2])
def test_r1_through_diffaugment_compiles_with_xla(r1_interval):
    # Lazy R1 backpropagates twice through the augmentation inside a
    # tf.cond, where XLA failed to compile its own XLA-compiled function.
    gan = style_gan(jit_compile=True, augment=DiffAugment("color,translation,cutout"),
                    r1_gamma=1.0, r1_interval=r1_interval)
    logs = fit(gan, 3)
    assert all(np.isfinite(v[0]) for v in logs.values()), logs
    assert logs["r1"][0] > 0
    assert int(gan.d_optimizer.iterations.numpy()) == 3 + (2 if r1_interval else 0)


def test_lazy_regularization_matches_between_one_device_and_mirrored_strategy(mirrored_strategy):
    kwargs = dict(r1_gamma=1.0, r1_interval=2, pl_weight=2.0, pl_interval=2)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    single = style_gan(tf.distribute.OneDeviceStrategy(devices[0]), **kwargs)
    mirrored = style_gan(mirrored_strategy, **kwargs)
    single_logs, mirrored_logs = fit(single, 3), fit(mirrored, 3)
    for name in ("d_loss", "g_loss", "r1", "pl_penalty"):
        np.testing.assert_allclose(mirrored_logs[name][0], single_logs[name][0], rtol=1e-4)
    for gan in (single, mirrored):
        assert int(gan.d_optimizer.iterations.numpy()) == 3 + 2
        assert int(gan.g_optimizer.iterations.numpy()) == 3 + 2
    np.testing.assert_allclose(mirrored.pl_mean.numpy(), single.pl_mean.numpy(), rtol=1e-5)
    for a, b in zip(mirrored.discriminator.weights + mirrored.generator.weights,
                    single.discriminator.weights + single.generator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
