"""Backend-agnostic tests of the augmentation layers.

This module uses only keras.ops and NumPy, so it also runs under the torch
backend (see test_backends.py), proving the layers never touch TensorFlow.
"""

import contextlib

import numpy as np
import pytest

import keras
from keras import ops

from keras_dagan import augment
from tests.augment import reference

ALL_LAYERS = [
    augment.RandomBrightness,
    augment.RandomSaturation,
    augment.RandomContrast,
    augment.RandomColor,
    augment.RandomTranslation,
    augment.RandomCutout,
    augment.DiffAugment,
]


def images(shape=(8, 16, 16, 3), seed=0, dtype="float32"):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype)


def numpy(x):
    x = ops.stop_gradient(ops.convert_to_tensor(x))
    if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
        x = ops.cast(x, "float32")
    return np.asarray(ops.convert_to_numpy(x))


def draw(layer, x, seed=11):
    transformation = layer.get_random_transformation(ops.convert_to_tensor(x), seed=seed)
    return {k: numpy(v) if not isinstance(v, dict) else {kk: numpy(vv) for kk, vv in v.items()}
            for k, v in transformation.items()}, transformation


def gradient(fn, x):
    """d sum(fn(x)) / dx on whichever backend Keras runs."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = ops.sum(fn(x))
        return tape.gradient(y, x).numpy()
    if backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        ops.sum(fn(x)).backward()
        return x.grad.detach().numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda x: ops.sum(fn(x)))(x))
    raise NotImplementedError(backend)


# --- parameter distributions -------------------------------------------------


def test_brightness_is_a_per_sample_shift_in_half_open_unit_interval():
    layer = augment.RandomBrightness()
    x = images((4000, 2, 2, 3))
    params, t = draw(layer, x)
    shift = params["brightness"]
    assert shift.min() >= -0.5 and shift.max() < 0.5
    assert abs(shift.mean()) < 0.02
    assert abs(shift.std() - np.sqrt(1 / 12)) < 0.01
    out = numpy(layer.transform_images(ops.convert_to_tensor(x), t))
    np.testing.assert_allclose(out, reference.brightness(x, shift), atol=1e-6)


def test_saturation_matches_formula_and_factor_range():
    layer = augment.RandomSaturation()
    x = images((4000, 2, 2, 3))
    params, t = draw(layer, x)
    factor = params["saturation"]
    assert factor.min() >= 0 and factor.max() < 2 and abs(factor.mean() - 1) < 0.04
    out = numpy(layer.transform_images(ops.convert_to_tensor(x), t))
    np.testing.assert_allclose(out, reference.saturation(x, factor), atol=1e-5)


def test_saturation_is_identity_on_grayscale():
    x = images((4, 8, 8, 1))
    out = numpy(augment.RandomSaturation(seed=1)(x))
    np.testing.assert_array_equal(out, x)


def test_contrast_matches_formula_and_factor_range():
    layer = augment.RandomContrast()
    x = images((4000, 2, 2, 3))
    params, t = draw(layer, x)
    factor = params["contrast"]
    assert factor.min() >= 0.5 and factor.max() < 1.5 and abs(factor.mean() - 1) < 0.02
    out = numpy(layer.transform_images(ops.convert_to_tensor(x), t))
    np.testing.assert_allclose(out, reference.contrast(x, factor), atol=1e-5)


def test_color_equals_brightness_then_saturation_then_contrast():
    layer = augment.RandomColor()
    x = images((64, 8, 8, 3))
    params, t = draw(layer, x)
    expected = reference.contrast(
        reference.saturation(reference.brightness(x, params["brightness"]), params["saturation"]),
        params["contrast"],
    )
    out = numpy(layer.transform_images(ops.convert_to_tensor(x), t))
    np.testing.assert_allclose(out, expected, atol=1e-5)
    # The three factors are drawn independently of each other.
    corr = np.corrcoef(np.stack([params["brightness"], params["saturation"], params["contrast"]]))
    assert np.abs(corr[np.triu_indices(3, 1)]).max() < 0.4


@pytest.mark.parametrize("height,width", [(32, 32), (32, 16), (15, 9)])
def test_translation_covers_exactly_the_inclusive_range(height, width):
    layer = augment.RandomTranslation(ratio=0.125)
    x = images((3000, height, width, 1))
    params, _ = draw(layer, x)
    max_h, max_w = int(height * 0.125 + 0.5), int(width * 0.125 + 0.5)
    assert set(params["shift_height"].astype(int)) == set(range(-max_h, max_h + 1))
    assert set(params["shift_width"].astype(int)) == set(range(-max_w, max_w + 1))
    assert abs(params["shift_height"].mean()) < 0.2
    # Independent per axis.
    assert abs(np.corrcoef(params["shift_height"], params["shift_width"])[0, 1]) < 0.1


def test_translation_matches_reference_with_zero_fill():
    layer = augment.RandomTranslation(ratio=0.25)
    x = images((16, 12, 10, 3))
    params, t = draw(layer, x)
    out = numpy(layer.transform_images(ops.convert_to_tensor(x), t))
    expected = reference.translate(
        x, params["shift_height"].astype(int), params["shift_width"].astype(int)
    )
    np.testing.assert_array_equal(out, expected)


def test_cutout_centre_range_and_area_when_fully_inside():
    size, ratio = 16, 0.5
    side = int(size * ratio + 0.5)
    layer = augment.RandomCutout(ratio=ratio)
    x = np.ones((3000, size, size, 3), "float32")
    params, t = draw(layer, x)
    # Even side: centres over [0, size] inclusive, as in the reference.
    assert set(params["center_height"].astype(int)) == set(range(0, size + 1))
    out = numpy(layer.transform_images(ops.convert_to_tensor(x), t))
    zeros = (out == 0)
    # The same pixels are cut in every channel.
    assert (zeros == zeros[..., :1]).all()
    top = params["center_height"] - side // 2
    left = params["center_width"] - side // 2
    inside = (top >= 0) & (top + side <= size) & (left >= 0) & (left + side <= size)
    assert inside.sum() > 100
    np.testing.assert_array_equal(zeros[inside, :, :, 0].sum(axis=(1, 2)), side * side)
    # Hanging over the edge cuts less.
    assert (zeros[~inside, :, :, 0].sum(axis=(1, 2)) < side * side).all()


def test_cutout_odd_side_centre_range_and_reference():
    layer = augment.RandomCutout(ratio=0.3)  # side 3 on 9 pixels: odd
    x = images((2000, 9, 9, 2))
    params, t = draw(layer, x)
    assert set(params["center_width"].astype(int)) == set(range(0, 9))
    out = numpy(layer.transform_images(ops.convert_to_tensor(x), t))
    expected = reference.cutout(x, params["center_height"].astype(int),
                                params["center_width"].astype(int), 3, 3)
    np.testing.assert_array_equal(out, expected)


def test_diff_augment_composes_groups_in_policy_order():
    layer = augment.DiffAugment("color,translation,cutout")
    x = images((8, 16, 16, 3))
    params, t = draw(layer, x)
    assert list(params) == ["color", "translation", "cutout"]
    c, tr, cu = params["color"], params["translation"], params["cutout"]
    expected = reference.contrast(
        reference.saturation(reference.brightness(x, c["brightness"]), c["saturation"]),
        c["contrast"],
    )
    expected = reference.translate(expected, tr["shift_height"].astype(int), tr["shift_width"].astype(int))
    expected = reference.cutout(expected, cu["center_height"].astype(int), cu["center_width"].astype(int), 8, 8)
    out = numpy(layer.transform_images(ops.convert_to_tensor(x), t))
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_diff_augment_groups_draw_independently_from_one_integer_seed():
    layer = augment.DiffAugment("translation,cutout")
    params, _ = draw(layer, images((500, 16, 16, 1)), seed=3)
    u_t = params["translation"]["shift_height"] + 2  # both map u to [0, 4] here
    u_c = params["cutout"]["center_height"]
    assert not np.array_equal(u_t, u_c[: len(u_t)])


# --- policy parsing -----------------------------------------------------------


def test_policy_accepts_string_and_list():
    assert augment.DiffAugment("color, cutout").policy == ("color", "cutout")
    assert augment.DiffAugment(["translation"]).policy == ("translation",)


def test_unknown_policy_name_lists_valid_names():
    with pytest.raises(ValueError, match="color, translation, cutout") as err:
        augment.DiffAugment("color,rotation")
    assert "rotation" in str(err.value)


def test_repeated_policy_name_is_rejected():
    with pytest.raises(ValueError, match="more than once"):
        augment.DiffAugment("color,color")


@pytest.mark.parametrize("policy", ["", [], None])
def test_empty_policy_is_identity(policy):
    x = images()
    np.testing.assert_array_equal(numpy(augment.DiffAugment(policy)(x)), x)


# --- contract shared by every layer ------------------------------------------


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_gradient_matches_finite_differences(layer_class):
    layer = layer_class()
    x = images((3, 8, 8, 3), dtype="float64")
    _, t = draw(layer, x)
    assert_gradient_matches_finite_differences(layer, x, t, rtol=1e-3, atol=1e-4)


def float64_precision():
    """A context in which float64 inputs are computed in float64: JAX
    computes them in float32 unless x64 is enabled."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.enable_x64(True)
    return contextlib.nullcontext()


