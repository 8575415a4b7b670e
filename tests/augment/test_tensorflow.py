"""The layers inside TensorFlow machinery: XLA, MirroredStrategy, tf.data."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from keras_dagan import augment
from tests.augment.test_layers import ALL_LAYERS, images


@pytest.mark.parametrize("layer_class", ALL_LAYERS + [
    functools.partial(augment.AdaptiveAugment, "bgc", p=1.0),
    functools.partial(augment.AdaptiveAugment, "bgcfnc", p=1.0),
])
def test_xla_matches_eager_forward_and_gradient(layer_class):
    layer = layer_class()
    x = tf.constant(images((4, 16, 16, 3)))
    transformation = layer.get_random_transformation(x, seed=5)

    def forward_and_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer.transform_images(x, transformation)
            loss = tf.reduce_sum(y * tf.cos(y))
        return y, tape.gradient(loss, x)

    eager = forward_and_gradient(x)
    compiled = tf.function(forward_and_gradient, jit_compile=True)(x)
    np.testing.assert_allclose(compiled[0], eager[0], atol=1e-4)
    # Gradients reach ~10 here and sum over whole image rows (ADA's band
    # limit): float32 rounding differs between XLA's and eager matmuls.
    np.testing.assert_allclose(compiled[1], eager[1], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_call_under_xla_draws_fresh_parameters(layer_class):
    layer = layer_class(seed=1)
    step = tf.function(lambda x: layer(x), jit_compile=True)
    x = tf.constant(images())
    first, second = step(x).numpy(), step(x).numpy()
    assert first.shape == x.shape
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, x.numpy())


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_runs_in_a_mirrored_strategy_replica(layer_class, mirrored_strategy):
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) == 2, "tests/conftest.py should make two logical CPUs"
    strategy = mirrored_strategy
    with strategy.scope():
        layer = layer_class(seed=2)

    x = images((8, 16, 16, 3))
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors(x)
    )

    @tf.function
    def step(batch):
        def replica_fn(batch):
            with tf.GradientTape() as tape:
                tape.watch(batch)
                y = layer(batch)
                loss = tf.reduce_sum(y * y)
            return y, tape.gradient(loss, batch)

        return strategy.run(replica_fn, args=(batch,))

    outputs, gradients = step(next(iter(dataset)))
    outputs = np.concatenate([o.numpy() for o in strategy.experimental_local_results(outputs)])
    gradients = strategy.experimental_local_results(gradients)
    assert outputs.shape == x.shape
    assert not np.array_equal(outputs, x)
    assert len(gradients) == 2
    assert all(np.isfinite(g.numpy()).all() and np.abs(g.numpy()).sum() > 0 for g in gradients)


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_works_in_a_tf_data_map(layer_class):
    x = images((8, 16, 16, 3))
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(4).map(layer_class(seed=3))
    batches = [b.numpy() for b in dataset]
    assert [b.shape for b in batches] == [(4, 16, 16, 3)] * 2
    assert not np.array_equal(np.concatenate(batches), x)
    again = tf.data.Dataset.from_tensor_slices(x).batch(4).map(layer_class(seed=3))
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in again]), np.concatenate(batches))
