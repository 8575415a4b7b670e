"""AdaptiveAugment inside TensorFlow machinery: XLA, tf.function,
MirroredStrategy, weight checkpoints."""

import numpy as np
import pytest
import tensorflow as tf

import keras

from keras_dagan import augment
from tests.augment.test_layers import images


def test_gan_style_draws_outside_and_xla_transform_inside():
    # keras_dagan.GAN draws with its own SeedGenerator and applies the draws
    # with apply_transformation, which compiles only transform_images: it
    # must not read the variable p.
    layer = augment.AdaptiveAugment(p=1.0)
    seed = keras.random.SeedGenerator(0)
    x = tf.constant(images((8, 16, 16, 3)))

    @tf.function
    def step(x):
        transformation = layer.get_random_transformation(x, training=True, seed=seed)
        return layer.apply_transformation(x, transformation)

    first, second = step(x).numpy(), step(x).numpy()
    assert not np.array_equal(first, second)
    layer.p.assign(0.0)
    np.testing.assert_array_equal(step(x).numpy(), x.numpy())


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("antialias", [True, False])
def test_resampling_takes_an_unknown_batch_size(jit_compile, antialias):
    # Keras traces train steps with the batch dimension unknown.
    x = images((5, 12, 10, 3))
    layer = augment.AdaptiveAugment("bg", p=1.0)
    matrices = layer.get_random_transformation(x, seed=3)["geometric"]["matrix"]
    resample = tf.function(
        lambda x, m: augment.affine_resample(x, m, antialias=antialias),
        input_signature=[tf.TensorSpec([None, 12, 10, 3]), tf.TensorSpec([None, 3, 3])],
        jit_compile=jit_compile,
    )
    np.testing.assert_allclose(
        resample(x, matrices).numpy(),
        augment.affine_resample(x, matrices, antialias=antialias).numpy(),
        atol=1e-5,
    )


def test_call_under_xla_follows_p():
    layer = augment.AdaptiveAugment(p=0.0, seed=1)
    call = tf.function(lambda x: layer(x), jit_compile=True)
    x = tf.constant(images())
    np.testing.assert_array_equal(call(x).numpy(), x.numpy())
    layer.p.assign(1.0)
    assert not np.array_equal(call(x).numpy(), x.numpy())


def test_controller_in_a_compiled_function():
    layer = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1, interval=2)
    update = tf.function(layer.update_probability, jit_compile=True)
    values = [float(update(tf.constant(64.0), tf.constant(64)).numpy()) for _ in range(4)]
    np.testing.assert_allclose(values, [0.5, 0.628, 0.628, 0.756], atol=1e-6)


@pytest.mark.parametrize("context", ["cross_replica", "replica"])
def test_controller_under_mirrored_strategy(context):
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        layer = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1, interval=1)

    @tf.function
    def step():
        if context == "cross_replica":
            return layer.update_probability(tf.constant(-64.0), tf.constant(64.0))
        return strategy.run(lambda: layer.update_probability(tf.constant(-64.0), tf.constant(64.0)))

    step()
    copies = [v.numpy() for v in strategy.experimental_local_results(layer.p.value)]
    assert len(copies) == 2
    np.testing.assert_allclose(copies, 0.5 - 0.064, atol=1e-6)


def test_update_sums_over_the_replicas_of_a_mirrored_strategy(mirrored_strategy):
    # Replica 0 sees only negative logits, replica 1 only positive ones: the
    # global r_t is 0.5 < 0.6, while replica 1 alone would raise p.
    with mirrored_strategy.scope():
        layer = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1, interval=1)
    logits = mirrored_strategy.experimental_distribute_values_from_function(
        lambda context: tf.fill([32, 1], -1.0 if context.replica_id_in_sync_group == 0 else 1.0)
    )

    @tf.function
    def step(logits):
        return mirrored_strategy.run(layer.update, args=(logits,))

    step(logits)
    copies = [v.numpy() for v in mirrored_strategy.experimental_local_results(layer.p.value)]
    np.testing.assert_allclose(copies, [0.5 - 0.064] * 2, atol=1e-6)
    assert layer.accumulated_images.numpy() == 0


def test_update_in_a_compiled_function_with_an_unknown_batch_size():
    layer = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1, interval=1)
    update = tf.function(
        layer.update, input_signature=[tf.TensorSpec([None, 1])], jit_compile=True
    )
    update(tf.ones([16, 1]))
    assert abs(layer.p.numpy() - 0.516) < 1e-6


def test_weights_checkpoint_restores_p_and_the_accumulators(tmp_path):
    layer = augment.AdaptiveAugment(p=0.2, target=0.6, speed_kimg=1, interval=4)
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, layer(inputs))
    for _ in range(2):
        layer.update_probability(64.0, 64)
    layer.p.assign(0.3)
    model.save_weights(tmp_path / "ada.weights.h5")

    fresh = augment.AdaptiveAugment(p=0.2, target=0.6, speed_kimg=1, interval=4)
    restored = keras.Model(inputs, fresh(inputs))
    restored.load_weights(tmp_path / "ada.weights.h5")
    assert abs(fresh.p.numpy() - 0.3) < 1e-7
    assert fresh.accumulated_steps.numpy() == 2 and fresh.accumulated_images.numpy() == 128
    for _ in range(2):  # the interval completes where it left off
        fresh.update_probability(64.0, 64)
    assert abs(fresh.p.numpy() - (0.3 + 0.256)) < 1e-6
