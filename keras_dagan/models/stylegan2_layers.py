"""Building blocks of StyleGAN2, reusable by other architectures.

Keras 3 counterparts of the layers and ops of NVlabs/stylegan2-ada-pytorch
(`training/networks.py`, `torch_utils/ops/upfirdn2d.py`,
`conv2d_resample.py`, `bias_act.py`), with the same arithmetic so that the
reference's weights give the reference's outputs:

- FIR resampling: `upfirdn2d`, `upsample_2d`, `downsample_2d`, `filter_2d`
  and `conv2d_resample`, with the reference's padding, gain and filter
  orientation; the default filter is [1, 3, 3, 1].
- `bias_act`: bias, activation, gain and clamp, with the reference's
  activation gains (leaky ReLU: alpha 0.2, gain sqrt(2)).
- Equalized learning rate: `EqualizedDense` and `EqualizedConv2D` store
  their weights N(0, 1) (divided by `lr_multiplier` for the dense layer) and
  scale them at run time by `lr_multiplier / sqrt(fan_in)`.
- `modulated_conv2d`, `ModulatedConv2D` (the synthesis layer: style affine,
  modulated and demodulated convolution, noise input, bias and activation)
  and `ToRGB`.
- `MinibatchStdDev`, which can keep its statistics within each of several
  stacked views of a batch (DAG).

Everything is channels_last and built from public `keras.ops`, so it runs
on every backend and compiles with XLA. Weights are float32; a layer
computes in the dtype of its input `x` (float16 in the reference's
mixed-precision resolutions), casting its weights to it, while its inputs
are never cast for it (`autocast=False`): the networks of
`keras_dagan.models.stylegan2` choose the precision of every resolution
themselves, as the reference does.

Weights are created with their shapes as the reference stores them up to a
transpose: dense kernels are (in, out) (torch: [out, in]) and convolution
kernels (kh, kw, in, out) (torch: [out, in, kh, kw]). Variables are named
"weight", "bias", ... after the reference's parameters.
"""

import math

import keras
import numpy as np
from keras import ops

DEFAULT_FILTER = (1, 3, 3, 1)

# Reference activation table (torch_utils/ops/bias_act.py): default alpha
# and the gain that keeps unit variance through the activation.
_ACTIVATIONS = {
    "linear": (0.0, 1.0),
    "relu": (0.0, math.sqrt(2)),
    "lrelu": (0.2, math.sqrt(2)),
    "tanh": (0.0, 1.0),
    "sigmoid": (0.0, 1.0),
    "elu": (0.0, 1.0),
    "selu": (0.0, 1.0),
    "softplus": (0.0, 1.0),
    "swish": (0.0, math.sqrt(2)),
}

ACTIVATIONS = tuple(_ACTIVATIONS)


def _validate_activation(activation):
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {ACTIVATIONS}; got {activation!r}."
        )


def activation_gain(activation):
    """The reference's default gain of `activation` (sqrt(2) for "lrelu",
    "relu" and "swish", 1 otherwise)."""
    _validate_activation(activation)
    return _ACTIVATIONS[activation][1]


def _apply_activation(x, activation, alpha):
    if activation == "linear":
        return x
    if activation == "relu":
        return ops.relu(x)
    if activation == "lrelu":
        return ops.leaky_relu(x, negative_slope=alpha)
    if activation == "tanh":
        return ops.tanh(x)
    if activation == "sigmoid":
        return ops.sigmoid(x)
    if activation == "elu":
        return ops.elu(x)
    if activation == "selu":
        return ops.selu(x)
    if activation == "softplus":
        return ops.softplus(x)
    return ops.silu(x)  # swish


def bias_act(x, b=None, activation="linear", alpha=None, gain=None, clamp=None):
    """Adds a bias, applies an activation, scales and clamps, as the
    reference's `bias_act`.

    Computes `clip(act(x + b) * gain, -clamp, clamp)` in the dtype of `x`.

    Args:
        x: Tensor whose last axis holds the channels (channels_last).
        b: None or a bias vector of the channel axis' length; cast to the
            dtype of `x`.
        activation: One of "linear", "relu", "lrelu", "tanh", "sigmoid",
            "elu", "selu", "softplus", "swish".
        alpha: Slope of "lrelu" for negative inputs; None is the reference's
            0.2.
        gain: Output scale; None is the activation's default gain (sqrt(2)
            for "lrelu", "relu" and "swish", 1 otherwise). Pass 1 for none.
        clamp: None, or clamp the output to [-clamp, clamp] (the reference's
            `conv_clamp`, which keeps float16 activations finite).

    Returns:
        A tensor of the shape and dtype of `x`.

    Example:

    ```python
    y = bias_act(keras.random.normal((2, 8, 8, 16)), keras.ops.zeros(16),
                 activation="lrelu", clamp=256)
    ```
    """
    _validate_activation(activation)
    default_alpha, default_gain = _ACTIVATIONS[activation]
    alpha = default_alpha if alpha is None else float(alpha)
    gain = default_gain if gain is None else float(gain)
    if clamp is not None and clamp < 0:
        raise ValueError(f"clamp must be None or >= 0; got {clamp!r}.")
    if b is not None:
        x = x + ops.cast(b, x.dtype)
    x = _apply_activation(x, activation, alpha)
    if gain != 1:
        x = x * ops.cast(gain, x.dtype)
    if clamp is not None:
        x = ops.clip(x, -clamp, clamp)
    return x


