"""The contract every keras_dagan augmentation layer follows."""

import math
import numbers

import keras
from keras import ops

from keras_dagan.augment.compiled import XlaFunction, compiles_separately

_DATA_FORMATS = ("channels_last", "channels_first")


def _standardize_data_format(data_format):
    if data_format is None:
        return keras.config.image_data_format()
    if data_format not in _DATA_FORMATS:
        raise ValueError(
            f"data_format must be one of {_DATA_FORMATS} or None (the Keras "
            f"default, {keras.config.image_data_format()!r}); got "
            f"{data_format!r}."
        )
    return data_format


def standardize_value_range(value_range):
    """Checks a `(low, high)` pixel range and returns it as two floats.

    Raises:
        ValueError: unless `value_range` is a pair of real numbers with
            low < high, naming the bad value.
    """
    if (
        not isinstance(value_range, (tuple, list))
        or len(value_range) != 2
        or any(
            isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v)
            for v in value_range
        )
    ):
        raise ValueError(
            "value_range must be a pair (low, high) of finite numbers, the "
            "range of the pixel values, such as (-1, 1) (the GAN convention), "
            f"(0, 1) or (0, 255); got {value_range!r}."
        )
    low, high = (float(v) for v in value_range)
    if not low < high:
        raise ValueError(
            f"value_range (low, high) needs low < high; got {value_range!r}. "
            "Write the darkest value first, e.g. (0, 1)."
        )
    return low, high


