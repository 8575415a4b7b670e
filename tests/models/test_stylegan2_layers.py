"""Tests for the StyleGAN2 building blocks (keras_dagan.models.stylegan2_layers).

The FIR and convolution ops are checked against direct NumPy transcriptions
of the definitions in stylegan2-ada-pytorch (zero insertion, padding,
convolution with the filter, decimation), the layers against the equalized
learning-rate and demodulation arithmetic they must implement.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_dagan.models import stylegan2_layers as L


def _rng(seed=0):
    return np.random.default_rng(seed)


def _normal(shape, seed=0, scale=1.0):
    return (scale * _rng(seed).standard_normal(shape)).astype("float32")


def _np_correlate(x, k):
    """Valid 2D correlation of every channel of x (N, H, W, C) with k (kh, kw)."""
    kh, kw = k.shape
    n, h, w, c = x.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, c), np.float64)
    for i in range(kh):
        for j in range(kw):
            out += k[i, j] * x[:, i : i + out.shape[1], j : j + out.shape[2], :]
    return out


def _np_upfirdn2d(
    x, f, up=1, down=1, padding=(0, 0, 0, 0), flip_filter=False, gain=1.0
):
    """The reference's _upfirdn2d_ref, written out in NumPy (channels last)."""
    f = np.asarray(f, np.float64)
    if f.ndim == 1:
        f = np.outer(f, f)
    f = f / f.sum() * gain
    n, h, w, c = x.shape
    stuffed = np.zeros((n, h * up, w * up, c))
    stuffed[:, ::up, ::up, :] = x
    px0, px1, py0, py1 = padding
    padded = np.pad(
        stuffed,
        [
            (0, 0),
            (max(py0, 0), max(py1, 0)),
            (max(px0, 0), max(px1, 0)),
            (0, 0),
        ],
    )
    hh, ww = padded.shape[1], padded.shape[2]
    padded = padded[
        :, max(-py0, 0) : hh - max(-py1, 0), max(-px0, 0) : ww - max(-px1, 0)
    ]
    kernel = f if flip_filter else f[::-1, ::-1]
    return _np_correlate(padded, kernel)[:, ::down, ::down, :]


ASYMMETRIC = (1.0, 2.0, 5.0, 3.0)


@pytest.mark.parametrize(
    "f, up, down, padding, flip, gain",
    [
        (L.DEFAULT_FILTER, 2, 1, (2, 1, 2, 1), False, 4.0),
        (L.DEFAULT_FILTER, 1, 2, (1, 1, 1, 1), False, 1.0),
        (ASYMMETRIC, 2, 1, (3, 0, 1, 2), False, 2.0),
        (ASYMMETRIC, 2, 1, (3, 0, 1, 2), True, 2.0),
        (ASYMMETRIC, 1, 2, (2, -1, 0, 3), False, 1.0),
        (np.outer(ASYMMETRIC, (1.0, 1.0, 2.0)), 2, 2, (1, 2, 0, 1), False, 3.0),
    ],
)
def test_upfirdn2d_matches_reference_definition(
    f, up, down, padding, flip, gain
):
    x = _normal((2, 8, 8, 3))
    expected = _np_upfirdn2d(x, f, up, down, padding, flip, gain)
    actual = L.upfirdn2d(
        x,
        f,
        up=up,
        down=down,
        padding=list(padding),
        flip_filter=flip,
        gain=gain,
    )
    np.testing.assert_allclose(np.asarray(actual), expected, atol=1e-5)


def test_resampling_wrappers_pad_as_the_reference():
    x = _normal((2, 8, 8, 3), seed=1)
    # Reference paddings for a 4-tap filter: upsample2d [2, 1] (gain 4),
    # downsample2d [1, 1], filter2d [2, 1].
    np.testing.assert_allclose(
        np.asarray(L.upsample_2d(x)),
        _np_upfirdn2d(x, L.DEFAULT_FILTER, 2, 1, (2, 1, 2, 1), gain=4),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        np.asarray(L.downsample_2d(x)),
        _np_upfirdn2d(x, L.DEFAULT_FILTER, 1, 2, (1, 1, 1, 1)),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        np.asarray(L.filter_2d(x)),
        _np_upfirdn2d(x, L.DEFAULT_FILTER, 1, 1, (2, 1, 2, 1)),
        atol=1e-5,
    )
    assert L.upsample_2d(x).shape == (2, 16, 16, 3)
    assert L.downsample_2d(x).shape == (2, 4, 4, 3)
    # A constant image keeps its value away from the zero-padded border.
    ones = np.ones((1, 8, 8, 1), "float32")
    np.testing.assert_allclose(
        np.asarray(L.upsample_2d(ones))[0, 2:-2, 2:-2], 1.0, atol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(L.downsample_2d(ones))[0, 1:-1, 1:-1], 1.0, atol=1e-6
    )