def normalize_2nd_moment(x, axis=1, epsilon=1e-8):
    """Scales `x` to unit mean square along `axis` (the reference normalises
    z and the label embedding so)."""
    return x * ops.rsqrt(
        ops.mean(ops.square(x), axis=axis, keepdims=True) + epsilon
    )


# ---------------------------------------------------------------------------
# FIR resampling (upfirdn2d).


def _prepare_filter(f):
    """Returns the normalised taps: a 1D array stands for the separable
    filter outer(f, f) (the reference turns short 1D filters into that 2D
    filter; both normalise to unit DC gain), a 2D array for itself."""
    if f is None:
        f = [1.0]
    f = np.asarray(f, dtype=np.float64)
    if f.ndim not in (1, 2) or f.size == 0:
        raise ValueError(
            "The FIR filter must be a non-empty 1D list of taps (separable) "
            f"or a 2D array; got shape {f.shape}."
        )
    return f / f.sum()


def _filter_size(f):
    f = np.asarray(f)
    return (
        (f.shape[-1], f.shape[0]) if f.ndim == 2 else (f.shape[0], f.shape[0])
    )


def _parse_padding(padding):
    if isinstance(padding, int):
        padding = [padding, padding]
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        padding = [padding[0], padding[0], padding[1], padding[1]]
    if len(padding) != 4:
        raise ValueError(
            "padding must be an int, [x, y] or [x0, x1, y0, y1]; got "
            f"{padding!r}."
        )
    return padding  # padx0, padx1, pady0, pady1


def _static_channels(x):
    channels = x.shape[-1]
    if channels is None:
        raise ValueError(
            "FIR filtering needs a static channel (last) axis; got input "
            f"shape {tuple(x.shape)}."
        )
    return channels


def _depthwise(x, taps, strides):
    """Correlates every channel of `x` with the 2D kernel `taps` (valid)."""
    channels = _static_channels(x)
    kernel = np.tile(taps[:, :, None, None], (1, 1, channels, 1))
    kernel = ops.convert_to_tensor(kernel.astype(np.float32))
    return ops.depthwise_conv(
        x, ops.cast(kernel, x.dtype), strides=strides, padding="valid"
    )


def upfirdn2d(
    x, f=DEFAULT_FILTER, up=1, down=1, padding=0, flip_filter=False, gain=1
):
    """Upsamples, pads, FIR-filters and downsamples a channels_last batch.

    The reference's `upfirdn2d`: (1) insert `up - 1` zeros after every pixel;
    (2) pad with zeros (negative padding crops); (3) convolve every channel
    with the FIR filter `f`, keeping the outputs whose footprint lies inside
    the padded image; (4) keep every `down`-th pixel.

    Args:
        x: Tensor (N, H, W, C) with a static C.
        f: FIR taps: a 1D sequence for the separable filter outer(f, f) or a
            2D array; normalised to unit sum. Default [1, 3, 3, 1].
        up: Integer upsampling factor.
        down: Integer downsampling factor.
        padding: int, [x, y] or [x0, x1, y0, y1], with respect to the
            upsampled image.
        flip_filter: False convolves (the reference's default), True
            correlates; equal for symmetric filters.
        gain: Overall signal scale (`up ** 2` keeps the mean when
            upsampling).

    Returns:
        The filtered tensor, in the dtype of `x`.

    Example:

    ```python
    y = upfirdn2d(keras.ops.ones((1, 8, 8, 3)), up=2, padding=[2, 1, 2, 1],
                  gain=4)  # (1, 16, 16, 3)
    ```
    """
    f = _prepare_filter(f)
    up, down = int(up), int(down)
    if up < 1 or down < 1:
        raise ValueError(f"up and down must be >= 1; got up={up}, down={down}.")
    padx0, padx1, pady0, pady1 = _parse_padding(padding)
    channels = _static_channels(x)
    height, width = x.shape[1], x.shape[2]

    if up > 1:
        # Zero insertion: (N, H, 1, W, 1, C) padded to (N, H, up, W, up, C).
        x = ops.reshape(x, (-1, height, 1, width, 1, channels))
        x = ops.pad(
            x, [[0, 0], [0, 0], [0, up - 1], [0, 0], [0, up - 1], [0, 0]]
        )
        height, width = height * up, width * up
        x = ops.reshape(x, (-1, height, width, channels))

    x = ops.pad(
        x,
        [
            [0, 0],
            [max(pady0, 0), max(pady1, 0)],
            [max(padx0, 0), max(padx1, 0)],
            [0, 0],
        ],
    )
    height += max(pady0, 0) + max(pady1, 0)
    width += max(padx0, 0) + max(padx1, 0)
    if min(padx0, padx1, pady0, pady1) < 0:
        x = x[
            :,
            max(-pady0, 0) : height - max(-pady1, 0),
            max(-padx0, 0) : width - max(-padx1, 0),
            :,
        ]

    # The reference convolves (flips the filter, then correlates).
    if not flip_filter:
        f = f[::-1, ::-1] if f.ndim == 2 else f[::-1]
    if f.ndim == 1 and down > 1:
        # TensorFlow's depthwise convolution wants equal strides: filter
        # with the 2D kernel and its stride at once.
        f = np.outer(f, f)
    if f.ndim == 2:
        x = _depthwise(x, f * gain, strides=down)
    else:
        # Separable: along W, then along H, sqrt(gain) each.
        taps = f * math.sqrt(gain)
        x = _depthwise(x, taps[None, :], strides=1)
        x = _depthwise(x, taps[:, None], strides=1)
    return x