def validate_ratio(name, value):
    """Raises a ValueError unless `value` is a number in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number in (0, 1]; got {value!r}.")
    if not 0.0 < value <= 1.0:
        raise ValueError(
            f"{name} must be in (0, 1] (a fraction of the image size); got "
            f"{value}."
        )


def scaled_size(size, ratio):
    """A fraction of an axis in whole pixels, as DiffAugment rounds it:
    int(size * ratio + 0.5)."""
    return int(size * ratio + 0.5)


def derive_seed(seed, index):
    """A distinct integer seed for draw `index` made from an explicit seed.

    Deterministic across processes (hashes of int tuples are not salted).
    """
    return hash((seed, index)) & 0x7FFFFFFF


def uniform_integers(u, low, high):
    """Maps u ~ U[0, 1) to integers uniform over [low, high], inclusive."""
    return ops.cast(ops.floor(u * (high - low + 1)), "int32") + low


@keras.saving.register_keras_serializable(package="keras_dagan")
class BaseAugmentation(keras.layers.Layer):
    """Base class of differentiable, per-sample random augmentation layers.

    It follows the contract of Keras 3's image preprocessing layers, using
    public Keras API only, so every subclass runs unchanged on the
    TensorFlow, JAX and torch backends:

    - `get_random_transformation(images, training=True, seed=None)` draws the
      per-sample parameters of one call and returns them as a dict of tensors
      whose first axis is the batch;
    - `transform_images(images, transformation, training=True)` applies such
      a dict, deterministically and differentiably with respect to `images`;
    - `call` does both, so every call draws fresh parameters;
    - `apply_transformation(images, transformation, training=True)` is
      `transform_images` as `call` runs it: on TensorFlow outside an XLA
      context, compiled with XLA by itself (see `jit_compile`).

    Keeping the two apart lets a GAN draw once and apply the same
    transformation to several tensors, and lets tests fix the parameters.
    `transform_images` must compile under XLA (gathers, masks and matrix
    ops, no ImageProjectiveTransform): on TensorFlow, `call` compiles it
    with XLA even in a graph-mode step (see `jit_compile`).
    Both methods take a batch (rank 4); `call` also accepts one image
    (rank 3). Nothing is clipped: clipping would kill gradients. Inputs keep
    their floating dtype (float16 and bfloat16 included); integer images are
    rejected because the layers are meant to sit between float tensors of a
    model.

    Pixel values: every layer works on images whose values span
    `value_range`, (-1, 1) by default (the GAN convention). It behaves
    exactly as if the images were mapped affinely to [-1, 1], transformed
    there and mapped back: fills are the mid-value of the range, and
    additive shifts (brightness, noise) scale with its width. Subclasses
    get `self.value_range` and the helpers `self.mid_value` and
    `self.half_range`.

    Args:
        value_range: (low, high), the range of the input's pixel values,
            such as (-1, 1) (the default), (0, 1) or (0, 255). Values
            outside it are not clipped.
        seed: Integer seed of the layer's random stream, for reproducible
            draws. None draws a random seed.
        data_format: "channels_last" (N, H, W, C) or "channels_first"
            (N, C, H, W). Defaults to `keras.config.image_data_format()`.
        jit_compile: On the TensorFlow backend, whether `call` and
            `apply_transformation` run `transform_images` compiled with XLA
            (cached per input signature) when called outside an XLA
            context, in graph mode or eagerly; inside a
            `jit_compile=True` function it compiles with that function.
            False runs it op by op. No effect on other backends.
        **kwargs: Base `keras.layers.Layer` arguments such as `name`.

    Example:

    ```python
    class RandomNegate(BaseAugmentation):
        def get_random_transformation(self, images, training=True, seed=None):
            (u,) = self.draw_uniform(images, 1, seed)
            return {"negate": u < 0.5}

        def transform_images(self, images, transformation, training=True):
            if not training:
                return images
            negate = ops.reshape(transformation["negate"], (-1, 1, 1, 1))
            return ops.where(negate, -images, images)
    ```
    """

    def __init__(self, value_range=(-1, 1), seed=None, data_format=None, jit_compile=True,
                 **kwargs):
        # autocast=False: an augmentation must not change its input's dtype.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.value_range = standardize_value_range(value_range)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer or None; got {seed!r}.")
        if not isinstance(jit_compile, bool):
            raise ValueError(
                "jit_compile must be True (on TensorFlow, compile "
                "transform_images with XLA where no enclosing function is) or "
                f"False (run it as called); got {jit_compile!r}."
            )
        self.seed = seed
        self.data_format = _standardize_data_format(data_format)
        self.jit_compile = jit_compile
        self.generator = keras.random.SeedGenerator(seed)
        self._xla_transform_images = XlaFunction(self.transform_images)
        self.built = True

    @property
    def mid_value(self):
        """The middle of `value_range`, which [-1, 1]'s 0 maps to: the fill."""
        low, high = self.value_range
        return (low + high) / 2

    @property
    def half_range(self):
        """Half the width of `value_range`: how much an additive shift of 1
        in [-1, 1] moves a pixel here."""
        low, high = self.value_range
        return (high - low) / 2

    @property
    def channel_axis(self):
        """Channel axis of a batch in this layer's data format."""
        return 1 if self.data_format == "channels_first" else -1

    def image_size(self, images):
        """Static (height, width) of a batch, which the layers require."""
        shape = images.shape
        if self.data_format == "channels_first":
            height, width = shape[2], shape[3]
        else:
            height, width = shape[1], shape[2]
        if height is None or width is None:
            raise ValueError(
                f"{type(self).__name__} needs a static image height and width; "
                f"got images of shape {tuple(shape)}. Resize or batch images "
                "to a fixed size first."
            )
        return height, width

    def draw_uniform(self, images, count, seed=None):
        """`count` independent (N,) float32 draws of U[0, 1), N the batch size.

        All of a layer's randomness comes from here. `seed` None draws from
        the layer's stream, which advances on every draw; a
        `keras.random.SeedGenerator` draws from that stream; an integer gives
        the same draws every time (one derived seed per draw, so the draws
        stay independent of each other).
        """
        batch_size = ops.shape(images)[0]
        seeds = self._draw_seeds(seed, range(count))
        # Separate (N,) draws: under XLA they beat slicing one (N, count) draw.
        return [
            keras.random.uniform((batch_size,), seed=s, dtype="float32")
            for s in seeds
        ]

    def _draw_seeds(self, seed, indices):
        """One seed per draw: the layer's or the given stream, or integers
        derived from `seed` and each of `indices` (uniform draws use 0, 1, ...,
        normal draws -1, -2, ..., so the two never share a seed)."""
        if seed is None:
            seed = self.generator
        if isinstance(seed, keras.random.SeedGenerator):
            return [seed] * len(indices)
        return [derive_seed(seed, index) for index in indices]

    def draw_normal(self, images, count, seed=None, sample_shape=()):
        """`count` independent float32 draws of N(0, 1), each of shape
        (N,) + `sample_shape`, N the batch size.

        Seeds work as in `draw_uniform`; an integer seed derives different
        seeds from those of `draw_uniform`, so uniform and normal draws made
        with one integer seed are independent of each other.
        """
        batch_size = ops.shape(images)[0]
        seeds = self._draw_seeds(seed, [-1 - index for index in range(count)])
        shape = (batch_size,) + tuple(sample_shape)
        return [keras.random.normal(shape, seed=s, dtype="float32") for s in seeds]

    def get_random_transformation(self, images, training=True, seed=None):
        raise NotImplementedError(
            f"{type(self).__name__} must implement get_random_transformation."
        )

    def transform_images(self, images, transformation, training=True):
        raise NotImplementedError(
            f"{type(self).__name__} must implement transform_images."
        )

    def apply_transformation(self, images, transformation, training=True):
        """Applies `transformation` to `images` as `call` does.

        That is `transform_images`, compiled with XLA by itself when this
        runs on the TensorFlow backend outside an XLA context (eager or
        graph mode) and `jit_compile` is True: one compilation per input
        signature, reused by every later call. Anywhere else, including
        inside a `jit_compile=True` function, it is `transform_images`
        itself. Use it to apply draws of `get_random_transformation` as fast
        as `call` does.

        Args:
            images: Float batch, rank 4.
            transformation: The output of `get_random_transformation` for
                `images`: a dict of tensors.
            training: False returns `images` unchanged.

        Returns:
            The transformed batch, same shape and dtype.
        """
        if not training:
            return images
        if self.jit_compile and compiles_separately():
            return self._xla_transform_images(images, transformation)
        return self.transform_images(images, transformation, training=training)

    def call(self, images, training=True):
        images = self._validate_images(images)
        if not training:
            return images
        unbatched = len(images.shape) == 3
        if unbatched:
            images = ops.expand_dims(images, 0)
        transformation = self.get_random_transformation(images, training=training)
        outputs = self.apply_transformation(images, transformation, training=training)
        if unbatched:
            outputs = ops.squeeze(outputs, 0)
        return outputs

    def _validate_images(self, images):
        images = ops.convert_to_tensor(images)
        rank = len(images.shape)
        if rank not in (3, 4):
            layout = "(C, H, W)" if self.data_format == "channels_first" else "(H, W, C)"
            raise ValueError(
                f"{type(self).__name__} expects one image of rank 3 {layout} or "
                f"a batch of rank 4; got rank {rank} with shape "
                f"{tuple(images.shape)}. Add or remove the batch axis."
            )
        dtype = keras.backend.standardize_dtype(images.dtype)
        if "float" not in dtype:
            raise ValueError(
                f"{type(self).__name__} expects floating-point images; got "
                f"dtype {dtype}. Convert them first, for example "
                "`ops.cast(images, 'float32') / 127.5 - 1`."
            )
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "value_range": self.value_range,
                "seed": self.seed,
                "data_format": self.data_format,
                "jit_compile": self.jit_compile,
            }
        )
        return config