@pytest.mark.parametrize("flip_weight", [False, True])
def test_conv2d_resample_up_equals_upsample_then_conv(flip_weight):
    # The transposed-convolution fast path against its definition: FIR
    # upsampling with the conv's padding (3 + 2 for a 3x3 kernel), then a
    # valid convolution (flip_weight=False) or correlation.
    x = _normal((2, 6, 6, 4), seed=2)
    w = _normal((3, 3, 4, 5), seed=3)
    up = _np_upfirdn2d(x, L.DEFAULT_FILTER, 2, 1, (3, 2, 3, 2), gain=4)
    kernel = w if flip_weight else w[::-1, ::-1]
    expected = np.asarray(
        ops.conv(up.astype("float32"), kernel.copy(), padding="valid")
    )
    actual = L.conv2d_resample(x, w, up=2, padding=1, flip_weight=flip_weight)
    assert actual.shape == (2, 12, 12, 5)
    np.testing.assert_allclose(np.asarray(actual), expected, atol=1e-4)


def test_conv2d_resample_down_equals_conv_then_decimate():
    x = _normal((2, 8, 8, 4), seed=4)
    w = _normal((3, 3, 4, 5), seed=5)
    filtered = _np_upfirdn2d(x, L.DEFAULT_FILTER, 1, 1, (2, 2, 2, 2))
    expected = np.asarray(
        ops.conv(filtered.astype("float32"), w, padding="valid")
    )[:, ::2, ::2]
    actual = L.conv2d_resample(x, w, down=2, padding=1)
    assert actual.shape == (2, 4, 4, 5)
    np.testing.assert_allclose(np.asarray(actual), expected, atol=1e-4)


def test_bias_act_reference_gains_and_clamp():
    x = np.array([[-2.0, -0.5, 0.5, 300.0]], "float32")
    b = np.array([0.0, 0.0, 0.0, 0.0], "float32")
    y = np.asarray(L.bias_act(x, b, activation="lrelu"))
    np.testing.assert_allclose(
        y, math.sqrt(2) * np.array([[-0.4, -0.1, 0.5, 300.0]]), rtol=1e-6
    )
    y = np.asarray(L.bias_act(x, b + 1.0, activation="lrelu", clamp=256))
    assert y[0, -1] == 256.0
    np.testing.assert_allclose(y[0, 0], -0.2 * math.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(L.bias_act(x, activation="linear")), x
    )
    assert L.activation_gain("relu") == pytest.approx(math.sqrt(2))
    with pytest.raises(ValueError, match="activation must be one of"):
        L.bias_act(x, activation="gelu")


@pytest.mark.parametrize("fan_in", [16, 1024])
def test_equalized_dense_unit_variance_regardless_of_fan_in(fan_in):
    layer = L.EqualizedDense(256)
    y = np.asarray(layer(_normal((256, fan_in), seed=fan_in)))
    assert 0.9 < y.std() < 1.1
    assert 0.9 < np.asarray(layer.weight).std() < 1.1  # stored N(0, 1)


