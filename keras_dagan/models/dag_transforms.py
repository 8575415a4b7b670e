"""The image transformations T_1..T_K of DAG, one discriminator head each.

Tran et al., "On Data Augmentation for GAN Training" (2020) give the
discriminator one head per transformation. This module holds the
deterministic transformations (rotations, flips, corner crops), the named
groups the paper's experiments combine, and their parsing. The random
"translation" and "cutout" heads use DiffAugment's layers from
`keras_dagan.augment` directly (see `keras_dagan.models.DAG`).

Everything is public `keras.ops`, compiles under XLA and is differentiable
with respect to the images.
"""

import functools

from keras import ops

from keras_dagan.augment.base import scaled_size

# Side of a corner crop as a fraction of the image side, as in the paper.
CROP_FRACTION = 0.75

# Group name -> the transformations (heads) it stands for, in head order.
TRANSFORM_GROUPS = {
    "rotation": ("rotate90", "rotate180", "rotate270"),
    "flipping": ("flip_left_right", "flip_up_down"),
    "cropping": (
        "crop_top_left",
        "crop_top_right",
        "crop_bottom_left",
        "crop_bottom_right",
    ),
    "translation": ("translation",),
    "cutout": ("cutout",),
}

# The transformations that draw per-sample parameters (DiffAugment's ops).
RANDOM_TRANSFORMS = ("translation", "cutout")

TRANSFORM_NAMES = tuple(
    name for group in TRANSFORM_GROUPS.values() for name in group
)


def _spatial_axes(data_format):
    return (2, 3) if data_format == "channels_first" else (1, 2)


def rotate(images, quarter_turns, data_format="channels_last"):
    """Rotates every image by `quarter_turns` * 90 degrees counterclockwise.

    The rotation of `numpy.rot90` over the height and width axes. Images
    must be square so that the batch keeps its shape.

    Args:
        images: Float batch, rank 4.
        quarter_turns: Integer number of counterclockwise quarter turns.
        data_format: "channels_last" or "channels_first".

    Returns:
        The rotated batch, same shape and dtype.

    Example:

    ```python
    images = keras.random.uniform((4, 32, 32, 3), -1, 1)
    upside_down = rotate(images, 2)
    ```
    """
    height_axis, width_axis = _spatial_axes(data_format)
    height, width = images.shape[height_axis], images.shape[width_axis]
    if height != width:
        raise ValueError(
            f"Rotation by quarter turns needs square images; got height "
            f"{height} and width {width}. Resize or crop the images to a "
            "square, or leave rotation out of the DAG transforms."
        )
    return ops.rot90(images, k=quarter_turns, axes=(height_axis, width_axis))


def flip(images, direction, data_format="channels_last"):
    """Mirrors every image left-right or up-down.

    Args:
        images: Float batch, rank 4.
        direction: "left_right" (reverses the width axis) or "up_down"
            (reverses the height axis).
        data_format: "channels_last" or "channels_first".

    Returns:
        The flipped batch, same shape and dtype.

    Example:

    ```python
    mirrored = flip(keras.random.uniform((4, 32, 32, 3)), "left_right")
    ```
    """
    height_axis, width_axis = _spatial_axes(data_format)
    axes = {"left_right": width_axis, "up_down": height_axis}
    if direction not in axes:
        raise ValueError(
            f"direction must be one of {tuple(axes)}; got {direction!r}."
        )
    return ops.flip(images, axis=axes[direction])


