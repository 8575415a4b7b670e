"""Tests of the DAG transformations on test patterns."""

import numpy as np
import pytest
import tensorflow as tf

from keras_dagan.models.dag_transforms import (
    DETERMINISTIC_TRANSFORMS,
    TRANSFORM_GROUPS,
    crop_corner,
    flip,
    parse_transforms,
    rotate,
)


def pattern(size=32, channels=3, batch=2):
    """Every pixel of every image and channel holds a distinct value."""
    count = batch * size * size * channels
    return np.arange(count, dtype="float32").reshape(batch, size, size, channels)


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_rotation_turns_counterclockwise(quarter_turns):
    images = pattern()
    expected = np.rot90(images, quarter_turns, axes=(1, 2))
    np.testing.assert_array_equal(rotate(images, quarter_turns), expected)
    channels_first = images.transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(
        rotate(channels_first, quarter_turns, "channels_first"),
        expected.transpose(0, 3, 1, 2),
    )


def test_rotate90_moves_the_top_right_corner_to_the_top_left():
    images = pattern()
    rotated = np.asarray(rotate(images, 1))
    np.testing.assert_array_equal(rotated[:, 0, 0], images[:, 0, -1])
    np.testing.assert_array_equal(rotated[:, -1, 0], images[:, 0, 0])


def test_flips_reverse_one_axis():
    images = pattern()
    np.testing.assert_array_equal(flip(images, "left_right"), images[:, :, ::-1])
    np.testing.assert_array_equal(flip(images, "up_down"), images[:, ::-1])
    np.testing.assert_array_equal(
        flip(images.transpose(0, 3, 1, 2), "left_right", "channels_first"),
        images[:, :, ::-1].transpose(0, 3, 1, 2),
    )


# (corner, first row, first column) of the 24x24 crop of a 32x32 image.
CORNERS = [
    ("top_left", 0, 0),
    ("top_right", 0, 8),
    ("bottom_left", 8, 0),
    ("bottom_right", 8, 8),
]


@pytest.mark.parametrize("corner,top,left", CORNERS)
def test_crop_takes_three_quarters_at_its_corner(corner, top, left):
    images = pattern()
    cropped = np.asarray(crop_corner(images, corner))
    # Half-pixel bilinear upscaling maps output corners exactly onto the
    # crop's corner pixels (the source index clamps at both ends).
    np.testing.assert_array_equal(cropped[:, 0, 0], images[:, top, left])
    np.testing.assert_array_equal(cropped[:, -1, -1], images[:, top + 23, left + 23])
    reference = tf.image.resize(images[:, top : top + 24, left : left + 24], (32, 32))
    np.testing.assert_allclose(cropped, reference, rtol=1e-6)


def test_crop_interpolates_bilinearly_with_half_pixel_centres():
    # Each pixel holds its column index: the crop of columns 8..31 resized
    # to 32 columns holds 8 + clip((j + 0.5) * 24 / 32 - 0.5, 0, 23).
    columns = np.tile(np.arange(32, dtype="float32"), (1, 32, 1))[..., None]
    cropped = np.asarray(crop_corner(columns, "top_right"))
    j = np.arange(32)
    expected = 8 + np.clip((j + 0.5) * 0.75 - 0.5, 0, 23)
    np.testing.assert_allclose(cropped[0, 0, :, 0], expected, atol=1e-5)
    np.testing.assert_allclose(cropped[0, 5, :, 0], expected, atol=1e-5)


def test_crop_channels_first_matches_channels_last():
    images = pattern()
    np.testing.assert_allclose(
        crop_corner(images.transpose(0, 3, 1, 2), "bottom_left", "channels_first"),
        np.asarray(crop_corner(images, "bottom_left")).transpose(0, 3, 1, 2),
        rtol=1e-6,
    )


@pytest.mark.parametrize("name", sorted(DETERMINISTIC_TRANSFORMS))
def test_transforms_compile_under_xla_and_pass_gradients(name):
    transform = DETERMINISTIC_TRANSFORMS[name]
    images = tf.constant(pattern(size=8) / 100.0)

    @tf.function(jit_compile=True)
    def forward_and_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(transform(x))
        return transform(x), tape.gradient(total, x)

    outputs, gradient = forward_and_gradient(images)
    np.testing.assert_allclose(outputs, transform(images), rtol=1e-6)
    # Each output pixel is a convex combination of input pixels, so the
    # gradient of the sum spreads exactly one unit per output pixel.
    np.testing.assert_allclose(tf.reduce_sum(gradient), images.shape.num_elements(), rtol=1e-5)
    if name == "crop_top_left":
        # Rows and columns 6 and 7 (past int(8 * 0.75 + 0.5) = 6) are cut off.
        np.testing.assert_array_equal(gradient[:, 6:], 0)
        np.testing.assert_array_equal(gradient[:, :, 6:], 0)
        assert np.all(gradient[:, :6, :6] > 0)


def test_rotation_rejects_non_square_images():
    with pytest.raises(ValueError, match="square"):
        rotate(np.zeros((1, 8, 6, 3), "float32"), 1)


@pytest.mark.parametrize(
    "transforms,expected",
    [
        ("rotation,cutout", ("rotate90", "rotate180", "rotate270", "cutout")),
        (["flipping", "rotate90"], ("flip_left_right", "flip_up_down", "rotate90")),
        (("cropping",), TRANSFORM_GROUPS["cropping"]),
        (" translation , crop_top_left ", ("translation", "crop_top_left")),
    ],
)
def test_groups_expand_in_order(transforms, expected):
    assert parse_transforms(transforms) == expected


@pytest.mark.parametrize(
    "transforms,match",
    [
        ("rotation,zoom", r"Unknown DAG transform name\(s\) \['zoom'\].*valid groups"),
        ("rotation,rotate180", r"\['rotate180'\] more than once"),
        ("cutout,cutout", r"\['cutout'\] more than once"),
        ("", "at least one transform"),
        ([], "at least one transform"),
        (42, "comma-separated string"),
    ],
)
def test_bad_transform_names_are_rejected(transforms, match):
    with pytest.raises(ValueError, match=match):
        parse_transforms(transforms)


def test_bad_directions_and_corners_are_rejected():
    with pytest.raises(ValueError, match="'sideways'"):
        flip(pattern(), "sideways")
    with pytest.raises(ValueError, match="'centre'"):
        crop_corner(pattern(), "centre")