def test_equalized_dense_lr_multiplier_storage_and_runtime_scale():
    lr = 0.01
    layer = L.EqualizedDense(
        64, lr_multiplier=lr, bias_init=0.5, activation="lrelu"
    )
    x = _normal((32, 128), seed=6)
    y = np.asarray(layer(x))
    stored = np.asarray(layer.weight)
    # Stored N(0, 1) / lr_multiplier; bias stored as initialised, run at * lr.
    assert 0.9 / lr < stored.std() < 1.1 / lr
    np.testing.assert_allclose(np.asarray(layer.bias), 0.5)
    pre = x @ (stored * lr / math.sqrt(128)) + 0.5 * lr
    expected = math.sqrt(2) * np.where(pre > 0, pre, 0.2 * pre)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_equalized_dense_gradient_scaled_by_lr_multiplier():
    import tensorflow as tf

    lr = 0.01
    x = _normal((8, 32), seed=7)
    layer = L.EqualizedDense(16, lr_multiplier=lr)
    plain = L.EqualizedDense(16)
    plain.build((None, 32))
    layer.build((None, 32))
    # Same effective weight, stored 1/lr times larger.
    plain.weight.assign(np.asarray(layer.weight) * lr)
    grads = []
    for model in (layer, plain):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(x)))
        grads.append(np.asarray(tape.gradient(loss, model.weight)))
    np.testing.assert_allclose(
        np.asarray(layer(x)), np.asarray(plain(x)), rtol=1e-4, atol=1e-5
    )
    # The stored weight's gradient is lr times the plain layer's: with Adam,
    # whose steps do not depend on the gradient's scale, the effective
    # weight (stored * lr / sqrt(fan_in)) moves lr times as far.
    np.testing.assert_allclose(grads[0], lr * grads[1], rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("in_channels", [4, 256])
def test_equalized_conv_unit_variance_regardless_of_fan_in(in_channels):
    conv = L.EqualizedConv2D(64, 3)
    y = np.asarray(conv(_normal((4, 16, 16, in_channels), seed=in_channels)))[
        :, 1:-1, 1:-1
    ]
    assert 0.85 < y.std() < 1.15
    assert conv.weight.shape == (3, 3, in_channels, 64)


def test_equalized_conv_resampling_shapes_and_clamp():
    x = _normal((2, 8, 8, 4), scale=100.0)
    up = L.EqualizedConv2D(6, 3, up=2, activation="lrelu", conv_clamp=1.0)
    assert up(x).shape == (2, 16, 16, 6)
    assert np.abs(np.asarray(up(x))).max() <= 1.0
    down = L.EqualizedConv2D(6, 1, down=2, use_bias=False)
    assert down(x).shape == (2, 4, 4, 6)
    assert down.bias is None
    # gain scales the clamp too (the resnet branches pass sqrt(0.5)).
    assert np.abs(np.asarray(up(x, gain=0.5))).max() <= 0.5


def _per_sample_modulated_conv(x, weight, styles, demodulate):
    """The reference's fused path: one modulated (demodulated) kernel per
    sample, correlation with "same" padding."""
    outputs = []
    for n in range(x.shape[0]):
        w = weight * styles[n][None, None, :, None]
        if demodulate:
            w = w / np.sqrt((w**2).sum(axis=(0, 1, 2), keepdims=True) + 1e-8)
        outputs.append(
            np.asarray(
                ops.conv(x[n : n + 1], w.astype("float32"), padding="same")
            )
        )
    return np.concatenate(outputs)


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv2d_equals_per_sample_kernels(demodulate):
    x = _normal((3, 6, 6, 5), seed=8)
    weight = _normal((3, 3, 5, 7), seed=9)
    styles = _normal((3, 5), seed=10, scale=2.0)
    actual = L.modulated_conv2d(
        x, weight, styles, padding=1, demodulate=demodulate
    )
    expected = _per_sample_modulated_conv(x, weight, styles, demodulate)
    np.testing.assert_allclose(
        np.asarray(actual), expected, rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("style_scale", [0.01, 1.0, 20.0])
def test_demodulation_keeps_unit_variance(style_scale):
    x = _normal((8, 16, 16, 64), seed=11)
    weight = _normal((3, 3, 64, 64), seed=12)
    styles = _normal((8, 64), seed=13, scale=style_scale)
    y = np.asarray(L.modulated_conv2d(x, weight, styles, padding=1))[
        :, 1:-1, 1:-1
    ]
    # Per sample, whatever the style magnitude.
    stds = y.reshape(8, -1).std(axis=1)
    assert np.all((stds > 0.85) & (stds < 1.15)), stds
    # Without demodulation the variance follows the styles (and the N(0, 1)
    # kernel's fan-in): the test above would fail for a no-op.
    raw = np.asarray(
        L.modulated_conv2d(x, weight, styles, padding=1, demodulate=False)
    )
    assert not 0.67 < raw.std() < 1.5


def test_modulated_conv2d_float16_close_to_float32():
    x = _normal((2, 8, 8, 16), seed=14)
    weight = _normal((3, 3, 16, 8), seed=15)
    styles = _normal((2, 16), seed=16, scale=30.0)
    y32 = np.asarray(L.modulated_conv2d(x, weight, styles, padding=1))
    y16 = L.modulated_conv2d(ops.cast(x, "float16"), weight, styles, padding=1)
    assert y16.dtype == "float16"
    np.testing.assert_allclose(
        np.asarray(y16).astype("float32"), y32, atol=0.02 * np.abs(y32).max()
    )


def test_modulated_conv_layer_noise_modes_and_weights():
    layer = L.ModulatedConv2D(8, 3, up=2, name="conv0")
    x = _normal((2, 4, 4, 6), seed=17)
    w = _normal((2, 16), seed=18)
    y = layer(x, w, noise_mode="const")
    assert y.shape == (2, 8, 8, 8)
    assert layer.noise_const.shape == (8, 8) and not layer.noise_const.trainable
    assert float(layer.noise_strength) == 0.0
    np.testing.assert_allclose(
        np.asarray(layer.affine.bias), 1.0
    )  # bias_init 1
    # Zero strength: every noise mode gives the same output.
    np.testing.assert_allclose(
        np.asarray(layer(x, w, noise_mode="random", seed=1)), np.asarray(y)
    )
    layer.noise_strength.assign(0.5)
    a = np.asarray(layer(x, w, noise_mode="const"))
    np.testing.assert_allclose(a, np.asarray(layer(x, w, noise_mode="const")))
    assert not np.allclose(a, np.asarray(y))
    assert not np.allclose(
        np.asarray(layer(x, w, noise_mode="random", seed=1)), a
    )
    keys = set(layer.reference_weights())
    assert keys == {
        "conv0.weight",
        "conv0.bias",
        "conv0.noise_const",
        "conv0.noise_strength",
        "conv0.affine.weight",
        "conv0.affine.bias",
    }
    with pytest.raises(ValueError, match="noise_mode"):
        layer(x, w, noise_mode="fixed")


def test_to_rgb():
    layer = L.ToRGB(3, conv_clamp=0.5, name="torgb")
    y = np.asarray(layer(_normal((2, 4, 4, 8), scale=50.0), _normal((2, 16))))
    assert y.shape == (2, 4, 4, 3)
    assert np.abs(y).max() <= 0.5
    assert set(layer.reference_weights()) == {
        "torgb.weight",
        "torgb.bias",
        "torgb.affine.weight",
        "torgb.affine.bias",
    }


def _np_mbstd(x, group_size, num_channels):
    """The reference's MinibatchStdLayer in NumPy (channels last): groups
    are strided across the batch (x.reshape(G, -1, ...))."""
    n, h, w, c = x.shape
    g = min(group_size, n) if group_size is not None else n
    y = x.reshape(g, n // g, h, w, num_channels, c // num_channels).astype(
        np.float64
    )
    y = np.sqrt(((y - y.mean(axis=0)) ** 2).mean(axis=0) + 1e-8)
    y = y.mean(axis=(1, 2, 4))  # (n // g, F)
    y = np.tile(y, (g, 1))[:, None, None, :] * np.ones((1, h, w, 1))
    return np.concatenate([x, y], axis=-1)


@pytest.mark.parametrize(
    "group_size, num_channels", [(4, 1), (2, 2), (None, 1), (16, 1)]
)
def test_minibatch_stddev_matches_reference(group_size, num_channels):
    x = _normal((8, 4, 4, 6), seed=19)
    x[::2] *= 5.0  # members of a strided group differ from contiguous ones
    layer = L.MinibatchStdDev(group_size, num_channels)
    np.testing.assert_allclose(
        np.asarray(layer(x)), _np_mbstd(x, group_size, num_channels), rtol=1e-5
    )


def test_minibatch_stddev_views_never_mix():
    layer = L.MinibatchStdDev(group_size=4)
    a = _normal((8, 4, 4, 6), seed=20)
    b = _normal((8, 4, 4, 6), seed=21, scale=1000.0) + 50.0
    stacked = np.concatenate([a, b])
    per_view = np.asarray(layer(stacked, num_views=2))
    np.testing.assert_allclose(per_view[:8], np.asarray(layer(a)), rtol=1e-5)
    np.testing.assert_allclose(per_view[8:], np.asarray(layer(b)), rtol=1e-5)
    # Without num_views the strided groups mix both views.
    assert not np.allclose(
        np.asarray(layer(stacked))[:8], np.asarray(layer(a)), rtol=1e-3
    )


def test_minibatch_stddev_errors():
    layer = L.MinibatchStdDev(group_size=4)
    with pytest.raises(ValueError, match="multiple of the group size"):
        layer(_normal((6, 4, 4, 2)))
    with pytest.raises(ValueError, match="num_views"):
        layer(_normal((8, 4, 4, 2)), num_views=3)
    with pytest.raises(ValueError, match="divisible by num_channels"):
        L.MinibatchStdDev(4, 2)(_normal((4, 4, 4, 3)))
    with pytest.raises(ValueError, match="group_size"):
        L.MinibatchStdDev(0)


@pytest.mark.parametrize(
    "layer",
    [
        L.EqualizedDense(
            8, lr_multiplier=0.1, bias_init=1.0, activation="lrelu"
        ),
        L.EqualizedConv2D(8, 3, down=2, conv_clamp=256),
        L.ModulatedConv2D(8, 3, up=2, conv_clamp=256),
        L.ToRGB(3),
        L.MinibatchStdDev(4, 2),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_layer_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert (
        keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(layer)
        ).get_config()
        == config
    )


def test_validation_errors():
    with pytest.raises(ValueError, match="conv_clamp"):
        L.EqualizedConv2D(8, 3, conv_clamp=-1)
    with pytest.raises(ValueError, match="lr_multiplier"):
        L.EqualizedDense(8, lr_multiplier=0)
    with pytest.raises(ValueError, match="FIR filter"):
        L.upfirdn2d(_normal((1, 4, 4, 1)), np.ones((2, 2, 2)))