def assert_gradient_matches_finite_differences(layer, x, transformation, rtol, atol):
    """Checks d/dx sum(w * transform_images(x)) at 12 random pixels of a
    float64 batch against central differences."""
    with float64_precision():
        _assert_gradient_matches_finite_differences(layer, x, transformation, rtol, atol)


def _assert_gradient_matches_finite_differences(layer, x, transformation, rtol, atol):
    weights = images(x.shape, seed=5, dtype="float64")

    def objective(v):
        return ops.multiply(layer.transform_images(v, transformation), weights)

    analytic = gradient(objective, x)
    rng = np.random.default_rng(1)
    eps = 1e-4
    for index in [tuple(rng.integers(0, s) for s in x.shape) for _ in range(12)]:
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        numeric = (numpy(ops.sum(objective(up))) - numpy(ops.sum(objective(down)))) / (2 * eps)
        np.testing.assert_allclose(analytic[index], numeric, rtol=rtol, atol=atol)
    assert np.abs(analytic).sum() > 0


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_randomness_is_per_sample_and_fresh_each_call(layer_class):
    layer = layer_class(seed=1234)
    x = np.repeat(images((1, 16, 16, 3)), 16, axis=0)
    first, second = numpy(layer(x)), numpy(layer(x))
    distinct_samples = len({first[i].tobytes() for i in range(16)})
    assert distinct_samples >= 8
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_same_seed_gives_same_output(layer_class):
    x = images()
    a, b = layer_class(seed=42), layer_class(seed=42)
    np.testing.assert_array_equal(numpy(a(x)), numpy(b(x)))
    np.testing.assert_array_equal(numpy(a(x)), numpy(b(x)))
    assert not np.array_equal(numpy(layer_class(seed=43)(x)), numpy(layer_class(seed=42)(x)))
    layer = layer_class()
    x = ops.convert_to_tensor(x)
    np.testing.assert_array_equal(
        numpy(layer.transform_images(x, layer.get_random_transformation(x, seed=7))),
        numpy(layer.transform_images(x, layer.get_random_transformation(x, seed=7))),
    )


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_inference_returns_input_unchanged(layer_class):
    x = images()
    np.testing.assert_array_equal(numpy(layer_class()(x, training=False)), x)


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_keeps_dtype(layer_class, dtype):
    layer = layer_class()
    x32 = images()
    x = ops.cast(x32, dtype)
    _, t = draw(layer, x32)
    out = layer.transform_images(x, t)
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    assert keras.backend.standardize_dtype(layer(x).dtype) == dtype
    expected = numpy(layer.transform_images(ops.convert_to_tensor(x32), t))
    np.testing.assert_allclose(numpy(out), expected, atol=0.06)


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_channels_first_matches_channels_last(layer_class):
    x = images((4, 12, 10, 3))
    last = layer_class(data_format="channels_last")
    first = layer_class(data_format="channels_first")
    _, t = draw(last, x)
    x_first = np.transpose(x, (0, 3, 1, 2))
    out_first = numpy(first.transform_images(ops.convert_to_tensor(x_first), t))
    out_last = numpy(last.transform_images(ops.convert_to_tensor(x), t))
    np.testing.assert_allclose(np.transpose(out_first, (0, 2, 3, 1)), out_last, atol=1e-6)
    assert first(x_first).shape == x_first.shape


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_single_image_input(layer_class):
    x = images((1, 16, 16, 3))
    layer = layer_class(seed=3)
    out = layer(x[0])
    assert tuple(out.shape) == (16, 16, 3)
    np.testing.assert_array_equal(numpy(out), numpy(layer_class(seed=3)(x))[0])


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_config_round_trip(layer_class):
    layer = layer_class(seed=9, data_format="channels_first", name="aug")
    clone = layer_class.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.compute_output_shape((None, 3, 8, 8)) == (None, 3, 8, 8)


