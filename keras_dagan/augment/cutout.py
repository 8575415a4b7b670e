"""DiffAugment's random cutout: one grey square per image."""

import keras
from keras import ops

from keras_dagan.augment.base import (
    BaseAugmentation,
    scaled_size,
    uniform_integers,
    validate_ratio,
)


def cut_out(images, center_height, center_width, size, data_format="channels_last",
            fill_value=0.0):
    """Sets a `size` = (height, width) box per image to `fill_value`, in
    every channel.

    The box of image n covers rows center_height[n] - height // 2 onwards
    (likewise for columns); parts outside the image are ignored. Built from
    two comparisons and a multiply, so it is XLA-friendly.

    Args:
        images: Float batch, rank 4.
        center_height: (N,) int32 centre rows.
        center_width: (N,) int32 centre columns.
        size: (height, width) of the box in pixels.
        data_format: "channels_last" or "channels_first".
        fill_value: Value inside the boxes: 0 is mid-grey for images in
            [-1, 1].

    Returns:
        The batch with the boxes filled, same shape and dtype.
    """
    images = ops.convert_to_tensor(images)
    if data_format == "channels_first":
        height, width = images.shape[2], images.shape[3]
    else:
        height, width = images.shape[1], images.shape[2]
    box_height, box_width = size
    rows = ops.arange(height, dtype="int32")[None, :] - (
        center_height[:, None] - box_height // 2
    )
    cols = ops.arange(width, dtype="int32")[None, :] - (
        center_width[:, None] - box_width // 2
    )
    in_box = ops.logical_and(
        ops.logical_and(rows >= 0, rows < box_height)[:, :, None],
        ops.logical_and(cols >= 0, cols < box_width)[:, None, :],
    )
    keep = ops.cast(ops.logical_not(in_box), images.dtype)
    channel_axis = 1 if data_format == "channels_first" else -1
    keep = ops.expand_dims(keep, channel_axis)
    if fill_value == 0:
        return images * keep
    return images * keep + (1 - keep) * fill_value


@keras.saving.register_keras_serializable(package="keras_dagan")
class RandomCutout(BaseAugmentation):
    """Fills one randomly placed square per image with grey, in every channel.

    DiffAugment's cutout: the square gets the middle of `value_range` (the
    reference's 0 for images in [-1, 1]); its side is int(size * ratio + 0.5) and
    its centre is uniform over the image, so the square may hang over the
    edge. As in the reference, the centre index is drawn from
    [0, size - 1] for an odd side and [0, size] for an even side.

    Args:
        ratio: Side of the square as a fraction of the image size, in
            (0, 1]. Defaults to 1/2 as in the paper.
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
    holed = RandomCutout(ratio=0.5, seed=0)(images)  # one 16x16 hole each
    ```
    """

    def __init__(self, ratio=0.5, value_range=(-1, 1), seed=None, data_format=None,
                 jit_compile=True, **kwargs):
        validate_ratio("ratio", ratio)
        super().__init__(value_range=value_range, seed=seed, data_format=data_format,
                         jit_compile=jit_compile, **kwargs)
        self.ratio = ratio

    def _box(self, images):
        height, width = self.image_size(images)
        return scaled_size(height, self.ratio), scaled_size(width, self.ratio)

    def get_random_transformation(self, images, training=True, seed=None):
        height, width = self.image_size(images)
        box_height, box_width = self._box(images)
        u_height, u_width = self.draw_uniform(images, 2, seed)
        return {
            "center_height": uniform_integers(
                u_height, 0, height - 1 + (1 - box_height % 2)
            ),
            "center_width": uniform_integers(
                u_width, 0, width - 1 + (1 - box_width % 2)
            ),
        }

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        return cut_out(
            images,
            transformation["center_height"],
            transformation["center_width"],
            self._box(images),
            self.data_format,
            fill_value=self.mid_value,
        )

    def get_config(self):
        config = super().get_config()
        config["ratio"] = self.ratio
        return config