def crop_corner(images, corner, data_format="channels_last"):
    """Crops a corner of every image and resizes it back to full size.

    The crop spans `int(size * 0.75 + 0.5)` pixels along each axis
    (`CROP_FRACTION`), flush with the given corner; bilinear interpolation
    with half-pixel centres (`keras.ops.image.resize`, no antialiasing)
    brings it back to the input size.

    Args:
        images: Float batch, rank 4.
        corner: "top_left", "top_right", "bottom_left" or "bottom_right".
        data_format: "channels_last" or "channels_first".

    Returns:
        The cropped and resized batch, same shape and dtype.

    Example:

    ```python
    images = keras.random.uniform((4, 32, 32, 3))
    zoomed = crop_corner(images, "top_left")  # rows and columns 0..23, resized
    ```
    """
    corners = ("top_left", "top_right", "bottom_left", "bottom_right")
    if corner not in corners:
        raise ValueError(f"corner must be one of {corners}; got {corner!r}.")
    height_axis, width_axis = _spatial_axes(data_format)
    height, width = images.shape[height_axis], images.shape[width_axis]
    crop_height = scaled_size(height, CROP_FRACTION)
    crop_width = scaled_size(width, CROP_FRACTION)
    top = 0 if corner.startswith("top") else height - crop_height
    left = 0 if corner.endswith("left") else width - crop_width
    rows = slice(top, top + crop_height)
    cols = slice(left, left + crop_width)
    if data_format == "channels_first":
        cropped = images[:, :, rows, cols]
    else:
        cropped = images[:, rows, cols, :]
    return ops.image.resize(
        cropped,
        (height, width),
        interpolation="bilinear",
        antialias=False,
        data_format=data_format,
    )


# Name -> function(images, data_format=...) of the deterministic transforms.
DETERMINISTIC_TRANSFORMS = {
    "rotate90": functools.partial(rotate, quarter_turns=1),
    "rotate180": functools.partial(rotate, quarter_turns=2),
    "rotate270": functools.partial(rotate, quarter_turns=3),
    "flip_left_right": functools.partial(flip, direction="left_right"),
    "flip_up_down": functools.partial(flip, direction="up_down"),
    "crop_top_left": functools.partial(crop_corner, corner="top_left"),
    "crop_top_right": functools.partial(crop_corner, corner="top_right"),
    "crop_bottom_left": functools.partial(crop_corner, corner="bottom_left"),
    "crop_bottom_right": functools.partial(crop_corner, corner="bottom_right"),
}


def parse_transforms(transforms):
    """Expands DAG transform names into the tuple of transformations, one per
    head after the identity head.

    Each name is a group of `TRANSFORM_GROUPS` ("rotation" stands for
    rotate90, rotate180 and rotate270) or one of its members
    (`TRANSFORM_NAMES`), so `["flipping", "rotate90"]` is the reference
    code's "fliprot" set.

    Args:
        transforms: Comma-separated string ("rotation,cropping") or list of
            names.

    Returns:
        A non-empty tuple of transformation names, in the given order.

    Raises:
        ValueError: for an unknown name, a transformation named twice
            (directly or through a group), or no transformation at all.

    Example:

    ```python
    parse_transforms("rotation,cutout")
    # ("rotate90", "rotate180", "rotate270", "cutout")
    ```
    """
    if isinstance(transforms, str):
        names = [name.strip() for name in transforms.split(",")]
    elif isinstance(transforms, (list, tuple)):
        names = [str(name).strip() for name in transforms]
    else:
        raise ValueError(
            "transforms must be a comma-separated string such as "
            f"'rotation,cropping' or a list of names; got {transforms!r}."
        )
    names = [name for name in names if name]
    unknown = [
        name
        for name in names
        if name not in TRANSFORM_GROUPS and name not in TRANSFORM_NAMES
    ]
    if unknown:
        raise ValueError(
            f"Unknown DAG transform name(s) {unknown} in {transforms!r}; valid "
            f"groups are {', '.join(TRANSFORM_GROUPS)} and valid single "
            f"transforms are {', '.join(TRANSFORM_NAMES)}."
        )
    expanded = []
    for name in names:
        expanded.extend(TRANSFORM_GROUPS.get(name, (name,)))
    repeated = sorted({name for name in expanded if expanded.count(name) > 1})
    if repeated:
        raise ValueError(
            f"DAG transforms {transforms!r} name {repeated} more than once "
            "(directly or through a group); each transformation gets one "
            "head, so name it once."
        )
    if not expanded:
        raise ValueError(
            f"DAG needs at least one transform; got {transforms!r}. Pass "
            "names such as 'rotation,cropping', or dag=None to train "
            "without DAG."
        )
    return tuple(expanded)
