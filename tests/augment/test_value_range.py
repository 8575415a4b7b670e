"""`value_range`: every layer acts on images in any range exactly as on the
images mapped affinely to [-1, 1], transformed and mapped back.

Backend-agnostic (keras.ops and NumPy only): test_backends.py runs it under
the torch and JAX backends too.
"""

import numpy as np
import pytest

import keras
from keras import ops

from keras_dagan import augment
from tests.augment.test_layers import ALL_LAYERS, numpy

RANGES = [(0, 1), (0, 255), (-3.5, 10.0)]

ADA_CASES = {
    "bgcfnc_p1": dict(preset="bgcfnc", p=1.0),
    "bgc_p05": dict(preset="bgc", p=0.5),
    "color_only": dict(preset=None, p=1.0, multipliers={
        "brightness": 1, "contrast": 1, "lumaflip": 1, "hue": 1, "saturation": 1}),
}


def to_unit(x, value_range):
    low, high = value_range
    return (x - (low + high) / 2) / ((high - low) / 2)


def from_unit(x, value_range):
    low, high = value_range
    return x * ((high - low) / 2) + (low + high) / 2


def images_in(value_range, shape=(6, 16, 16, 3), seed=0):
    low, high = value_range
    # Reach a little past the range: nothing is clipped, in or out.
    unit = np.random.default_rng(seed).uniform(-1.1, 1.1, shape)
    return from_unit(unit, value_range).astype("float32")


def assert_acts_as_in_unit_range(make_layer, value_range, shape=(6, 16, 16, 3),
                                 data_format="channels_last"):
    """layer(value_range) == from_unit(layer((-1, 1))(to_unit(x))) for the
    same draws, to float32 tolerance relative to the range."""
    x = images_in(value_range, shape)
    layer = make_layer(value_range=value_range, data_format=data_format)
    unit_layer = make_layer(data_format=data_format)
    transformation = layer.get_random_transformation(ops.convert_to_tensor(x), seed=5)
    ranged = numpy(layer.transform_images(x, transformation))
    expected = from_unit(
        numpy(unit_layer.transform_images(to_unit(x, value_range), transformation)),
        value_range,
    )
    low, high = value_range
    np.testing.assert_allclose(ranged, expected, rtol=0, atol=2e-5 * (high - low))
    return x, ranged


@pytest.mark.parametrize("value_range", RANGES)
@pytest.mark.parametrize("layer_class", ALL_LAYERS, ids=lambda c: c.__name__)
def test_diffaugment_layers_act_as_in_unit_range(layer_class, value_range):
    x, ranged = assert_acts_as_in_unit_range(layer_class, value_range)
    assert not np.allclose(ranged, x)


@pytest.mark.parametrize("value_range", RANGES)
@pytest.mark.parametrize("case", ADA_CASES, ids=str)
def test_adaptive_augment_acts_as_in_unit_range(case, value_range):
    assert_acts_as_in_unit_range(
        lambda **kw: augment.AdaptiveAugment(target=None, **ADA_CASES[case], **kw),
        value_range,
    )


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_equivalence_holds_for_grey_images_and_both_data_formats(channels, data_format):
    shape = (4, 16, 16, channels) if data_format == "channels_last" else (4, channels, 16, 16)
    for make_layer in [
        lambda **kw: augment.AdaptiveAugment("bgcfnc", p=1.0, target=None, **kw),
        lambda **kw: augment.DiffAugment(**kw),
    ]:
        assert_acts_as_in_unit_range(make_layer, (0, 1), shape, data_format)


def test_fills_are_the_mid_value():
    ones = np.full((4, 16, 16, 3), 200.0, "float32")
    cutout = augment.RandomCutout(ratio=0.5, value_range=(0, 255))
    out = numpy(cutout.transform_images(ones, {
        "center_height": np.full((4,), 8, "int32"), "center_width": np.full((4,), 8, "int32")}))
    assert np.sum(out == 127.5) == 4 * 8 * 8 * 3
    assert set(np.unique(out)) == {127.5, 200.0}

    translation = augment.RandomTranslation(value_range=(0, 255))
    out = numpy(translation.transform_images(ones, {
        "shift_height": np.full((4,), 2, "int32"), "shift_width": np.zeros((4,), "int32")}))
    np.testing.assert_array_equal(out[:, -2:], 127.5)
    np.testing.assert_array_equal(out[:, :-2], 200.0)

    ada = augment.AdaptiveAugment(preset=None, multipliers={"cutout": 1}, p=1.0, target=None,
                                  value_range=(0, 1))
    out = numpy(ada(np.full((4, 16, 16, 3), 0.75, "float32")))
    assert set(np.unique(out).tolist()) == {0.5, 0.75}


