"""DiffAugment's colour transforms: brightness, saturation and contrast.

All three are per-sample affine maps of the pixel values, and their
composition in DiffAugment's order (brightness, then saturation, then
contrast) is again one affine map:

    contrast(saturation(brightness(x)))
        = c*s*x + c*(1 - s)*mean_C(x) + (1 - c)*mean_HWC(x) + b

because saturation keeps each pixel's channel mean and so the image mean.
`adjust_color` applies that closed form in one pass; each layer here fixes
the factors it does not draw to the identity.
"""

import keras
from keras import ops

from keras_dagan.augment.base import BaseAugmentation


def adjust_color(images, brightness=None, saturation=None, contrast=None,
                 channel_axis=-1):
    """Applies per-sample brightness, saturation and contrast, in that order.

    Args:
        images: Float batch, rank 4.
        brightness: None or (N,) additive shifts b: x + b.
        saturation: None or (N,) factors s: (x - m) * s + m with m the
            per-pixel mean over channels. The identity for one channel.
        contrast: None or (N,) factors c: (x - m) * c + m with m the
            per-image mean over height, width and channels.
        channel_axis: Channel axis of `images`.

    Returns:
        The adjusted batch, same shape and dtype. Nothing is clipped.
    """
    images = ops.convert_to_tensor(images)
    dtype = images.dtype

    def per_sample(factor):
        return ops.reshape(ops.cast(factor, dtype), (-1, 1, 1, 1))

    def mean(axis):
        # Reduce in float32: a float16 sum over a large image overflows.
        return ops.cast(
            ops.mean(ops.cast(images, "float32"), axis=axis, keepdims=True), dtype
        )

    # One channel is its own mean: skipping saturation keeps grayscale exact.
    if images.shape[channel_axis] == 1:
        saturation = None
    s = None if saturation is None else per_sample(saturation)
    c = None if contrast is None else per_sample(contrast)
    # The closed form in the module docstring, with three full-size passes.
    if s is None:
        scale = c
    else:
        scale = s if c is None else c * s
    outputs = images if scale is None else images * scale
    if s is not None:
        channel_weight = 1 - s if c is None else c - c * s
        outputs = outputs + channel_weight * mean(channel_axis)
    offset = None if c is None else (1 - c) * mean((1, 2, 3))
    if brightness is not None:
        b = per_sample(brightness)
        offset = b if offset is None else offset + b
    if offset is not None:
        outputs = outputs + offset
    return outputs


# How each factor is made from u ~ U[0, 1), as in DiffAugment.
_FACTOR_FROM_UNIFORM = {
    "brightness": lambda u: u - 0.5,
    "saturation": lambda u: 2.0 * u,
    "contrast": lambda u: u + 0.5,
}


class _ColorAugmentation(BaseAugmentation):
    """Draws the factors named in `factors` and applies them with
    `adjust_color`; the public layers below differ only in `factors`."""

    factors = ()

    def get_random_transformation(self, images, training=True, seed=None):
        draws = self.draw_uniform(images, len(self.factors), seed)
        return {
            name: _FACTOR_FROM_UNIFORM[name](u) for name, u in zip(self.factors, draws)
        }

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        factors = dict(transformation)
        # Saturation and contrast pivot on means, which follow any affine
        # change of range; only the additive shift scales with it.
        if "brightness" in factors and self.half_range != 1:
            factors["brightness"] = factors["brightness"] * self.half_range
        return adjust_color(images, channel_axis=self.channel_axis, **factors)


@keras.saving.register_keras_serializable(package="keras_dagan")
class RandomBrightness(_ColorAugmentation):
    """Adds a random per-sample constant: x + (u - 0.5) * w, u ~ U[0, 1).

    DiffAugment's brightness. w is half the width of `value_range`: 1 for
    images in [-1, 1], where this is the reference's x + (u - 0.5).
    Differentiable, no clipping.

    Args:
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
    images = keras.random.uniform((4, 32, 32, 3), 0, 1)
    augmented = RandomBrightness(value_range=(0, 1), seed=0)(images)
    ```
    """

    factors = ("brightness",)


@keras.saving.register_keras_serializable(package="keras_dagan")
class RandomSaturation(_ColorAugmentation):
    """Scales each pixel's deviation from its channel mean by 2u, u ~ U[0, 1).

    DiffAugment's saturation: (x - m) * 2u + m, m the per-pixel mean over
    channels, so 0 gives grey and 2 doubles the saturation. Single-channel
    (grayscale) images come back unchanged, since x = m there.

    Args:
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
    augmented = RandomSaturation(seed=0)(images)  # same shape and dtype
    ```
    """

    factors = ("saturation",)


@keras.saving.register_keras_serializable(package="keras_dagan")
class RandomContrast(_ColorAugmentation):
    """Scales deviations from the image mean by u + 0.5, u ~ U[0, 1).

    DiffAugment's contrast: (x - m) * (u + 0.5) + m, m the per-image mean
    over height, width and channels.

    Args:
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
    augmented = RandomContrast(seed=0)(images)  # same shape and dtype
    ```
    """

    factors = ("contrast",)


@keras.saving.register_keras_serializable(package="keras_dagan")
class RandomColor(_ColorAugmentation):
    """DiffAugment's "color" group: brightness, saturation, contrast in order.

    Equal to `RandomBrightness`, `RandomSaturation` and `RandomContrast`
    applied one after the other, with independent draws, but computed in one
    fused pass (see `adjust_color`).

    Args:
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
    augmented = RandomColor(seed=0)(images)  # same shape and dtype
    ```
    """

    factors = ("brightness", "saturation", "contrast")