def filter_2d(x, f=DEFAULT_FILTER, padding=0, flip_filter=False, gain=1):
    """FIR-filters a channels_last batch, keeping its size (plus `padding`),
    as the reference's `filter2d`.

    Args:
        x: Tensor (N, H, W, C).
        f: FIR taps (see `upfirdn2d`).
        padding: Extra padding with respect to the output; negative crops.
        flip_filter: False convolves, True correlates.
        gain: Overall signal scale.

    Returns:
        A tensor (N, H, W, C) (for zero `padding`).

    Example:

    ```python
    blurred = filter_2d(keras.random.normal((2, 16, 16, 3)))
    ```
    """
    padx0, padx1, pady0, pady1 = _parse_padding(padding)
    fw, fh = _filter_size(_prepare_filter(f))
    p = [
        padx0 + fw // 2,
        padx1 + (fw - 1) // 2,
        pady0 + fh // 2,
        pady1 + (fh - 1) // 2,
    ]
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain)


def upsample_2d(
    x, f=DEFAULT_FILTER, up=2, padding=0, flip_filter=False, gain=1
):
    """FIR upsampling of a channels_last batch by `up`, as the reference's
    `upsample2d` (output size `up` times the input's, mean preserved).

    Args:
        x: Tensor (N, H, W, C).
        f: FIR taps (see `upfirdn2d`).
        up: Integer upsampling factor.
        padding: Extra padding with respect to the output; negative crops.
        flip_filter: False convolves, True correlates.
        gain: Overall signal scale, on top of the `up ** 2` that keeps the
            mean.

    Returns:
        A tensor (N, H * up, W * up, C) (for zero `padding`).

    Example:

    ```python
    y = upsample_2d(keras.random.normal((2, 8, 8, 3)))  # (2, 16, 16, 3)
    ```
    """
    padx0, padx1, pady0, pady1 = _parse_padding(padding)
    fw, fh = _filter_size(_prepare_filter(f))
    p = [
        padx0 + (fw + up - 1) // 2,
        padx1 + (fw - up) // 2,
        pady0 + (fh + up - 1) // 2,
        pady1 + (fh - up) // 2,
    ]
    return upfirdn2d(
        x, f, up=up, padding=p, flip_filter=flip_filter, gain=gain * up * up
    )


def downsample_2d(
    x, f=DEFAULT_FILTER, down=2, padding=0, flip_filter=False, gain=1
):
    """FIR downsampling of a channels_last batch by `down`, as the
    reference's `downsample2d`.

    Args:
        x: Tensor (N, H, W, C), H and W multiples of `down`.
        f: FIR taps (see `upfirdn2d`).
        down: Integer downsampling factor.
        padding: Extra padding with respect to the input; negative crops.
        flip_filter: False convolves, True correlates.
        gain: Overall signal scale.

    Returns:
        A tensor (N, H // down, W // down, C) (for zero `padding`).

    Example:

    ```python
    y = downsample_2d(keras.random.normal((2, 16, 16, 3)))  # (2, 8, 8, 3)
    ```
    """
    padx0, padx1, pady0, pady1 = _parse_padding(padding)
    fw, fh = _filter_size(_prepare_filter(f))
    p = [
        padx0 + (fw - down + 1) // 2,
        padx1 + (fw - down) // 2,
        pady0 + (fh - down + 1) // 2,
        pady1 + (fh - down) // 2,
    ]
    return upfirdn2d(
        x, f, down=down, padding=p, flip_filter=flip_filter, gain=gain
    )


def _conv(x, w, strides=1):
    # 1x1 kernels as a matmul over channels: the same sum, cheaper on CPU.
    if w.shape[0] == 1 and w.shape[1] == 1 and strides == 1:
        return ops.matmul(x, w[0, 0])
    return ops.conv(x, w, strides=strides, padding="valid")


