"""DiffAugment's random integer translation, filled with mid-grey."""

import keras
from keras import ops

from keras_dagan.augment.base import (
    BaseAugmentation,
    scaled_size,
    uniform_integers,
    validate_ratio,
)


def translate(images, shift_height, shift_width, data_format="channels_last",
              fill_value=0.0):
    """Shifts each image by whole pixels; uncovered pixels get `fill_value`.

    Output pixel (i, j) of image n is input pixel (i + shift_height[n],
    j + shift_width[n]), or `fill_value` where that lies outside the image. One flat
    gather over all pixels plus a mask: cheaper than a gather_nd with a full
    index grid, XLA-compatible, and its gradient is a scatter-add.

    Args:
        images: Float batch, rank 4.
        shift_height: (N,) int32 shifts along the height axis.
        shift_width: (N,) int32 shifts along the width axis.
        data_format: "channels_last" or "channels_first".
        fill_value: Value of the uncovered pixels: 0 is mid-grey for images
            in [-1, 1].

    Returns:
        The translated batch, same shape and dtype.
    """
    images = ops.convert_to_tensor(images)
    if data_format == "channels_first":
        images = ops.transpose(images, (0, 2, 3, 1))
    _, height, width, channels = images.shape
    batch_size = ops.shape(images)[0]
    rows = ops.arange(height, dtype="int32")[None, :] + shift_height[:, None]
    cols = ops.arange(width, dtype="int32")[None, :] + shift_width[:, None]
    inside = ops.logical_and(
        ops.logical_and(rows >= 0, rows < height)[:, :, None],
        ops.logical_and(cols >= 0, cols < width)[:, None, :],
    )
    batch_offset = ops.arange(batch_size, dtype="int32")[:, None, None] * height
    source = (batch_offset + ops.clip(rows, 0, height - 1)[:, :, None]) * width
    source = source + ops.clip(cols, 0, width - 1)[:, None, :]
    pixels = ops.take(
        ops.reshape(images, (-1, channels)), ops.reshape(source, (-1,)), axis=0
    )
    outputs = ops.reshape(pixels, (-1, height, width, channels))
    inside = ops.cast(inside, images.dtype)[..., None]
    outputs = outputs * inside
    if fill_value != 0:
        outputs = outputs + (1 - inside) * fill_value
    if data_format == "channels_first":
        outputs = ops.transpose(outputs, (0, 3, 1, 2))
    return outputs


@keras.saving.register_keras_serializable(package="keras_dagan")
class RandomTranslation(BaseAugmentation):
    """Shifts each image by a random whole number of pixels, filling with grey.

    DiffAugment's translation: per sample and independently per axis, a
    shift uniform over the integers [-s, s], s = int(size * ratio + 0.5);
    uncovered pixels get the middle of `value_range` (the reference's 0 for
    images in [-1, 1]). Built from one gather and a mask, so it compiles
    under XLA and passes gradients to the input.

    Args:
        ratio: Largest shift as a fraction of the image size, in (0, 1].
            Defaults to 1/8 as in the paper.
        value_range: (low, high) range of the pixel values; defaults to
            (-1, 1), the GAN convention.
        seed: Integer seed for reproducible draws, or None.
        data_format: "channels_last" or "channels_first"; defaults to
            `keras.config.image_data_format()`.
        jit_compile: On TensorFlow, compile the transformation with XLA
            when called outside XLA (see `BaseAugmentation`); False opts out.
        **kwargs: Base layer arguments such as `name`.

    Example:

    ```python
    images = keras.random.uniform((4, 32, 32, 3), -1, 1)
    shifted = RandomTranslation(ratio=0.125, seed=0)(images)  # shifts in [-4, 4]
    ```
    """

    def __init__(self, ratio=0.125, value_range=(-1, 1), seed=None, data_format=None,
                 jit_compile=True, **kwargs):
        validate_ratio("ratio", ratio)
        super().__init__(value_range=value_range, seed=seed, data_format=data_format,
                         jit_compile=jit_compile, **kwargs)
        self.ratio = ratio

    def get_random_transformation(self, images, training=True, seed=None):
        height, width = self.image_size(images)
        u_height, u_width = self.draw_uniform(images, 2, seed)
        max_height = scaled_size(height, self.ratio)
        max_width = scaled_size(width, self.ratio)
        return {
            "shift_height": uniform_integers(u_height, -max_height, max_height),
            "shift_width": uniform_integers(u_width, -max_width, max_width),
        }

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        return translate(
            images,
            transformation["shift_height"],
            transformation["shift_width"],
            self.data_format,
            fill_value=self.mid_value,
        )

    def get_config(self):
        config = super().get_config()
        config["ratio"] = self.ratio
        return config