def test_brightness_shift_scales_with_the_range():
    x = np.zeros((5, 4, 4, 3), "float32")
    u = np.array([0.0, 0.25, 0.5, 0.75, 0.999], "float32")
    shift = {"brightness": u - 0.5}
    unit = numpy(augment.RandomBrightness().transform_images(x, shift))
    wide = numpy(augment.RandomBrightness(value_range=(0, 255)).transform_images(x, shift))
    np.testing.assert_allclose(unit[:, 0, 0, 0], u - 0.5, atol=1e-6)
    np.testing.assert_allclose(wide[:, 0, 0, 0], (u - 0.5) * 127.5, atol=1e-4)


def test_lumaflip_of_grey_reflects_about_mid_grey():
    """The issue's example: in [0, 1], a flipped grey of 0.8 is 0.2, not -0.8."""
    layer = augment.AdaptiveAugment(preset=None, multipliers={"lumaflip": 1}, p=1.0,
                                    target=None, value_range=(0, 1))
    grey = np.full((64, 4, 4, 3), 0.8, "float32")
    out = numpy(layer(grey))
    values = np.unique(np.round(out, 5))
    np.testing.assert_allclose(values, [0.2, 0.8], atol=1e-5)


def test_share_of_pixels_leaving_the_range_matches_rescaling_by_hand():
    x = images_in((0, 1), (32, 16, 16, 3), seed=1).clip(0, 1)
    layer = augment.AdaptiveAugment("bgc", p=0.2, target=None, value_range=(0, 1))
    unit_layer = augment.AdaptiveAugment("bgc", p=0.2, target=None)
    transformation = layer.get_random_transformation(ops.convert_to_tensor(x), seed=2)
    ranged = numpy(layer.transform_images(x, transformation))
    by_hand = from_unit(numpy(unit_layer.transform_images(to_unit(x, (0, 1)), transformation)),
                        (0, 1))

    def outside(y):
        return np.mean((y < -1e-4) | (y > 1 + 1e-4))

    assert outside(ranged) == pytest.approx(outside(by_hand), abs=1e-3)


def test_p_zero_still_returns_the_input_bitwise():
    x = images_in((0, 255))
    layer = augment.AdaptiveAugment("bgcfnc", p=0.0, target=None, value_range=(0, 255))
    np.testing.assert_array_equal(numpy(layer(x)), x)


def test_gradients_flow_in_any_range():
    from tests.augment.test_layers import gradient

    x = images_in((0, 1))
    grad = gradient(augment.DiffAugment(value_range=(0, 1), seed=0), x)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


@pytest.mark.parametrize("layer_class", ALL_LAYERS + [augment.AdaptiveAugment],
                         ids=lambda c: c.__name__)
def test_value_range_is_serialized(layer_class):
    layer = layer_class(value_range=(0, 255))
    config = layer.get_config()
    assert tuple(config["value_range"]) == (0.0, 255.0)
    restored = layer_class.from_config(config)
    assert restored.value_range == (0.0, 255.0)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert revived.value_range == (0.0, 255.0)
    assert layer_class().value_range == (-1.0, 1.0)


@pytest.mark.parametrize("bad, message", [
    ((1, 0), "low < high"),
    ((1, 1), "low < high"),
    ((0,), "pair"),
    ((0, 1, 2), "pair"),
    ("0,1", "pair"),
    ((0, "1"), "pair"),
    ((0, float("inf")), "pair"),
    (None, "pair"),
    ((False, True), "pair"),
])
@pytest.mark.parametrize("layer_class", [augment.RandomTranslation, augment.DiffAugment,
                                         augment.AdaptiveAugment], ids=lambda c: c.__name__)
def test_invalid_ranges_get_a_clear_error(layer_class, bad, message):
    with pytest.raises(ValueError, match=message) as error:
        layer_class(value_range=bad)
    assert repr(bad) in str(error.value)