def conv2d_resample(
    x,
    w,
    f=DEFAULT_FILTER,
    up=1,
    down=1,
    padding=0,
    flip_weight=True,
    flip_filter=False,
):
    """2D convolution with optional FIR up/downsampling, as the reference's
    `conv2d_resample` (padding applied once, with respect to the upsampled
    image).

    Args:
        x: Tensor (N, H, W, in_channels).
        w: Kernel (kh, kw, in_channels, out_channels), in the dtype of `x`.
        f: FIR taps for the resampling (see `upfirdn2d`).
        up: Integer upsampling factor.
        down: Integer downsampling factor.
        padding: int, [x, y] or [x0, x1, y0, y1].
        flip_weight: True correlates (as `keras.ops.conv`), False convolves;
            the reference passes `up == 1`.
        flip_filter: False convolves with `f`, True correlates.

    Returns:
        A tensor (N, H * up // down, W * up // down, out_channels) for the
        "same" padding `kernel_size // 2`.

    Example:

    ```python
    w = keras.random.normal((3, 3, 8, 16))
    y = conv2d_resample(keras.random.normal((2, 8, 8, 8)), w, up=2,
                        padding=1, flip_weight=False)  # (2, 16, 16, 16)
    ```
    """
    kh, kw = w.shape[0], w.shape[1]
    fw, fh = _filter_size(_prepare_filter(f))
    px0, px1, py0, py1 = _parse_padding(padding)
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2

    # The same fast paths as the reference, so that the arithmetic (and the
    # orientation of the weights) matches it.
    if kh == 1 and kw == 1 and down > 1 and up == 1:
        x = upfirdn2d(
            x,
            f,
            down=down,
            padding=[px0, px1, py0, py1],
            flip_filter=flip_filter,
        )
        return _conv(x, w)
    if kh == 1 and kw == 1 and up > 1 and down == 1:
        x = _conv(x, w)
        return upfirdn2d(
            x,
            f,
            up=up,
            padding=[px0, px1, py0, py1],
            gain=up**2,
            flip_filter=flip_filter,
        )
    if down > 1 and up == 1:
        x = upfirdn2d(
            x, f, padding=[px0, px1, py0, py1], flip_filter=flip_filter
        )
        if not flip_weight:
            w = ops.flip(w, axis=(0, 1))
        return _conv(x, w, strides=down)
    if up > 1:
        # A strided transposed convolution convolves the zero-stuffed input
        # with its kernel: 4x fewer multiplies than a convolution of the
        # upsampled image. The FIR filter then crops to the padding.
        if flip_weight:
            w = ops.flip(w, axis=(0, 1))
        x = ops.conv_transpose(
            x, ops.transpose(w, (0, 1, 3, 2)), strides=up, padding="valid"
        )
        x = upfirdn2d(
            x,
            f,
            padding=[
                px0 - (kw - 1),
                px1 - (kw - up),
                py0 - (kh - 1),
                py1 - (kh - up),
            ],
            gain=up**2,
            flip_filter=flip_filter,
        )
        if down > 1:
            x = upfirdn2d(x, f, down=down, flip_filter=flip_filter)
        return x
    if not flip_weight:
        w = ops.flip(w, axis=(0, 1))
    if min(px0, px1, py0, py1) < 0:
        x = upfirdn2d(x, None, padding=[px0, px1, py0, py1])
    elif max(px0, px1, py0, py1) > 0:
        x = ops.pad(x, [[0, 0], [py0, py1], [px0, px1], [0, 0]])
    return _conv(x, w)


# ---------------------------------------------------------------------------
# Equalized-learning-rate layers.


def _validate_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")


def _validate_resampling(up, down):
    for name, value in (("up", up), ("down", down)):
        _validate_positive_int(name, value)


def _validate_clamp(conv_clamp):
    if conv_clamp is not None and (
        isinstance(conv_clamp, bool)
        or not isinstance(conv_clamp, (int, float))
        or conv_clamp <= 0
    ):
        raise ValueError(
            f"conv_clamp must be None (no clamping) or a positive number; got "
            f"{conv_clamp!r}. The reference uses 256 with float16 layers."
        )


class _StyleGAN2Layer(keras.layers.Layer):
    """Base of the layers here: inputs are never cast (`autocast=False`), so
    a layer computes in the dtype of `x` that its network chose."""

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def reference_weights(self):
        """This layer's own variables keyed by the reference's state_dict key
        ("<layer name>.<variable name>"), each with its layout ("dense",
        "conv" or "same"); see `StyleGAN2Generator.reference_weights`."""
        return {}


