"""Backend-agnostic tests of AdaptiveAugment and affine_resample.

Only keras.ops and NumPy, so this module also runs under the torch backend
(see test_backends.py). The NumPy references are written from the ADA
paper's definitions.
"""

import numpy as np
import pytest

import keras
from keras import ops

from keras_dagan import augment
from keras_dagan.augment.adaptive import BAND_FILTERS, band_filter_matrices
from tests.augment import reference
from tests.augment.test_layers import (
    assert_gradient_matches_finite_differences,
    images,
    numpy,
)

LUMA = np.ones(3) / np.sqrt(3)


def only(name, p=1.0, **kwargs):
    return augment.AdaptiveAugment(preset=None, multipliers={name: 1}, p=p, **kwargs)


def draw(layer, x, seed=11):
    x = ops.convert_to_tensor(x)
    transformation = layer.get_random_transformation(x, seed=seed)
    params = {stage: {k: numpy(v) for k, v in values.items()}
              for stage, values in transformation.items()}
    return params, transformation


def apply(layer, x, transformation):
    return numpy(layer.transform_images(ops.convert_to_tensor(x), transformation))


def reflect(index, size):
    """Mirror about the edge pixels: -1 -> 1, size -> size - 2."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.mod(index, period)
    return np.where(index < size, index, period - index)


# --- identity and gating -------------------------------------------------------


@pytest.mark.parametrize("preset", ["bgc", "bgcfnc"])
def test_p_zero_returns_input_bitwise(preset):
    x = images((6, 16, 16, 3))
    x[0, 0, 0, 0] = -0.0
    layer = augment.AdaptiveAugment(preset, p=0.0)
    assert numpy(layer(x)).tobytes() == x.tobytes()
    assert numpy(layer(x[0])).tobytes() == x[0].tobytes()


def test_training_false_is_identity_even_at_p_one():
    x = images()
    np.testing.assert_array_equal(
        numpy(augment.AdaptiveAugment("bgcfnc", p=1.0)(x, training=False)), x
    )


def test_transforms_fire_with_probability_p_times_multiplier():
    layer = augment.AdaptiveAugment(
        preset=None, multipliers={"brightness": 1, "xint": 0.5}, p=0.6
    )
    params, _ = draw(layer, images((4000, 2, 2, 3)))
    assert abs(params["color"]["applied"].mean() - 0.6) < 0.03
    assert abs(params["geometric"]["applied"].mean() - 0.3) < 0.03


def test_rotation_fires_with_probability_p_overall():
    layer = only("rotate", p=0.5)
    params, _ = draw(layer, images((4000, 2, 2, 1)))
    matrix = params["geometric"]["matrix"]
    rotated = np.abs(matrix[:, 0, 1]) > 1e-6
    assert abs(rotated.mean() - 0.5) < 0.03
    # Rotation matrices: orthonormal, angle uniform over the circle.
    np.testing.assert_allclose(matrix[:, :2, :2] @ matrix[:, :2, :2].transpose(0, 2, 1),
                               np.broadcast_to(np.eye(2), (4000, 2, 2)), atol=1e-5)
    angles = np.arctan2(matrix[rotated, 1, 0], matrix[rotated, 0, 0])
    assert np.histogram(angles, bins=4, range=(-np.pi, np.pi))[0].min() > 0.2 * rotated.sum()


# --- blit transforms: exact -----------------------------------------------------


def test_xflip_gives_the_image_or_its_mirror_about_half_each():
    layer = only("xflip")
    x = images((400, 6, 7, 2))
    params, t = draw(layer, x)
    out = apply(layer, x, t)
    same = np.all(np.abs(out - x) < 1e-6, axis=(1, 2, 3))
    mirrored = np.all(np.abs(out - x[:, :, ::-1]) < 1e-6, axis=(1, 2, 3))
    assert np.all(same ^ mirrored)
    assert 0.4 < mirrored.mean() < 0.6


def test_rotate90_gives_one_of_the_four_quarter_turns():
    layer = only("rotate90")
    x = images((400, 8, 8, 1))
    _, t = draw(layer, x)
    out = apply(layer, x, t)
    turns = np.stack([
        np.all(np.abs(out - np.rot90(x, k, axes=(1, 2))) < 1e-6, axis=(1, 2, 3))
        for k in range(4)
    ], axis=1)
    assert np.all(turns.sum(axis=1) == 1)
    assert turns.mean(axis=0).min() > 0.18


@pytest.mark.parametrize("height, width", [(1, 7), (3, 5), (33, 18), (16, 16)])
def test_whole_pixel_maps_resample_exactly_on_any_size(height, width):
    x = images((8, height, width, 2))
    shifts = [(0, 0), (1, 0), (0, -2), (3, 1), (-1, -1), (2, 2), (0, 1), (-3, 0)]
    mirrors = [1, -1, 1, -1, -1, 1, -1, 1]
    matrices = np.stack([
        np.array([[m, 0, dx], [0, 1, dy], [0, 0, 1]], "float32")
        for m, (dx, dy) in zip(mirrors, shifts)
    ])
    out = numpy(augment.affine_resample(x, matrices))
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    for n, (m, (dx, dy)) in enumerate(zip(mirrors, shifts)):
        cols = reflect(np.round(m * (np.arange(width) - centre_x) + dx + centre_x).astype(int), width)
        rows = reflect(np.arange(height) + dy, height)
        np.testing.assert_allclose(out[n], x[n][rows][:, cols], atol=1e-6, err_msg=str(n))


def test_integer_translation_is_a_reflected_whole_pixel_shift():
    layer = only("xint")
    x = images((300, 16, 12, 2))
    params, t = draw(layer, x)
    out = apply(layer, x, t)
    matrix = params["geometric"]["matrix"]
    shift_x, shift_y = matrix[:, 0, 2], matrix[:, 1, 2]
    np.testing.assert_array_equal(shift_x, np.round(shift_x))
    # round(t * size) for |t| < 1/8: up to 1 pixel of 12, 2 of 16.
    assert np.abs(shift_x).max() == 1 and np.abs(shift_y).max() == 2
    for n in range(0, 300, 37):
        rows = reflect(np.arange(16) + int(shift_y[n]), 16)
        cols = reflect(np.arange(12) + int(shift_x[n]), 12)
        np.testing.assert_allclose(out[n], x[n][rows][:, cols], atol=1e-6)


# --- geometric transforms -------------------------------------------------------


def smooth_image(x, y):
    """A band-limited test function of pixel coordinates."""
    return np.cos(0.35 * x + 0.2 * y) + 0.5 * np.sin(0.15 * x - 0.3 * y + 1.0)


def test_resampling_matches_the_transformed_continuous_image():
    height, width = 20, 24
    ys, xs = np.meshgrid(np.arange(height) - (height - 1) / 2,
                         np.arange(width) - (width - 1) / 2, indexing="ij")
    theta, scale, shift = 0.7, 0.8, (1.3, -0.6)
    inverse = np.array([
        [np.cos(theta) * scale, -np.sin(theta) * scale, shift[0]],
        [np.sin(theta) * scale, np.cos(theta) * scale, shift[1]],
        [0, 0, 1],
    ], "float32")
    image = smooth_image(xs, ys)[None, :, :, None].astype("float32")
    out = numpy(augment.affine_resample(image, inverse[None]))[0, :, :, 0]
    source_x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    source_y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    expected = smooth_image(source_x, source_y)
    # Away from the border, where the reflection takes over.
    inside = (np.abs(source_x) < width / 2 - 3) & (np.abs(source_y) < height / 2 - 3)
    assert inside.sum() > 150
    np.testing.assert_allclose(out[inside], expected[inside], atol=0.01)


def affine(a, b, c, d):
    """Inverse matrix with the 2x2 part [[a, b], [c, d]] (output -> input)."""
    return np.array([[a, b, 0.0], [c, d, 0.0], [0.0, 0.0, 1.0]], "float32")


@pytest.mark.parametrize("name, inverse, ideal", [
    ("identity", affine(1, 0, 0, 1), True),
    ("shrink 1.6x", affine(1.6, 0, 0, 1.6), True),
    ("squeeze x, stretch y", affine(1.4, 0, 0, 0.7), True),
    ("quarter turn, shrink y", affine(0, -1.5, 1, 0), True),
    # The band turned 45 degrees is symmetric about both axes: ideal too.
    ("turn 45 degrees", affine(np.sqrt(0.5), -np.sqrt(0.5), np.sqrt(0.5), np.sqrt(0.5)), True),
    ("turn 30 degrees and shrink", affine(1.1, -0.7, 0.7, 1.1), False),
])
@pytest.mark.parametrize("height, width", [(12, 16), (11, 15)])
def test_band_limit_scales_each_cosine_product_by_its_kept_waves(
        name, inverse, ideal, height, width):
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    a, b, c, d = inverse[0, 0], inverse[0, 1], inverse[1, 0], inverse[1, 1]
    halved = 0
    # cos(ux) cos(vy) is the sum of the waves (u, v) and (u, -v); a wave of
    # input frequency w leaves the map with frequency A^T w.
    for k, l in [(0, 0), (3, 2), (9, 3), (13, 5), (width - 1, height - 1), (4, 10), (12, 2)]:
        u, v = np.pi * k / (width - 1), np.pi * l / (height - 1)
        image = np.cos(u * cols) * np.cos(v * rows)
        kept = [max(abs(a * u + sign * c * v), abs(b * u + sign * d * v)) <= np.pi + 1e-6
                for sign in (1, -1)]
        out = numpy(augment.band_limit(image[None, :, :, None].astype("float32"), inverse[None]))
        np.testing.assert_allclose(out[0, :, :, 0], np.mean(kept) * image, atol=1e-5,
                                   err_msg=f"{name} {k, l}")
        if ideal:  # both waves share their fate
            expected = sum(keep * np.cos(u * cols + sign * v * rows) / 2
                           for keep, sign in zip(kept, (1, -1)))
            np.testing.assert_allclose(out[0, :, :, 0], expected, atol=1e-5)
        halved += kept[0] != kept[1]
    assert halved == 0 if ideal else halved > 0


@pytest.mark.parametrize("shape", [(4, 9, 14, 2), (3, 8, 1, 1), (2, 7, 10, 3)])
def test_band_limit_matches_the_dense_cosine_series(shape):
    x = images(shape)
    matrices = ops.convert_to_numpy(
        augment.AdaptiveAugment("bg", p=1.0).get_random_transformation(x, seed=5)[
            "geometric"]["matrix"])
    expected = reference.band_limit(x, matrices.astype("float64"))
    np.testing.assert_allclose(numpy(augment.band_limit(x, matrices)), expected, atol=1e-4)
    channels_first = augment.band_limit(np.transpose(x, (0, 3, 1, 2)), matrices, "channels_first")
    np.testing.assert_allclose(np.transpose(numpy(channels_first), (0, 2, 3, 1)), expected, atol=1e-4)


def test_antialiasing_removes_what_shrinking_would_alias():
    size = 32
    cols = np.tile(np.arange(size), (size, 1))
    shrink = affine(1.5, 0, 0, 1.5)[None]
    # 0.9 pi per pixel becomes 1.35 pi after shrinking 1.5x: beyond the
    # Nyquist limit, it can only alias (to 0.65 pi, at full amplitude).
    stripes = np.cos(0.9 * np.pi * cols)[None, :, :, None].astype("float32")
    aliased = numpy(augment.affine_resample(stripes, shrink, antialias=False))
    removed = numpy(augment.affine_resample(stripes, shrink))
    assert aliased[0, 8:-8, 8:-8].std() > 0.3
    assert removed[0, 8:-8, 8:-8].std() < 0.02
    # 0.5 pi becomes 0.75 pi: representable, so kept.
    stripes = np.cos(0.5 * np.pi * cols)[None, :, :, None].astype("float32")
    kept = numpy(augment.affine_resample(stripes, shrink))[0, :, :, 0]
    x = np.arange(size) - (size - 1) / 2
    expected = np.cos(0.5 * np.pi * (1.5 * x + (size - 1) / 2))
    expected = np.tile(expected, (size, 1))[8:-8, 8:-8]
    # Up to the interpolator's attenuation between samples (at most ~12 %
    # at this frequency).
    np.testing.assert_allclose(kept[8:-8, 8:-8], expected, atol=0.15)
    assert np.corrcoef(kept[8:-8, 8:-8].ravel(), expected.ravel())[0, 1] > 0.99


def test_antialias_off_is_the_plain_resampling():
    layer = augment.AdaptiveAugment("bg", p=1.0, antialias=False)
    x = images((6, 16, 16, 3))
    params, t = draw(layer, x)
    np.testing.assert_array_equal(
        apply(layer, x, t),
        numpy(augment.affine_resample(x, params["geometric"]["matrix"], antialias=False)),
    )
    assert augment.AdaptiveAugment.from_config(layer.get_config()).antialias is False


def test_single_bright_pixel_lands_where_the_matrix_sends_it():
    layer = augment.AdaptiveAugment("bg", p=1.0)
    size = 32
    x = np.zeros((200, size, size, 1), "float32")
    source = np.array([3.0, -2.0])  # (x, y) from the centre
    x[:, int(source[1] + (size - 1) / 2 + 0.5), int(source[0] + (size - 1) / 2 + 0.5)] = 1.0
    source = np.floor(source + (size - 1) / 2 + 0.5) - (size - 1) / 2
    params, t = draw(layer, x)
    out = apply(layer, x, t)
    forward = np.linalg.inv(params["geometric"]["matrix"].astype("float64"))
    target = forward[:, :2, :2] @ source + forward[:, :2, 2]
    inside = np.all(np.abs(target) < size / 2 - 4, axis=1)
    assert inside.sum() > 100
    for n in np.flatnonzero(inside):
        # Look near the target: the reflected border can show mirror copies
        # of the pixel elsewhere, at least 13 pixels away here.
        col, row = np.round(target[n] + (size - 1) / 2).astype(int)
        window = out[n, row - 3 : row + 4, col - 3 : col + 4, 0]
        peak_row, peak_col = np.unravel_index(np.argmax(window), window.shape)
        found = np.array([col + peak_col - 3, row + peak_row - 3]) - (size - 1) / 2
        assert window.max() > 0.05  # magnified, the pixel spreads out
        assert np.linalg.norm(found - target[n]) <= 1.0, (n, found, target[n])


def test_scale_and_aniso_have_the_reference_log2_spread():
    params, _ = draw(only("scale"), images((4000, 2, 2, 1)))
    log_scale = -np.log2(params["geometric"]["matrix"][:, 0, 0])
    assert abs(log_scale.std() - 0.2) < 0.01
    params, _ = draw(only("aniso"), images((4000, 2, 2, 1)))
    matrix = params["geometric"]["matrix"]
    np.testing.assert_allclose(matrix[:, 0, 0] * matrix[:, 1, 1], 1.0, rtol=1e-5)
    assert abs(np.log2(matrix[:, 1, 1]).std() - 0.2) < 0.01


def test_fractional_translation_spread_is_an_eighth_of_the_size():
    params, _ = draw(only("xfrac"), images((4000, 16, 8, 1)))
    matrix = params["geometric"]["matrix"]
    assert abs(matrix[:, 0, 2].std() / 8 - 0.125) < 0.006
    assert abs(matrix[:, 1, 2].std() / 16 - 0.125) < 0.006


# --- colour transforms ----------------------------------------------------------


def test_brightness_is_a_per_sample_shift_of_std_0_2():
    layer = only("brightness")
    x = images((4000, 2, 2, 3))
    _, t = draw(layer, x)
    shift = apply(layer, x, t) - x
    np.testing.assert_allclose(shift, shift[:, :1, :1, :1] * np.ones_like(shift), atol=1e-5)
    assert abs(shift[:, 0, 0, 0].std() - 0.2) < 0.01
    assert abs(shift[:, 0, 0, 0].mean()) < 0.01


def test_contrast_is_a_per_sample_factor_of_log2_std_0_5():
    layer = only("contrast")
    x = images((4000, 2, 2, 3)) + 2.0  # away from 0, for the ratio
    _, t = draw(layer, x)
    factor = apply(layer, x, t) / x
    np.testing.assert_allclose(factor, factor[:, :1, :1, :1] * np.ones_like(factor), rtol=1e-5)
    assert abs(np.log2(factor[:, 0, 0, 0]).std() - 0.5) < 0.02


def test_lumaflip_reflects_across_the_grey_plane_or_not():
    layer = only("lumaflip")
    x = images((400, 3, 3, 3))
    _, t = draw(layer, x)
    out = apply(layer, x, t)
    flipped = x - 2 * (x @ LUMA)[..., None] * LUMA
    same = np.all(np.abs(out - x) < 1e-5, axis=(1, 2, 3))
    reflected = np.all(np.abs(out - flipped) < 1e-5, axis=(1, 2, 3))
    assert np.all(same ^ reflected) and 0.4 < reflected.mean() < 0.6


def test_hue_rotation_keeps_luma_and_chroma_length():
    layer = only("hue")
    x = images((500, 3, 3, 3))
    _, t = draw(layer, x)
    out = apply(layer, x, t)
    np.testing.assert_allclose(out @ LUMA, x @ LUMA, atol=1e-5)
    chroma_in = x - (x @ LUMA)[..., None] * LUMA
    chroma_out = out - (out @ LUMA)[..., None] * LUMA
    np.testing.assert_allclose(np.linalg.norm(chroma_out, axis=-1),
                               np.linalg.norm(chroma_in, axis=-1), atol=1e-5)
    cos = np.sum(chroma_in * chroma_out, -1) / np.linalg.norm(chroma_in, axis=-1) ** 2
    assert (cos < -0.5).mean() > 0.2  # large angles occur: the full circle


def test_saturation_scales_chroma_by_a_per_sample_factor():
    layer = only("saturation")
    x = images((4000, 2, 2, 3))
    _, t = draw(layer, x)
    out = apply(layer, x, t)
    np.testing.assert_allclose(out @ LUMA, x @ LUMA, atol=1e-5)
    chroma_in = x - (x @ LUMA)[..., None] * LUMA
    chroma_out = out - (out @ LUMA)[..., None] * LUMA
    factor = chroma_out[:, 0, 0, 0] / chroma_in[:, 0, 0, 0]
    np.testing.assert_allclose(chroma_out, chroma_in * factor[:, None, None, None],
                               rtol=1e-3, atol=1e-5)
    assert abs(np.log2(factor).std() - 1.0) < 0.04


def test_color_matrix_is_applied_to_rgb_and_to_grey():
    layer = augment.AdaptiveAugment(
        preset=None, multipliers={name: 1 for name in augment.adaptive.COLOR_TRANSFORMS}, p=1.0
    )
    x = images((16, 4, 4, 3))
    params, t = draw(layer, x)
    matrix = params["color"]["matrix"]
    expected = np.einsum("nhwd,ncd->nhwc", x, matrix[:, :3, :3]) + matrix[:, None, None, :3, 3]
    np.testing.assert_allclose(apply(layer, x, t), expected, atol=1e-5)
    grey = images((16, 4, 4, 1))
    params, t = draw(layer, grey)
    assert not np.allclose(params["color"]["matrix"], 0)
    rgb = np.repeat(grey, 3, axis=-1)
    matrix = params["color"]["matrix"]
    expected = np.einsum("nhwd,ncd->nhwc", rgb, matrix[:, :3, :3]) + matrix[:, None, None, :3, 3]
    expected = expected.mean(-1, keepdims=True)  # a grey pixel stands for (x, x, x)
    np.testing.assert_allclose(apply(layer, grey, t), expected, atol=1e-5)


def test_grey_images_skip_hue_and_saturation():
    layer = augment.AdaptiveAugment(preset=None, multipliers={"hue": 1, "saturation": 1}, p=1.0)
    x = images((8, 4, 4, 1))
    params, _ = draw(layer, x)
    assert "color" not in params
    assert numpy(layer(x)).tobytes() == x.tobytes()


# --- filter, noise, cutout -----------------------------------------------------


def test_band_filters_split_the_impulse_into_four_octaves():
    np.testing.assert_allclose(BAND_FILTERS.sum(axis=0), np.eye(43)[21], atol=1e-12)
    np.testing.assert_allclose(BAND_FILTERS, BAND_FILTERS[:, ::-1], atol=1e-12)  # zero phase
    response = np.abs(np.fft.rfft(BAND_FILTERS, 1024, axis=1))
    frequency = np.fft.rfftfreq(1024)
    peaks = frequency[np.argmax(response, axis=1)]
    assert peaks[0] == 0 and 1 / 32 < peaks[1] < 1 / 8 < peaks[2] < 1 / 4 < peaks[3]


def test_imgfilter_matches_a_reflect_padded_separable_convolution():
    layer = only("imgfilter")
    x = images((6, 12, 10, 2))
    params, t = draw(layer, x)
    gains = params["filter"]["gains"]
    expected = np.empty_like(x)
    for n in range(6):
        taps = gains[n] @ BAND_FILTERS  # symmetric: convolution = correlation
        padded = x[n][reflect(np.arange(-21, 12 + 21), 12)][:, reflect(np.arange(-21, 10 + 21), 10)]
        filtered = np.apply_along_axis(np.convolve, 0, padded, taps, "valid")
        expected[n] = np.apply_along_axis(np.convolve, 1, filtered, taps, "valid")
    out = apply(layer, x, t)
    applied = params["filter"]["applied"]
    np.testing.assert_allclose(out[applied], expected[applied], atol=1e-4)
    # Unit gains are the identity.
    np.testing.assert_allclose(band_filter_matrices(10).sum(axis=0), np.eye(10), atol=1e-12)


def test_noise_has_per_sample_std_of_half_normal_times_0_1():
    layer = only("noise")
    x = images((2000, 8, 8, 3))
    _, t = draw(layer, x)
    sigma = (apply(layer, x, t) - x).std(axis=(1, 2, 3))
    expected_mean = 0.1 * np.sqrt(2 / np.pi)
    assert abs(sigma.mean() - expected_mean) < 0.004


def test_cutout_zeroes_a_half_size_square_with_the_reference_rule():
    layer = only("cutout")
    size = 16
    x = images((500, size, size, 2))
    params, t = draw(layer, x)
    out = apply(layer, x, t)
    cut = params["cutout"]
    expected = reference.cutout(
        x, cut["center_height"].astype(int), cut["center_width"].astype(int), 8, 8
    )
    np.testing.assert_array_equal(out, expected)
    centres = cut["center_height"].astype(int)
    assert centres.min() >= 0 and centres.max() <= size


def test_cutout_centre_rule_equals_the_reference_distance_test():
    # The reference zeroes pixel i when |(i + 0.5) / size - u| < 1/4.
    size, box = 16, 8
    for u in np.linspace(0.001, 0.999, 97):
        centre = int(np.floor(u * size + 0.5 * (1 - box % 2)))
        ours = (np.arange(size) >= centre - box // 2) & (np.arange(size) < centre - box // 2 + box)
        theirs = np.abs((np.arange(size) + 0.5) / size - u) < 0.25
        np.testing.assert_array_equal(ours, theirs)


# --- contract -----------------------------------------------------------------


def test_gradient_through_the_whole_pipeline_matches_finite_differences():
    layer = augment.AdaptiveAugment("bgcfnc", p=1.0)
    x = images((3, 8, 8, 3), dtype="float64")
    _, t = draw(layer, x.astype("float32"))
    assert_gradient_matches_finite_differences(layer, x, t, rtol=1e-4, atol=1e-6)


def test_channels_first_matches_channels_last():
    x = images((4, 12, 10, 3))
    last = augment.AdaptiveAugment("bgcfnc", p=1.0, data_format="channels_last")
    first = augment.AdaptiveAugment("bgcfnc", p=1.0, data_format="channels_first")
    _, t = draw(last, x)
    # The noise field is drawn in the layer's data format.
    field_first = ops.transpose(t["noise"]["field"], (0, 3, 1, 2))
    t_first = dict(t, noise=dict(t["noise"], field=field_first))
    out_first = apply(first, np.transpose(x, (0, 3, 1, 2)), t_first)
    np.testing.assert_allclose(np.transpose(out_first, (0, 2, 3, 1)), apply(last, x, t), atol=1e-5)
    assert first(np.transpose(x, (0, 3, 1, 2))).shape == (4, 3, 12, 10)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_keeps_dtype(dtype):
    layer = augment.AdaptiveAugment("bgcfnc", p=1.0)
    x32 = images((4, 16, 16, 3))
    _, t = draw(layer, x32)
    out = layer.transform_images(ops.cast(x32, dtype), t)
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    np.testing.assert_allclose(numpy(out), apply(layer, x32, t), atol=0.05, rtol=0.03)
    # The pipeline runs in float32 and rounds once: exactly the float32
    # result on the rounded input, rounded. (TF's CPU einsum accumulates
    # bfloat16 in bfloat16, so a filter run in half precision misses.)
    rounded = ops.cast(ops.cast(x32, dtype), "float32")
    expected = ops.cast(layer.transform_images(rounded, t), dtype)
    np.testing.assert_array_equal(numpy(out), numpy(expected))


def test_seeds_reproduce_and_calls_draw_fresh():
    x = np.repeat(images((1, 16, 16, 3)), 8, axis=0)
    a, b = augment.AdaptiveAugment(p=1.0, seed=4), augment.AdaptiveAugment(p=1.0, seed=4)
    first = numpy(a(x))
    np.testing.assert_array_equal(first, numpy(b(x)))
    assert not np.array_equal(first, numpy(a(x)))
    assert len({first[i].tobytes() for i in range(8)}) == 8


def test_config_round_trip_and_saved_model_keeps_p(tmp_path):
    layer = augment.AdaptiveAugment(preset=None, multipliers={"xflip": 1, "noise": 0.5},
                                    p=0.25, target=None, speed_kimg=100, interval=2,
                                    seed=3, data_format="channels_last", name="ada")
    clone = augment.AdaptiveAugment.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.multipliers == {"xflip": 1.0, "noise": 0.5}
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, augment.AdaptiveAugment(p=0.1)(inputs))
    model.layers[1].p.assign(0.37)
    model.layers[1].accumulated_images.assign(128.0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras").layers[1]
    assert isinstance(loaded, augment.AdaptiveAugment)
    assert abs(float(numpy(loaded.p)) - 0.37) < 1e-7
    assert float(numpy(loaded.accumulated_images)) == 128.0


def test_presets_and_multipliers():
    assert list(augment.resolve_multipliers("bg", None)) == [
        "xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac"]
    assert len(augment.resolve_multipliers("bgcfnc", None)) == 15
    assert augment.resolve_multipliers("bgc", {"rotate": 0, "noise": 2}) == dict(
        {name: 1.0 for name in augment.PRESETS["bgc"] if name != "rotate"}, noise=2.0)
    assert augment.resolve_multipliers(None, {"cutout": 1}) == {"cutout": 1.0}


@pytest.mark.parametrize("kwargs,match", [
    ({"preset": "bgx"}, "Unknown ADA preset 'bgx'.*bg, bgc, bgcf"),
    ({"multipliers": {"flip": 1}}, r"Unknown ADA transform name\(s\) \['flip'\].*xflip"),
    ({"multipliers": {"xflip": -1}}, "'xflip' must be a number >= 0.*got -1"),
    ({"multipliers": ["xflip"]}, "multipliers must be a dict"),
    ({"preset": None}, "enables no transform"),
    ({"p": 1.5}, r"p must be a number in \[0, 1\]; got 1.5"),
    ({"target": 2}, r"target must be a number in \[0, 1\].*got 2"),
    ({"interval": 0}, "interval must be a positive integer.*got 0"),
    ({"speed_kimg": 0}, "speed_kimg must be a number > 0"),
    ({"antialias": "no"}, "antialias must be True .* or False .*got 'no'"),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        augment.AdaptiveAugment(**kwargs)


def test_colour_transforms_reject_four_channels():
    with pytest.raises(ValueError, match="need 1 or 3 channels; got 4.*preset='bg'"):
        augment.AdaptiveAugment(p=1.0)(images((2, 8, 8, 4)))
    assert augment.AdaptiveAugment("bg", p=1.0)(images((2, 8, 8, 4))).shape == (2, 8, 8, 4)


# --- the controller ------------------------------------------------------------


def p_of(layer):
    return float(numpy(layer.p))


@pytest.mark.parametrize("signs,direction", [(0.9, 1), (0.1, -1)])
def test_controller_steps_p_every_interval_calls_by_the_images_seen(signs, direction):
    layer = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=10, interval=4)
    history = []
    for _ in range(8):
        layer.update_probability(signs * 64, 64)
        history.append(p_of(layer))
    step = 64 * 4 / (10 * 1000)
    np.testing.assert_allclose(history, [0.5] * 3 + [0.5 + direction * step] * 4
                               + [0.5 + 2 * direction * step], atol=1e-6)


def test_controller_uses_r_t_over_the_whole_interval():
    layer = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1, interval=2)
    layer.update_probability(64.0, 64)  # r = 1 alone would raise p
    layer.update_probability(-64.0, 64)  # mean over both: 0 < 0.6
    assert abs(p_of(layer) - (0.5 - 0.128)) < 1e-6
    layer.update_probability(0.6 * 64, 64)
    layer.update_probability(0.6 * 64, 64)  # r_t == target: p stays
    assert abs(p_of(layer) - (0.5 - 0.128)) < 1e-6


def test_controller_clamps_p_to_the_unit_interval():
    layer = augment.AdaptiveAugment(p=0.95, target=0.6, speed_kimg=0.1, interval=1)
    layer.update_probability(64.0, 64)
    assert p_of(layer) == 1.0
    low = augment.AdaptiveAugment(p=0.05, target=0.6, speed_kimg=0.1, interval=1)
    low.update_probability(-64.0, 64)
    assert p_of(low) == 0.0


def test_controller_without_target_keeps_p():
    layer = augment.AdaptiveAugment(p=0.3, target=None, interval=1)
    for _ in range(3):
        layer.update_probability(64.0, 64)
    assert abs(p_of(layer) - 0.3) < 1e-7



def logits_with(positive, count=64):
    """(count, 1) logits of which a fraction `positive` is above zero."""
    above = int(round(positive * count))
    return np.where(np.arange(count) < above, 2.5, -1.5).astype("float32")[:, None]


def state_of(layer):
    return [numpy(v) for v in layer.non_trainable_variables]


def assert_states_close(values, expected):
    assert len(values) == len(expected)
    for value, reference in zip(values, expected):
        np.testing.assert_allclose(numpy(value), reference, atol=1e-6)


@pytest.mark.parametrize("shape", [(64,), (64, 1)])
def test_update_equals_update_probability_with_the_sums(shape):
    layer = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=10, interval=4, seed=3)
    sums = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=10, interval=4, seed=3)
    for positive in (0.875, 0.875, 0.125, 0.875, 0.25):
        returned = layer.update(np.reshape(logits_with(positive), shape))
        sums.update_probability((2 * positive - 1) * 64, 64)
        assert_states_close(state_of(layer), state_of(sums))
        assert float(numpy(returned)) == p_of(layer)
    # r_t over the first interval is (0.75 + 0.75 - 0.75 + 0.75) / 4 < 0.6.
    assert abs(p_of(layer) - (0.5 - 64 * 4 / 10_000)) < 1e-6
    assert float(numpy(layer.accumulated_images)) == 64


@pytest.mark.parametrize("positive,direction", [(0.95, 1), (0.3, -1)])
def test_update_moves_p_towards_the_target(positive, direction):
    layer = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1, interval=1)
    history = [p_of(layer)]
    for _ in range(3):
        layer.update(logits_with(positive))
        history.append(p_of(layer))
    assert np.all(direction * np.diff(history) > 0), history


@pytest.mark.parametrize("shape", [(), (8, 2), (8, 1, 1)])
def test_update_rejects_logits_that_are_not_one_per_image(shape):
    layer = augment.AdaptiveAugment(target=0.6)
    with pytest.raises(ValueError, match=r"shape \(N,\) or \(N, 1\)"):
        layer.update(np.zeros(shape, "float32"))


def test_stateless_update_equals_update_and_leaves_the_variables_alone():
    stateless = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1, interval=2, seed=3)
    stateful = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1, interval=2, seed=3)
    before = state_of(stateless)
    values = [v.value for v in stateless.non_trainable_variables]
    for positive in (0.9, 0.95, 0.1, 0.2):
        values = stateless.stateless_update(values, logits_with(positive))
        stateful.update(logits_with(positive))
        assert_states_close(values, state_of(stateful))
    assert abs(float(numpy(values[0])) - (0.5 + 0.128 - 0.128)) < 1e-6
    for value, unchanged in zip(before, state_of(stateless)):
        np.testing.assert_array_equal(value, unchanged)


def test_stateless_update_continues_from_stateless_call():
    layer = augment.AdaptiveAugment(p=0.5, target=0.6, speed_kimg=1, interval=1, seed=3)
    values = [v.value for v in layer.non_trainable_variables]
    _, values = layer.stateless_call([], values, images(), training=True)
    values = layer.stateless_update(values, logits_with(1.0))
    assert abs(float(numpy(values[0])) - 0.564) < 1e-6
    assert p_of(layer) == 0.5


def test_stateless_update_rejects_the_wrong_number_of_values():
    layer = augment.AdaptiveAugment(target=0.6)
    with pytest.raises(ValueError, match=r"expects \d+ values.*got 1"):
        layer.stateless_update([layer.p.value], logits_with(0.5))