def test_config_keeps_ratios_and_policy():
    layer = augment.DiffAugment(["cutout", "color"], translation_ratio=0.25, cutout_ratio=0.3)
    clone = augment.DiffAugment.from_config(layer.get_config())
    assert clone.policy == ("cutout", "color")
    assert clone.cutout_ratio == 0.3 and clone.translation_ratio == 0.25
    assert augment.RandomCutout.from_config(augment.RandomCutout(0.25).get_config()).ratio == 0.25


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_saved_keras_model_round_trip(layer_class, tmp_path):
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, layer_class(seed=1)(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[1]) is layer_class
    assert loaded.layers[1].get_config() == model.layers[1].get_config()
    x = images()
    assert not np.array_equal(numpy(loaded(x, training=True)), x)
    np.testing.assert_array_equal(numpy(loaded(x, training=False)), x)


# --- errors -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(16, 16), (2, 2, 16, 16, 3)])
def test_wrong_rank_is_rejected(shape):
    with pytest.raises(ValueError, match=f"got rank {len(shape)}"):
        augment.DiffAugment()(np.zeros(shape, "float32"))


def test_integer_images_are_rejected():
    with pytest.raises(ValueError, match="floating-point.*uint8"):
        augment.RandomBrightness()(np.zeros((2, 8, 8, 3), "uint8"))


@pytest.mark.parametrize("ratio", [0, -0.1, 1.5, "0.5"])
@pytest.mark.parametrize("layer_class", [augment.RandomTranslation, augment.RandomCutout])
def test_ratio_outside_unit_interval_is_rejected(layer_class, ratio):
    with pytest.raises(ValueError, match=r"ratio must be"):
        layer_class(ratio=ratio)


def test_diff_augment_validates_its_ratios():
    with pytest.raises(ValueError, match=r"ratio must be in \(0, 1\]"):
        augment.DiffAugment(cutout_ratio=2.0)


def test_bad_data_format_is_rejected():
    with pytest.raises(ValueError, match="channels_last"):
        augment.RandomCutout(data_format="NHWC")