@keras.saving.register_keras_serializable(package="keras_dagan")
class EqualizedDense(_StyleGAN2Layer):
    """A fully connected layer with equalized learning rate (the reference's
    `FullyConnectedLayer`).

    The kernel is stored N(0, 1) / `lr_multiplier` and multiplied at run time
    by `lr_multiplier / sqrt(in_features)`; the bias starts at `bias_init`
    and is multiplied by `lr_multiplier`. Every weight thus gets the same
    effective learning rate, `lr_multiplier` times the optimizer's.

    Args:
        units: Output features.
        lr_multiplier: Learning-rate multiplier (the mapping network uses
            0.01).
        bias_init: Initial value of the bias.
        activation: See `bias_act`; applied with its default gain.
        use_bias: Whether to add a bias.
        **kwargs: Base `keras.layers.Layer` arguments such as `name`.

    Returns:
        (..., units) in the dtype of the input.

    Example:

    ```python
    layer = EqualizedDense(64, lr_multiplier=0.01, activation="lrelu")
    y = layer(keras.random.normal((8, 32)))  # (8, 64)
    ```
    """

    def __init__(
        self,
        units,
        lr_multiplier=1.0,
        bias_init=0.0,
        activation="linear",
        use_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _validate_positive_int("units", units)
        if not lr_multiplier > 0:
            raise ValueError(
                f"lr_multiplier must be > 0; got {lr_multiplier!r}."
            )
        _validate_activation(activation)
        self.units = units
        self.lr_multiplier = float(lr_multiplier)
        self.bias_init = float(bias_init)
        self.activation = activation
        self.use_bias = use_bias
        self.weight = None
        self.bias = None

    def build(self, input_shape):
        in_features = input_shape[-1]
        self.weight = self.add_weight(
            name="weight",
            shape=(in_features, self.units),
            initializer=keras.initializers.RandomNormal(
                stddev=1.0 / self.lr_multiplier
            ),
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=keras.initializers.Constant(self.bias_init),
            )
        self.weight_gain = self.lr_multiplier / math.sqrt(in_features)

    def call(self, x):
        w = ops.cast(self.weight * self.weight_gain, x.dtype)
        x = ops.matmul(x, w)
        b = None
        if self.use_bias:
            b = (
                self.bias * self.lr_multiplier
                if self.lr_multiplier != 1
                else self.bias
            )
        return bias_act(x, b, activation=self.activation)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def reference_weights(self):
        weights = {f"{self.name}.weight": (self.weight, "dense")}
        if self.use_bias:
            weights[f"{self.name}.bias"] = (self.bias, "same")
        return weights

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "lr_multiplier": self.lr_multiplier,
                "bias_init": self.bias_init,
                "activation": self.activation,
                "use_bias": self.use_bias,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dagan")
class EqualizedConv2D(_StyleGAN2Layer):
    """A 2D convolution with equalized learning rate and FIR up/downsampling
    (the reference's `Conv2dLayer`), channels_last.

    The kernel (kh, kw, in, out) is stored N(0, 1) and multiplied at run
    time by `1 / sqrt(in * kh * kw)`; the output is `bias_act` with the
    activation's default gain times the call's `gain`, clamped to
    `conv_clamp * gain`. With `up=2` the input is upsampled (transposed
    convolution, then the FIR filter), with `down=2` it is FIR-filtered,
    then convolved with stride 2. The padding is "same".

    Args:
        filters: Output channels.
        kernel_size: Odd kernel size.
        up: Upsampling factor (1 or 2 in StyleGAN2).
        down: Downsampling factor.
        activation: See `bias_act`.
        conv_clamp: None or the clamp of the activations.
        use_bias: Whether to add a bias.
        resample_filter: FIR taps of the resampling.
        **kwargs: Base `keras.layers.Layer` arguments such as `name`.

    Returns:
        (N, H * up // down, W * up // down, filters) in the dtype of `x`.

    Example:

    ```python
    conv = EqualizedConv2D(32, 3, down=2, activation="lrelu")
    y = conv(keras.random.normal((2, 16, 16, 8)))  # (2, 8, 8, 32)
    ```
    """

    def __init__(
        self,
        filters,
        kernel_size,
        up=1,
        down=1,
        activation="linear",
        conv_clamp=None,
        use_bias=True,
        resample_filter=DEFAULT_FILTER,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _validate_positive_int("filters", filters)
        _validate_positive_int("kernel_size", kernel_size)
        _validate_resampling(up, down)
        _validate_activation(activation)
        _validate_clamp(conv_clamp)
        self.filters = filters
        self.kernel_size = kernel_size
        self.up = up
        self.down = down
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.use_bias = use_bias
        self.resample_filter = tuple(
            float(t) for t in np.ravel(resample_filter)
        )
        self.weight = None
        self.bias = None

    def build(self, input_shape):
        in_channels = input_shape[-1]
        k = self.kernel_size
        self.weight = self.add_weight(
            name="weight",
            shape=(k, k, in_channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer="zeros"
            )
        self.weight_gain = 1.0 / math.sqrt(in_channels * k * k)

    def call(self, x, gain=1.0):
        w = ops.cast(self.weight * self.weight_gain, x.dtype)
        x = conv2d_resample(
            x,
            w,
            f=self.resample_filter,
            up=self.up,
            down=self.down,
            padding=self.kernel_size // 2,
            flip_weight=(self.up == 1),
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(
            x,
            self.bias if self.use_bias else None,
            activation=self.activation,
            gain=activation_gain(self.activation) * gain,
            clamp=clamp,
        )

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        scale = lambda s: (
            None if s is None else s * self.up // self.down
        )  # noqa: E731
        return (n, scale(h), scale(w), self.filters)

    def reference_weights(self):
        weights = {f"{self.name}.weight": (self.weight, "conv")}
        if self.use_bias:
            weights[f"{self.name}.bias"] = (self.bias, "same")
        return weights

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "up": self.up,
                "down": self.down,
                "activation": self.activation,
                "conv_clamp": self.conv_clamp,
                "use_bias": self.use_bias,
                "resample_filter": list(self.resample_filter),
            }
        )
        return config


# ---------------------------------------------------------------------------
# Modulated convolution.


def modulated_conv2d(
    x,
    weight,
    styles,
    noise=None,
    up=1,
    down=1,
    padding=0,
    resample_filter=DEFAULT_FILTER,
    demodulate=True,
    flip_weight=True,
):
    """StyleGAN2's modulated convolution with optional demodulation.

    Mathematically the reference's `modulated_conv2d`: the per-sample kernel
    `w[n] = weight * styles[n]` (over input channels), divided, when
    `demodulate`, by its L2 norm per output channel. It runs as
    `x * styles -> convolution -> * dcoefs` (the reference's non-fused path,
    equal to its fused grouped convolution), which needs no per-sample
    kernels and is fast on CPU and under XLA. The demodulation coefficients
    are `rsqrt(styles**2 @ sum_k(weight**2) + 1e-8)`, the same sum. For
    float16 `x` the weights and styles are first normalised by their
    maxima, as the reference does to avoid float16 overflow; demodulation
    cancels that scale.

    Args:
        x: Tensor (N, H, W, in_channels), float32 or float16.
        weight: float32 kernel (kh, kw, in_channels, out_channels), without
            any runtime gain.
        styles: float32 (N, in_channels) modulation coefficients.
        noise: None or a tensor added after the demodulation (broadcast to
            the output).
        up: Upsampling factor.
        down: Downsampling factor.
        padding: Padding (see `conv2d_resample`).
        resample_filter: FIR taps of the resampling.
        demodulate: Whether to demodulate.
        flip_weight: True correlates, False convolves (see
            `conv2d_resample`).

    Returns:
        (N, H * up // down, W * up // down, out_channels) in the dtype of `x`.

    Example:

    ```python
    y = modulated_conv2d(keras.random.normal((2, 8, 8, 16)),
                         keras.random.normal((3, 3, 16, 32)),
                         keras.ops.ones((2, 16)), padding=1)
    ```
    """
    kh, kw, in_channels, _ = weight.shape
    if x.dtype == "float16" and demodulate:
        weight = weight * (
            1.0
            / math.sqrt(in_channels * kh * kw)
            / ops.max(ops.abs(weight), axis=(0, 1, 2), keepdims=True)
        )
        styles = styles / ops.max(ops.abs(styles), axis=1, keepdims=True)
    dcoefs = None
    if demodulate:
        # sum_{i,k} (weight[k, i, o] * styles[n, i])^2 as one matmul.
        dcoefs = ops.rsqrt(
            ops.matmul(
                ops.square(styles), ops.sum(ops.square(weight), axis=(0, 1))
            )
            + 1e-8
        )
    x = x * ops.cast(styles, x.dtype)[:, None, None, :]
    x = conv2d_resample(
        x,
        ops.cast(weight, x.dtype),
        f=resample_filter,
        up=up,
        down=down,
        padding=padding,
        flip_weight=flip_weight,
    )
    if demodulate:
        x = x * ops.cast(dcoefs, x.dtype)[:, None, None, :]
    if noise is not None:
        x = x + ops.cast(noise, x.dtype)
    return x


_NOISE_MODES = ("random", "const", "none")


def _validate_noise_mode(noise_mode):
    if noise_mode not in _NOISE_MODES:
        raise ValueError(
            f"noise_mode must be one of {_NOISE_MODES}; got {noise_mode!r}."
        )


@keras.saving.register_keras_serializable(package="keras_dagan")
class ModulatedConv2D(_StyleGAN2Layer):
    """A StyleGAN2 synthesis layer (the reference's `SynthesisLayer`).

    Maps w to per-input-channel styles with an `EqualizedDense` (named
    "<name>.affine", bias initialised to 1), convolves `x` with the
    modulated, demodulated kernel (`modulated_conv2d`; FIR upsampling first
    when `up=2`), adds per-pixel noise times a learned `noise_strength`
    (initially 0), then the bias and the activation (default gain times the
    call's `gain`, clamp `conv_clamp * gain`).

    Noise modes at call time: "random" draws N(0, 1) noise of shape
    (N, H, W, 1) from `seed`; "const" uses the stored `noise_const`
    (H, W) (a fixed draw, a buffer in the reference); "none" adds none.

    Args:
        filters: Output channels.
        kernel_size: Odd kernel size.
        up: 1, or 2 to upsample.
        use_noise: Whether the layer has a noise input.
        activation: See `bias_act`.
        conv_clamp: None or the clamp of the activations.
        resample_filter: FIR taps of the upsampling.
        **kwargs: Base `keras.layers.Layer` arguments such as `name`.

    Call arguments:
        x: (N, H, W, in_channels), float32 or float16.
        w: (N, w_dim) float32.
        noise_mode: "random", "const" or "none".
        gain: Extra output gain (the resnet architecture passes sqrt(0.5)).
        seed: Seed of the random noise: a `keras.random.SeedGenerator`, an
            int or None.

    Returns:
        (N, H * up, W * up, filters) in the dtype of `x`.

    Example:

    ```python
    layer = ModulatedConv2D(32, 3, up=2)
    y = layer(keras.random.normal((2, 8, 8, 16)), keras.random.normal((2, 64)),
              noise_mode="const")  # (2, 16, 16, 32)
    ```
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        up=1,
        use_noise=True,
        activation="lrelu",
        conv_clamp=None,
        resample_filter=DEFAULT_FILTER,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _validate_positive_int("filters", filters)
        _validate_positive_int("kernel_size", kernel_size)
        _validate_positive_int("up", up)
        _validate_activation(activation)
        _validate_clamp(conv_clamp)
        self.filters = filters
        self.kernel_size = kernel_size
        self.up = up
        self.use_noise = use_noise
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.resample_filter = tuple(
            float(t) for t in np.ravel(resample_filter)
        )
        self.affine = None

    def build(self, x_shape, w_shape):
        in_channels = x_shape[-1]
        self.resolution = x_shape[1] * self.up
        self.affine = EqualizedDense(
            in_channels, bias_init=1.0, name=f"{self.name}.affine"
        )
        self.affine.build(w_shape)
        k = self.kernel_size
        self.weight = self.add_weight(
            name="weight",
            shape=(k, k, in_channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )
        if self.use_noise:
            self.noise_const = self.add_weight(
                name="noise_const",
                shape=(self.resolution, self.resolution),
                initializer=keras.initializers.RandomNormal(stddev=1.0),
                trainable=False,
            )
            self.noise_strength = self.add_weight(
                name="noise_strength", shape=(), initializer="zeros"
            )
        self.bias = self.add_weight(
            name="bias", shape=(self.filters,), initializer="zeros"
        )

    def call(self, x, w, noise_mode="random", gain=1.0, seed=None):
        _validate_noise_mode(noise_mode)
        styles = self.affine(ops.cast(w, "float32"))
        noise = None
        if self.use_noise and noise_mode == "random":
            shape = (ops.shape(x)[0], self.resolution, self.resolution, 1)
            noise = keras.random.normal(shape, seed=seed) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const[None, :, :, None] * self.noise_strength
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            padding=self.kernel_size // 2,
            resample_filter=self.resample_filter,
            flip_weight=(self.up == 1),
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(
            x,
            self.bias,
            activation=self.activation,
            gain=activation_gain(self.activation) * gain,
            clamp=clamp,
        )

    def compute_output_shape(self, x_shape, w_shape):
        n, h, w, _ = x_shape
        return (
            n,
            None if h is None else h * self.up,
            None if w is None else w * self.up,
            self.filters,
        )

    def reference_weights(self):
        weights = {
            f"{self.name}.weight": (self.weight, "conv"),
            f"{self.name}.bias": (self.bias, "same"),
        }
        if self.use_noise:
            weights[f"{self.name}.noise_const"] = (self.noise_const, "same")
            weights[f"{self.name}.noise_strength"] = (
                self.noise_strength,
                "same",
            )
        weights.update(self.affine.reference_weights())
        return weights

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "up": self.up,
                "use_noise": self.use_noise,
                "activation": self.activation,
                "conv_clamp": self.conv_clamp,
                "resample_filter": list(self.resample_filter),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dagan")
class ToRGB(_StyleGAN2Layer):
    """The reference's `ToRGBLayer`: a modulated 1x1 convolution without
    demodulation (styles scaled by `1 / sqrt(in_channels)`), plus a bias,
    clamped to `conv_clamp`.

    Args:
        filters: Image channels.
        conv_clamp: None or the clamp of the output.
        **kwargs: Base `keras.layers.Layer` arguments such as `name`.

    Call arguments:
        x: (N, H, W, in_channels).
        w: (N, w_dim) float32.

    Returns:
        (N, H, W, filters) in the dtype of `x`.

    Example:

    ```python
    rgb = ToRGB(3)(keras.random.normal((2, 8, 8, 16)), keras.random.normal((2, 64)))
    ```
    """

    def __init__(self, filters, conv_clamp=None, **kwargs):
        super().__init__(**kwargs)
        _validate_positive_int("filters", filters)
        _validate_clamp(conv_clamp)
        self.filters = filters
        self.conv_clamp = conv_clamp
        self.affine = None

    def build(self, x_shape, w_shape):
        in_channels = x_shape[-1]
        self.affine = EqualizedDense(
            in_channels, bias_init=1.0, name=f"{self.name}.affine"
        )
        self.affine.build(w_shape)
        self.weight = self.add_weight(
            name="weight",
            shape=(1, 1, in_channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.filters,), initializer="zeros"
        )
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def call(self, x, w):
        styles = self.affine(ops.cast(w, "float32")) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)

    def compute_output_shape(self, x_shape, w_shape):
        return tuple(x_shape[:-1]) + (self.filters,)

    def reference_weights(self):
        weights = {
            f"{self.name}.weight": (self.weight, "conv"),
            f"{self.name}.bias": (self.bias, "same"),
        }
        weights.update(self.affine.reference_weights())
        return weights

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "conv_clamp": self.conv_clamp})
        return config


# ---------------------------------------------------------------------------
# Minibatch standard deviation.


@keras.saving.register_keras_serializable(package="keras_dagan")
class MinibatchStdDev(_StyleGAN2Layer):
    """Appends the minibatch standard deviation as extra channels (the
    reference's `MinibatchStdLayer`).

    The batch of N splits into groups of G = min(group_size, N) samples,
    strided across the batch as in the reference (sample i belongs to group
    i mod (N / G)); the channels split into `num_channels` sets. For every
    group and channel set, the standard deviation over the group's members,
    averaged over that set's channels and all pixels, becomes one constant
    feature map appended to each member.

    With `num_views` > 1 at call time, the batch is `num_views` contiguous
    blocks of N / num_views samples each (the stacked views of DAG) and the
    groups are formed within each block, with G = min(group_size, N /
    num_views): no statistic mixes two views.

    Args:
        group_size: Group size; None for the whole batch (per view).
        num_channels: Number of appended feature maps; must divide the
            input's channels.
        **kwargs: Base `keras.layers.Layer` arguments such as `name`.

    Call arguments:
        x: (N, H, W, C); N (per view) must be a multiple of the group size.
        num_views: Number of contiguous views in the batch.

    Returns:
        (N, H, W, C + num_channels) in the dtype of `x`.

    Example:

    ```python
    y = MinibatchStdDev(group_size=4)(keras.random.normal((8, 4, 4, 32)))
    # (8, 4, 4, 33)
    ```
    """

    def __init__(self, group_size=4, num_channels=1, **kwargs):
        super().__init__(**kwargs)
        if group_size is not None:
            _validate_positive_int("group_size", group_size)
        _validate_positive_int("num_channels", num_channels)
        self.group_size = group_size
        self.num_channels = num_channels

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels % self.num_channels:
            raise ValueError(
                f"MinibatchStdDev(num_channels={self.num_channels}) needs input "
                f"channels divisible by num_channels; got {channels}."
            )

    def call(self, x, num_views=1):
        _validate_positive_int("num_views", num_views)
        _, height, width, channels = x.shape
        features = self.num_channels
        batch = x.shape[0]
        if batch is not None:
            if batch % num_views:
                raise ValueError(
                    f"The batch of {batch} does not split into num_views={num_views} "
                    "equal views."
                )
            per_view = batch // num_views
            group = (
                per_view
                if self.group_size is None
                else min(self.group_size, per_view)
            )
            if per_view % group:
                raise ValueError(
                    f"MinibatchStdDev: the batch per view ({per_view}) must be a "
                    f"multiple of the group size ({group}); change the batch size "
                    "or mbstd_group_size."
                )
        else:
            # Dynamic batch: the reference's min(group_size, N) at run time.
            per_view = ops.shape(x)[0] // num_views
            group = (
                per_view
                if self.group_size is None
                else ops.minimum(self.group_size, per_view)
            )
        # [V, G, n, H, W, F, c]: member g of group j is sample g * n + j of
        # its view, the reference's x.reshape(G, -1, F, c, H, W).
        y = ops.reshape(
            x,
            (
                num_views,
                group,
                -1,
                height,
                width,
                features,
                channels // features,
            ),
        )
        y = y - ops.mean(y, axis=1, keepdims=True)
        y = ops.mean(ops.square(y), axis=1)  # [V, n, H, W, F, c]
        y = ops.sqrt(y + 1e-8)
        y = ops.mean(y, axis=(2, 3, 5))  # [V, n, F]
        y = ops.reshape(y, (num_views, 1, -1, 1, 1, features))
        y = ops.broadcast_to(
            y, (num_views, group, ops.shape(y)[2], height, width, features)
        )
        y = ops.reshape(y, (-1, height, width, features))
        return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + self.num_channels,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"group_size": self.group_size, "num_channels": self.num_channels}
        )
        return config
