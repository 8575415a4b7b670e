"""The layers' own XLA compilation on TensorFlow (`jit_compile`)."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan import augment
from tests.augment.test_layers import ALL_LAYERS, images

LAYERS = ALL_LAYERS + [
    functools.partial(augment.AdaptiveAugment, "bgc", p=1.0),
    functools.partial(augment.AdaptiveAugment, "bgcfnc", p=1.0),
]


def tracing_count(layer):
    """How often the layer's compiled transformation was traced; 0 if it
    never ran."""
    function = layer._xla_transform_images.function
    return 0 if function is None else function.experimental_get_tracing_count()


def forward_and_gradient(layer, x, transformation):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer.apply_transformation(x, transformation)
        loss = tf.reduce_sum(y * tf.cos(y))
    return y, tape.gradient(loss, x)


@pytest.mark.parametrize("layer_class", LAYERS)
@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_compiled_matches_uncompiled_forward_and_gradient(layer_class, mode):
    compiled, plain = layer_class(), layer_class(jit_compile=False)
    x = tf.constant(images((4, 16, 16, 3)))
    transformation = compiled.get_random_transformation(x, seed=5)
    run = forward_and_gradient if mode == "eager" else tf.function(forward_and_gradient)
    expected = run(plain, x, transformation)
    actual = run(compiled, x, transformation)
    assert tracing_count(compiled) == 1 and tracing_count(plain) == 0
    # ADA's band limit and image filter sum whole image rows, and its
    # gradients reach ~10: XLA's float32 rounding differs at that scale.
    for actual_part, expected_part in zip(actual, expected):
        scale = np.abs(expected_part.numpy()).max()
        np.testing.assert_allclose(actual_part, expected_part, atol=1e-4 * scale)
    assert np.abs(actual[1].numpy()).sum() > 0


@pytest.mark.parametrize("layer_class", LAYERS)
def test_call_compiles_and_matches_the_opt_out(layer_class):
    compiled, plain = layer_class(seed=3), layer_class(seed=3, jit_compile=False)
    x = tf.constant(images((4, 16, 16, 3)))
    for _ in range(2):  # the two streams advance alike
        np.testing.assert_allclose(compiled(x), plain(x), atol=1e-5, rtol=1e-5)
    assert tracing_count(compiled) == 1 and tracing_count(plain) == 0


@pytest.mark.parametrize("layer_class", [augment.DiffAugment, LAYERS[-2]])
def test_no_retracing_across_calls_and_modes(layer_class):
    layer = layer_class()
    x = tf.constant(images((4, 16, 16, 3)))
    layer(x)
    layer(x, training=True)
    layer(x + 1.0)
    step = tf.function(lambda x: layer(x, training=True))
    step(x)
    step(x + 1.0)
    layer(x, training=False)
    assert tracing_count(layer) == 1
    layer(tf.constant(images((2, 8, 8, 3))))  # a new shape compiles anew
    assert tracing_count(layer) == 2


@pytest.mark.parametrize("layer_class", [augment.DiffAugment, LAYERS[-2]])
def test_nothing_is_compiled_inside_an_outer_xla_function(layer_class):
    layer = layer_class(seed=1)
    x = tf.constant(images((4, 16, 16, 3)))

    @tf.function(jit_compile=True)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) ** 2)
        return tape.gradient(loss, x)

    gradient = step(x)
    assert tracing_count(layer) == 0
    assert np.abs(gradient.numpy()).sum() > 0


@pytest.mark.parametrize("layer_class", [augment.DiffAugment, LAYERS[-2]])
def test_eager_and_graph_calls_agree(layer_class):
    x = tf.constant(images((4, 16, 16, 3)))
    eager = layer_class(seed=7)(x)
    graph_layer = layer_class(seed=7)
    graph = tf.function(lambda x: graph_layer(x))(x)
    np.testing.assert_allclose(graph, eager, atol=1e-5)


@pytest.mark.parametrize("layer_class", [augment.RandomCutout, augment.DiffAugment, LAYERS[-2]])
def test_config_keeps_jit_compile(layer_class):
    layer = layer_class(jit_compile=False)
    assert layer.get_config()["jit_compile"] is False
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.jit_compile is False
    assert layer_class().get_config()["jit_compile"] is True


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_jit_compile_must_be_a_bool(value):
    with pytest.raises(ValueError, match=f"jit_compile must be True.*got {value!r}"):
        augment.DiffAugment(jit_compile=value)


def test_saved_model_export_after_compiled_calls(tmp_path):
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, augment.DiffAugment(seed=1)(inputs))
    model(images(), training=True)
    model.export(str(tmp_path / "exported"), verbose=False)
