"""StyleGAN2 generator and discriminator (Karras et al. 2020), as in
NVlabs/stylegan2-ada-pytorch.

The networks of `training/networks.py` of stylegan2-ada-pytorch, the code of
the ADA paper (Karras et al., "Training Generative Adversarial Networks with
Limited Data", NeurIPS 2020) and the model of DiffAugment's StyleGAN2
results, rebuilt from the building blocks of
`keras_dagan.models.stylegan2_layers`:

- Generator: a mapping network (normalised z, optional label embedding,
  `mapping_layers` equalized fully connected layers with learning-rate
  multiplier 0.01, a tracked average of w for the truncation trick) and a
  synthesis network (a learned 4x4 constant, then per resolution a modulated
  3x3 convolution with FIR upsampling and one without, per-pixel noise with
  learned strengths, and toRGB layers whose images are upsampled and summed,
  the "skip" architecture). Style mixing in training.
- Discriminator: "resnet" (default), "skip" or "orig" blocks of FIR-filtered
  downsampling convolutions, then the epilogue at 4x4: minibatch standard
  deviation, a 3x3 convolution, two fully connected layers and, when
  conditional, the projection on the mapped label.

Channels per resolution are `min(channel_base // resolution, channel_max)`.
The `num_fp16_res` highest resolutions compute in float16 with activations
clamped to `conv_clamp`, the rest (and every output) in float32, as the
reference's mixed precision. Weights are stored as the reference stores them
(equalized learning rate: N(0, 1) scaled at run time), named after its
parameters, so that `reference_weights()` maps every reference state_dict
entry to its Keras variable and converting weights is only a transpose.
Images are channels_last.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_dagan.models.resnet import validate_num_classes
from keras_dagan.models.stylegan2_layers import (
    DEFAULT_FILTER,
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStdDev,
    ModulatedConv2D,
    ToRGB,
    _validate_noise_mode,
    downsample_2d,
    normalize_2nd_moment,
    upsample_2d,
)

SUPPORTED_RESOLUTIONS = (32, 64, 128, 256, 512, 1024)
ARCHITECTURES = ("orig", "skip", "resnet")


# ---------------------------------------------------------------------------
# Validation.


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float, np.number)) and not isinstance(
        value, bool
    )


def _positive_int(name, value, hint=""):
    if not _is_int(value) or value < 1:
        raise ValueError(
            f"{name} must be a positive integer; got {value!r}.{hint}"
        )


def _validate_resolution(resolution, network):
    if not _is_int(resolution) or resolution not in SUPPORTED_RESOLUTIONS:
        raise ValueError(
            f"{network} supports resolution in {SUPPORTED_RESOLUTIONS} (powers of "
            f"two from 32 to 1024); got resolution={resolution!r}. Resize the "
            "data to one of them."
        )


def _validate_channels(channel_base, channel_max, resolution):
    _positive_int("channel_base", channel_base)
    _positive_int("channel_max", channel_max)
    if channel_base < resolution:
        raise ValueError(
            f"channel_base must be >= resolution so that every resolution has "
            f"channels (min(channel_base // res, channel_max)); got "
            f"channel_base={channel_base} at resolution={resolution}. The reference "
            "uses 16384 (256 px) or 32768; tests use e.g. 512."
        )


def _validate_architecture(architecture):
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"architecture must be one of {ARCHITECTURES}; got {architecture!r}."
        )


def _validate_fp16(num_fp16_res, conv_clamp):
    if not _is_int(num_fp16_res) or num_fp16_res < 0:
        raise ValueError(
            f"num_fp16_res must be an integer >= 0 (the number of highest "
            f"resolutions computed in float16; 0 for float32 throughout); got "
            f"{num_fp16_res!r}."
        )
    if conv_clamp is not None and (
        not _is_number(conv_clamp) or conv_clamp <= 0
    ):
        raise ValueError(
            f"conv_clamp must be None or a positive number (the reference uses 256 "
            f"with num_fp16_res=4); got {conv_clamp!r}."
        )


def _channels_dict(resolutions, channel_base, channel_max):
    return {res: min(channel_base // res, channel_max) for res in resolutions}


def _fp16_resolution(resolution, num_fp16_res):
    # The reference: the num_fp16_res highest resolutions, never below 8.
    return max(2 ** (int(math.log2(resolution)) + 1 - num_fp16_res), 8)


def _merge(*dicts):
    merged = {}
    for d in dicts:
        for key, value in d.items():
            if key in merged:
                raise ValueError(f"Duplicate reference key {key!r}.")
            merged[key] = value
    return merged


class _Container(keras.layers.Layer):
    """A layer whose sub-layers are created and built in its constructor
    (every shape follows from the configuration), which never casts its
    inputs (the networks choose the precision)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)

    def _children(self):
        return []

    def _own_reference_weights(self):
        return {}

    def reference_weights(self):
        """Reference state_dict key -> (variable, layout) for this layer and
        its sub-layers."""
        return _merge(
            self._own_reference_weights(),
            *(c.reference_weights() for c in self._children()),
        )


# ---------------------------------------------------------------------------
# Mapping network.


@keras.saving.register_keras_serializable(package="keras_dagan")
class MappingNetwork(_Container):
    """The reference's `MappingNetwork`: z (and the label) to w.

    z is normalised to unit mean square; a label (int class index, one-hot
    encoded to the reference's c) goes through `embed`, an `EqualizedDense`
    to `embed_features`, and is normalised too; the concatenation runs
    through `num_layers` leaky-ReLU `EqualizedDense` layers with
    `lr_multiplier`. In training the average of w is tracked in `w_avg`
    (decay `w_avg_beta`); outside it, `truncation_psi` pulls w towards it.
    With `num_ws` the output is broadcast to (N, num_ws, w_dim).

    Args:
        latent_dim: Size of z; 0 for label-only mapping (the conditional
            discriminator's).
        num_classes: None or the number of classes.
        w_dim: Size of w.
        num_ws: None for (N, w_dim) outputs, or the number of copies.
        num_layers: Number of fully connected layers.
        embed_features: Label embedding size; None is `w_dim`.
        layer_features: Hidden size; None is `w_dim`.
        activation: Activation of the layers.
        lr_multiplier: Learning-rate multiplier of the layers (not of
            `embed`).
        w_avg_beta: Decay of the w average; None to not track it.
        **kwargs: Base `keras.layers.Layer` arguments; `name` (default
            "mapping") prefixes the sub-layers' names.

    Call arguments:
        z: (N, latent_dim) or None when `latent_dim` is 0.
        labels: (N,) int class indices, or None when unconditional.
        truncation_psi: 1 for none; w = w_avg + psi * (w - w_avg).
        truncation_cutoff: None for every w, or truncate ws[:, :cutoff].
        training: Whether to update `w_avg`.
        skip_w_avg_update: Do not update `w_avg` even in training (the
            second mapping of style mixing).

    Returns:
        (N, num_ws, w_dim) or (N, w_dim) float32.

    Example:

    ```python
    mapping = MappingNetwork(64, w_dim=64, num_ws=8, num_layers=2)
    ws = mapping(keras.random.normal((4, 64)))  # (4, 8, 64)
    ```
    """

    def __init__(
        self,
        latent_dim,
        num_classes=None,
        w_dim=512,
        num_ws=None,
        num_layers=8,
        embed_features=None,
        layer_features=None,
        activation="lrelu",
        lr_multiplier=0.01,
        w_avg_beta=0.995,
        **kwargs,
    ):
        kwargs.setdefault("name", "mapping")
        super().__init__(**kwargs)
        if not _is_int(latent_dim) or latent_dim < 0:
            raise ValueError(
                f"latent_dim must be an integer >= 0; got {latent_dim!r}."
            )
        validate_num_classes(num_classes)
        if latent_dim == 0 and num_classes is None:
            raise ValueError(
                "MappingNetwork needs latent_dim > 0 or num_classes."
            )
        _positive_int("w_dim", w_dim)
        _positive_int("num_layers", num_layers)
        self.latent_dim = int(latent_dim)
        self.num_classes = num_classes
        self.w_dim = int(w_dim)
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.embed_features = embed_features
        self.layer_features = layer_features
        self.activation = activation
        self.lr_multiplier = float(lr_multiplier)
        self.w_avg_beta = w_avg_beta

        embed = w_dim if embed_features is None else embed_features
        if num_classes is None:
            embed = 0
        hidden = w_dim if layer_features is None else layer_features
        features = [latent_dim + embed] + [hidden] * (num_layers - 1) + [w_dim]
        self.embed = None
        if num_classes is not None:
            self.embed = EqualizedDense(embed, name=f"{self.name}.embed")
            self.embed.build((None, num_classes))
        self._fc_names = []
        for index in range(num_layers):
            layer = EqualizedDense(
                features[index + 1],
                activation=activation,
                lr_multiplier=lr_multiplier,
                name=f"{self.name}.fc{index}",
            )
            layer.build((None, features[index]))
            setattr(self, f"fc{index}", layer)
            self._fc_names.append(f"fc{index}")
        self.w_avg = None
        if num_ws is not None and w_avg_beta is not None:
            self.w_avg = self.add_weight(
                name="w_avg",
                shape=(w_dim,),
                initializer="zeros",
                trainable=False,
            )
        self.built = True

    def _children(self):
        layers = [self.embed] if self.embed is not None else []
        return layers + [getattr(self, name) for name in self._fc_names]

    def _own_reference_weights(self):
        return (
            {}
            if self.w_avg is None
            else {f"{self.name}.w_avg": (self.w_avg, "same")}
        )

    def call(
        self,
        z=None,
        labels=None,
        truncation_psi=1.0,
        truncation_cutoff=None,
        training=False,
        skip_w_avg_update=False,
    ):
        x = None
        if self.latent_dim > 0:
            if z is None:
                raise ValueError(
                    "MappingNetwork needs z of shape (N, latent_dim)."
                )
            x = normalize_2nd_moment(ops.cast(z, "float32"))
        if self.num_classes is not None:
            if labels is None:
                raise ValueError(
                    f"This mapping network is conditional (num_classes={self.num_classes}): "
                    "pass labels, int class indices of shape (N,)."
                )
            labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
            c = ops.one_hot(labels, self.num_classes, dtype="float32")
            y = normalize_2nd_moment(self.embed(c))
            x = y if x is None else ops.concatenate([x, y], axis=1)
        for name in self._fc_names:
            x = getattr(self, name)(x)

        if training and not skip_w_avg_update and self.w_avg is not None:
            batch_mean = ops.stop_gradient(ops.mean(x, axis=0))
            self.w_avg.assign(
                batch_mean + self.w_avg_beta * (self.w_avg - batch_mean)
            )

        if self.num_ws is not None:
            x = ops.repeat(x[:, None, :], self.num_ws, axis=1)

        if not (_is_number(truncation_psi) and truncation_psi == 1):
            if self.w_avg is None:
                raise ValueError(
                    "Truncation needs a tracked w average (w_avg_beta and num_ws)."
                )
            psi = ops.cast(truncation_psi, "float32")
            truncated = self.w_avg + psi * (x - self.w_avg)
            if self.num_ws is None or truncation_cutoff is None:
                x = truncated
            else:
                mask = ops.arange(self.num_ws)[None, :, None] < ops.cast(
                    truncation_cutoff, "int32"
                )
                x = ops.where(mask, truncated, x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "num_classes": self.num_classes,
                "w_dim": self.w_dim,
                "num_ws": self.num_ws,
                "num_layers": self.num_layers,
                "embed_features": self.embed_features,
                "layer_features": self.layer_features,
                "activation": self.activation,
                "lr_multiplier": self.lr_multiplier,
                "w_avg_beta": self.w_avg_beta,
            }
        )
        return config


# ---------------------------------------------------------------------------
# Synthesis network.


@keras.saving.register_keras_serializable(package="keras_dagan")
class SynthesisBlock(_Container):
    """One resolution of the synthesis network (the reference's
    `SynthesisBlock`).

    The first block (in_channels 0) starts from the learned constant `const`
    (stored (C, H, W) as in the reference); the others run `conv0`
    (upsampling) and `conv1`. The "skip" architecture adds `torgb`'s image to
    the FIR-upsampled image of the previous block; "orig" and "resnet" have
    a toRGB only in the last block, and "resnet" adds a 1x1 upsampling
    `skip` convolution with gain sqrt(0.5). With `use_fp16` the features are
    float16; the image stays float32.

    Args:
        in_channels: Input channels; 0 for the 4x4 block.
        out_channels: Output channels.
        w_dim: Size of w.
        resolution: Output resolution.
        img_channels: Image channels.
        is_last: Whether this is the last block.
        architecture: "orig", "skip" or "resnet".
        conv_clamp: None or the activation clamp.
        use_fp16: Whether to compute in float16.
        **kwargs: Base `keras.layers.Layer` arguments; `name` prefixes the
            sub-layers' names.

    Call arguments:
        ws: (N, num_conv + num_torgb, w_dim) float32.
        x: None (first block) or (N, res / 2, res / 2, in_channels).
        img: None or the (N, res / 2, res / 2, img_channels) float32 image.
        noise_mode: "random", "const" or "none".
        seed: Seed of the noise.

    Returns:
        (x, img).

    Example:

    ```python
    block = SynthesisBlock(0, 32, 64, 4, 3, is_last=False, name="b4")
    x, img = block(keras.random.normal((2, 2, 64)))
    ```
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        w_dim,
        resolution,
        img_channels,
        is_last,
        architecture="skip",
        conv_clamp=None,
        use_fp16=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _validate_architecture(architecture)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.is_last = is_last
        self.architecture = architecture
        self.conv_clamp = conv_clamp
        self.use_fp16 = use_fp16
        self.num_conv = 0
        self.num_torgb = 0
        half = resolution // 2
        w_shape = (None, w_dim)

        self.const = None
        self.conv0 = None
        self.torgb = None
        self.skip = None
        if in_channels == 0:
            self.const = self.add_weight(
                name="const",
                shape=(out_channels, resolution, resolution),
                initializer=keras.initializers.RandomNormal(stddev=1.0),
            )
        else:
            self.conv0 = ModulatedConv2D(
                out_channels,
                3,
                up=2,
                conv_clamp=conv_clamp,
                name=f"{self.name}.conv0",
            )
            self.conv0.build((None, half, half, in_channels), w_shape)
            self.num_conv += 1
        self.conv1 = ModulatedConv2D(
            out_channels, 3, conv_clamp=conv_clamp, name=f"{self.name}.conv1"
        )
        self.conv1.build((None, resolution, resolution, out_channels), w_shape)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGB(
                img_channels, conv_clamp=conv_clamp, name=f"{self.name}.torgb"
            )
            self.torgb.build(
                (None, resolution, resolution, out_channels), w_shape
            )
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = EqualizedConv2D(
                out_channels, 1, up=2, use_bias=False, name=f"{self.name}.skip"
            )
            self.skip.build((None, half, half, in_channels))
        self.built = True

    def _children(self):
        return [
            layer
            for layer in (self.conv0, self.conv1, self.torgb, self.skip)
            if layer is not None
        ]

    def _own_reference_weights(self):
        return (
            {}
            if self.const is None
            else {f"{self.name}.const": (self.const, "same")}
        )

    def call(self, ws, x=None, img=None, noise_mode="random", seed=None):
        dtype = "float16" if self.use_fp16 else "float32"
        if self.in_channels == 0:
            x = ops.transpose(ops.cast(self.const, dtype), (1, 2, 0))[None]
            x = ops.repeat(x, ops.shape(ws)[0], axis=0)
        else:
            x = ops.cast(x, dtype)
        index = 0
        if self.in_channels == 0:
            x = self.conv1(x, ws[:, 0], noise_mode=noise_mode, seed=seed)
            index = 1
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, ws[:, 0], noise_mode=noise_mode, seed=seed)
            x = self.conv1(
                x,
                ws[:, 1],
                noise_mode=noise_mode,
                gain=math.sqrt(0.5),
                seed=seed,
            )
            x = y + x
            index = 2
        else:
            x = self.conv0(x, ws[:, 0], noise_mode=noise_mode, seed=seed)
            x = self.conv1(x, ws[:, 1], noise_mode=noise_mode, seed=seed)
            index = 2

        if img is not None:
            img = upsample_2d(img, DEFAULT_FILTER)
        if self.torgb is not None:
            y = ops.cast(self.torgb(x, ws[:, index]), "float32")
            img = y if img is None else img + y
        return x, img

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "in_channels": self.in_channels,
                "out_channels": self.out_channels,
                "w_dim": self.w_dim,
                "resolution": self.resolution,
                "img_channels": self.img_channels,
                "is_last": self.is_last,
                "architecture": self.architecture,
                "conv_clamp": self.conv_clamp,
                "use_fp16": self.use_fp16,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dagan")
class SynthesisNetwork(_Container):
    """The reference's `SynthesisNetwork`: ws to images.

    Blocks b4, b8, ..., b<resolution> (`SynthesisBlock`), with
    `min(channel_base // res, channel_max)` channels at resolution res. Block
    res reads its convolutions' ws in order and shares its toRGB w with the
    next block's first convolution, as the reference. The
    `num_fp16_res` highest resolutions (never below 8) compute in float16.
    It owns the `keras.random.SeedGenerator` of the noise inputs.

    Args:
        w_dim: Size of w.
        resolution: Output resolution, a power of two >= 4.
        img_channels: Image channels.
        channel_base: Channel multiplier.
        channel_max: Maximum channels.
        num_fp16_res: Number of float16 resolutions.
        architecture: "orig", "skip" or "resnet".
        conv_clamp: None or the activation clamp.
        seed: Seed of the noise's `SeedGenerator`.
        **kwargs: Base `keras.layers.Layer` arguments (default name
            "synthesis").

    Call arguments:
        ws: (N, num_ws, w_dim).
        noise_mode: "random", "const" or "none".
        training: Unused (the computation is the same).

    Returns:
        (N, resolution, resolution, img_channels) float32 images.

    Example:

    ```python
    synthesis = SynthesisNetwork(64, 32, 3, channel_base=256, channel_max=32)
    images = synthesis(keras.random.normal((2, synthesis.num_ws, 64)))
    ```
    """

    def __init__(
        self,
        w_dim,
        resolution,
        img_channels,
        channel_base=32768,
        channel_max=512,
        num_fp16_res=0,
        architecture="skip",
        conv_clamp=None,
        seed=None,
        **kwargs,
    ):
        kwargs.setdefault("name", "synthesis")
        super().__init__(**kwargs)
        if (
            not _is_int(resolution)
            or resolution < 4
            or resolution & (resolution - 1)
        ):
            raise ValueError(
                f"resolution must be a power of two >= 4; got {resolution!r}."
            )
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.channel_base = channel_base
        self.channel_max = channel_max
        self.num_fp16_res = num_fp16_res
        self.architecture = architecture
        self.conv_clamp = conv_clamp
        self.seed = seed
        self.block_resolutions = [
            2**i for i in range(2, int(math.log2(resolution)) + 1)
        ]
        channels = _channels_dict(
            self.block_resolutions, channel_base, channel_max
        )
        fp16_resolution = _fp16_resolution(resolution, num_fp16_res)
        self.num_ws = 0
        self._block_names = []
        for res in self.block_resolutions:
            block = SynthesisBlock(
                channels[res // 2] if res > 4 else 0,
                channels[res],
                w_dim=w_dim,
                resolution=res,
                img_channels=img_channels,
                is_last=(res == resolution),
                architecture=architecture,
                conv_clamp=conv_clamp,
                use_fp16=(res >= fp16_resolution),
                name=f"{self.name}.b{res}",
            )
            self.num_ws += block.num_conv
            if res == resolution:
                self.num_ws += block.num_torgb
            setattr(self, f"b{res}", block)
            self._block_names.append(f"b{res}")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def _children(self):
        return [getattr(self, name) for name in self._block_names]

    def call(self, ws, noise_mode="random", training=False):
        _validate_noise_mode(noise_mode)
        ws = ops.cast(ws, "float32")
        x = img = None
        w_index = 0
        for block in self._children():
            block_ws = ws[
                :, w_index : w_index + block.num_conv + block.num_torgb
            ]
            w_index += block.num_conv
            x, img = block(
                block_ws,
                x=x,
                img=img,
                noise_mode=noise_mode,
                seed=self.seed_generator,
            )
        return img

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "w_dim": self.w_dim,
                "resolution": self.resolution,
                "img_channels": self.img_channels,
                "channel_base": self.channel_base,
                "channel_max": self.channel_max,
                "num_fp16_res": self.num_fp16_res,
                "architecture": self.architecture,
                "conv_clamp": self.conv_clamp,
                "seed": self.seed,
            }
        )
        return config


# ---------------------------------------------------------------------------
# Generator.


def _split_inputs(inputs, num_classes, network, second):
    if num_classes is None:
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(
                    f"This {network} is unconditional (num_classes=None): call it "
                    f"on {second.split(',')[0]} alone; got {len(inputs)} inputs."
                )
            inputs = inputs[0]
        return inputs, None
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        raise ValueError(
            f"This {network} is conditional (num_classes={num_classes}): call it on "
            f"[{second}] with int class labels of shape (N,)."
        )
    return inputs[0], inputs[1]


@keras.saving.register_keras_serializable(package="keras_dagan")
class StyleGAN2Generator(keras.Model):
    """The StyleGAN2 generator (the reference's `Generator`): mapping network
    and synthesis network; build it with `stylegan2_generator`.

    Call it as every generator of the library: `generator(z)` or, when
    conditional, `generator([z, labels])`, z (N, latent_dim), labels (N,)
    int class indices. Outputs float32 (N, resolution, resolution,
    img_channels) images, roughly in [-1, 1].

    Call arguments:
        inputs: z or [z, labels].
        training: In training, the mapping updates `w_avg` and style mixing
            applies with probability `style_mixing`; truncation does not.
        truncation_psi: Truncation outside training (1 for none).
        truncation_cutoff: None, or truncate only the first ws.
        noise_mode: "random", "const" (the stored noise) or "none".

    Attributes:
        mapping: The `MappingNetwork`; `mapping(z, labels=None,
            truncation_psi=1.0, truncation_cutoff=None, training=False)`
            returns ws (N, num_ws, w_dim).
        synthesis: The `SynthesisNetwork`; `synthesis(ws,
            noise_mode="random")` returns images.
        w_avg: The tracked average of w (non-trainable).
        style_mixing: Style-mixing probability in training (settable).
        latent_dim, w_dim, num_ws, resolution, num_classes.

    See `stylegan2_generator` for the constructor arguments.

    Example:

    ```python
    generator = stylegan2_generator(latent_dim=64, w_dim=64, resolution=32,
                                    channel_base=512, channel_max=32)
    images = generator(keras.random.normal((4, 64)))  # (4, 32, 32, 3)
    ```
    """

    def __init__(
        self,
        latent_dim=512,
        resolution=256,
        channel_base=16384,
        channel_max=512,
        mapping_layers=8,
        num_classes=None,
        w_dim=512,
        img_channels=3,
        num_fp16_res=0,
        conv_clamp=None,
        style_mixing=0.9,
        w_avg_beta=0.995,
        mapping_lr_multiplier=0.01,
        architecture="skip",
        seed=None,
        **kwargs,
    ):
        kwargs.setdefault("name", "stylegan2_generator")
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        _positive_int("latent_dim", latent_dim)
        _validate_resolution(resolution, "stylegan2_generator")
        _validate_channels(channel_base, channel_max, resolution)
        _positive_int(
            "mapping_layers",
            mapping_layers,
            " The reference uses 8 (2 for its cifar config).",
        )
        validate_num_classes(num_classes)
        _positive_int("w_dim", w_dim)
        _positive_int(
            "img_channels", img_channels, " Use 3 for RGB, 1 for greyscale."
        )
        _validate_fp16(num_fp16_res, conv_clamp)
        self._validate_style_mixing(style_mixing)
        if (
            w_avg_beta is None
            or not _is_number(w_avg_beta)
            or not 0 <= w_avg_beta < 1
        ):
            raise ValueError(
                f"w_avg_beta must be a number in [0, 1); got {w_avg_beta!r}. The reference uses 0.995."
            )
        if not _is_number(mapping_lr_multiplier) or mapping_lr_multiplier <= 0:
            raise ValueError(
                f"mapping_lr_multiplier must be > 0; got {mapping_lr_multiplier!r}. The reference uses 0.01."
            )
        _validate_architecture(architecture)
        self.latent_dim = int(latent_dim)
        self.resolution = int(resolution)
        self.channel_base = int(channel_base)
        self.channel_max = int(channel_max)
        self.mapping_layers = int(mapping_layers)
        self.num_classes = num_classes
        self.w_dim = int(w_dim)
        self.img_channels = int(img_channels)
        self.num_fp16_res = int(num_fp16_res)
        self.conv_clamp = conv_clamp
        self._style_mixing = float(style_mixing)
        self.w_avg_beta = float(w_avg_beta)
        self.mapping_lr_multiplier = float(mapping_lr_multiplier)
        self.architecture = architecture
        self.seed = seed

        self.synthesis = SynthesisNetwork(
            w_dim=self.w_dim,
            resolution=self.resolution,
            img_channels=self.img_channels,
            channel_base=self.channel_base,
            channel_max=self.channel_max,
            num_fp16_res=self.num_fp16_res,
            architecture=architecture,
            conv_clamp=conv_clamp,
            seed=seed,
            name="synthesis",
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            latent_dim=self.latent_dim,
            num_classes=num_classes,
            w_dim=self.w_dim,
            num_ws=self.num_ws,
            num_layers=self.mapping_layers,
            lr_multiplier=self.mapping_lr_multiplier,
            w_avg_beta=self.w_avg_beta,
            name="mapping",
        )
        self.built = True

    @staticmethod
    def _validate_style_mixing(value):
        if not _is_number(value) or not 0 <= value <= 1:
            raise ValueError(
                f"style_mixing must be a probability in [0, 1]; got {value!r}. The "
                "reference uses 0.9 (0 in its cifar config)."
            )

    @property
    def style_mixing(self):
        """Probability of style mixing in training."""
        return self._style_mixing

    @style_mixing.setter
    def style_mixing(self, value):
        self._validate_style_mixing(value)
        self._style_mixing = float(value)

    @property
    def w_avg(self):
        """The tracked average of w, a non-trainable (w_dim,) variable."""
        return self.mapping.w_avg

    @property
    def seed_generator(self):
        """The `keras.random.SeedGenerator` of noise and style mixing."""
        return self.synthesis.seed_generator

    def training_ws(self, z, labels=None):
        """The ws that `call(training=True)` synthesises: mapping with the
        `w_avg` update, then style mixing with probability `style_mixing`
        (the reference's `run_G`: one crossover index in [1, num_ws) for the
        batch; ws from it on come from a second z, mapped without the
        `w_avg` update).

        Args:
            z: (N, latent_dim).
            labels: None or (N,) int class indices.

        Returns:
            (N, num_ws, w_dim) float32.
        """
        ws = self.mapping(z, labels, training=True)
        if self._style_mixing > 0:
            seed = self.seed_generator
            cutoff = keras.random.randint((), 1, self.num_ws, seed=seed)
            mix = keras.random.uniform((), seed=seed) < self._style_mixing
            cutoff = ops.where(mix, cutoff, self.num_ws)
            z2 = keras.random.normal(ops.shape(z), seed=seed)
            ws2 = self.mapping(
                z2, labels, training=True, skip_w_avg_update=True
            )
            keep = ops.arange(self.num_ws)[None, :, None] < cutoff
            ws = ops.where(keep, ws, ws2)
        return ws

    def call(
        self,
        inputs,
        training=False,
        truncation_psi=1.0,
        truncation_cutoff=None,
        noise_mode="random",
    ):
        z, labels = _split_inputs(
            inputs, self.num_classes, "generator", "z, labels"
        )
        if training:
            ws = self.training_ws(z, labels)
        else:
            ws = self.mapping(
                z,
                labels,
                truncation_psi=truncation_psi,
                truncation_cutoff=truncation_cutoff,
                training=False,
            )
        return self.synthesis(
            ws, noise_mode=noise_mode, training=bool(training)
        )

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if self.num_classes is not None else input_shape
        if (
            isinstance(first, (list, tuple))
            and first
            and isinstance(first[0], (list, tuple))
        ):
            first = first[0]
        return (first[0], self.resolution, self.resolution, self.img_channels)

    def reference_weights(self):
        """Every reference `Generator` state_dict entry except the FIR
        `resample_filter` buffers, as {key: (variable, layout)}.

        Keys are the reference's ("mapping.fc0.weight",
        "synthesis.b4.const", "synthesis.b8.conv0.affine.bias",
        "synthesis.b8.conv0.noise_const", "mapping.w_avg", ...). Layouts:
        "dense" (torch [out, in] is the Keras (in, out) transposed), "conv"
        (torch [out, in, kh, kw] is Keras (kh, kw, in, out) transposed),
        "same" (copied as is, e.g. const (C, H, W) and noise_const (H, W)).
        Values are stored as the reference stores them (N(0, 1) weights,
        divided by the learning-rate multiplier in the mapping), so
        converting is only that transpose.
        """
        return _merge(
            self.mapping.reference_weights(), self.synthesis.reference_weights()
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "latent_dim": self.latent_dim,
            "resolution": self.resolution,
            "channel_base": self.channel_base,
            "channel_max": self.channel_max,
            "mapping_layers": self.mapping_layers,
            "num_classes": self.num_classes,
            "w_dim": self.w_dim,
            "img_channels": self.img_channels,
            "num_fp16_res": self.num_fp16_res,
            "conv_clamp": self.conv_clamp,
            "style_mixing": self._style_mixing,
            "w_avg_beta": self.w_avg_beta,
            "mapping_lr_multiplier": self.mapping_lr_multiplier,
            "architecture": self.architecture,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def stylegan2_generator(
    latent_dim=512,
    resolution=256,
    channel_base=16384,
    channel_max=512,
    mapping_layers=8,
    num_classes=None,
    w_dim=512,
    img_channels=3,
    num_fp16_res=0,
    conv_clamp=None,
    style_mixing=0.9,
    w_avg_beta=0.995,
    mapping_lr_multiplier=0.01,
    architecture="skip",
    seed=None,
    name="stylegan2_generator",
):
    """The StyleGAN2 generator of stylegan2-ada-pytorch.

    Reference configurations: `paper256` is `channel_base=16384,
    mapping_layers=8` at resolution 256; `cifar` is `resolution=32,
    channel_base=32768, mapping_layers=2, style_mixing=0` (10 classes in the
    conditional runs). Both use `num_fp16_res=4, conv_clamp=256` in the
    reference's training.

    Args:
        latent_dim: Size of z.
        resolution: Output resolution: 32, 64, 128, 256, 512 or 1024.
        channel_base: Channels at resolution res are
            `min(channel_base // res, channel_max)`.
        channel_max: Maximum channels.
        mapping_layers: Fully connected layers of the mapping network.
        num_classes: None, or the number of classes of a conditional
            generator (labels embedded as in the reference).
        w_dim: Size of w.
        img_channels: Image channels (3 RGB, 1 grey).
        num_fp16_res: Number of highest resolutions computed in float16.
        conv_clamp: None or the clamp of the convolution outputs (256 in the
            reference with float16).
        style_mixing: Style-mixing probability in training.
        w_avg_beta: Decay of the tracked w average.
        mapping_lr_multiplier: Learning-rate multiplier of the mapping.
        architecture: "skip" (StyleGAN2's), "orig" or "resnet".
        seed: Seed of the noise and style-mixing randomness.
        name: Name of the model.

    Returns:
        A `StyleGAN2Generator`.

    Example:

    ```python
    generator = stylegan2_generator(latent_dim=64, w_dim=64, resolution=32,
                                    channel_base=512, channel_max=32,
                                    mapping_layers=2, num_classes=10)
    images = generator([keras.random.normal((4, 64)), keras.ops.arange(4)])
    ```
    """
    return StyleGAN2Generator(
        latent_dim=latent_dim,
        resolution=resolution,
        channel_base=channel_base,
        channel_max=channel_max,
        mapping_layers=mapping_layers,
        num_classes=num_classes,
        w_dim=w_dim,
        img_channels=img_channels,
        num_fp16_res=num_fp16_res,
        conv_clamp=conv_clamp,
        style_mixing=style_mixing,
        w_avg_beta=w_avg_beta,
        mapping_lr_multiplier=mapping_lr_multiplier,
        architecture=architecture,
        seed=seed,
        name=name,
    )


# ---------------------------------------------------------------------------
# Discriminator.


@keras.saving.register_keras_serializable(package="keras_dagan")
class DiscriminatorBlock(_Container):
    """One resolution of the discriminator (the reference's
    `DiscriminatorBlock`): `fromrgb` (first block, or every block of "skip"),
    `conv0`, `conv1` with FIR downsampling, and for "resnet" a 1x1
    downsampling `skip` with gain sqrt(0.5) on both branches.

    Args:
        in_channels: Input channels; 0 for the first block.
        tmp_channels: Channels of fromrgb and conv0.
        out_channels: Output channels.
        resolution: Input resolution.
        img_channels: Image channels.
        architecture: "orig", "skip" or "resnet".
        conv_clamp: None or the activation clamp.
        use_fp16: Whether to compute in float16.
        **kwargs: Base `keras.layers.Layer` arguments; `name` prefixes the
            sub-layers' names.

    Call arguments:
        img: None or the (N, res, res, img_channels) image.
        x: None (first block) or (N, res, res, in_channels).

    Returns:
        (x, img): features at res / 2 and, for "skip", the downsampled image.

    Example:

    ```python
    block = DiscriminatorBlock(0, 16, 32, 32, 3, name="b32")
    x, img = block(keras.random.normal((2, 32, 32, 3)))  # x: (2, 16, 16, 32)
    ```
    """

    def __init__(
        self,
        in_channels,
        tmp_channels,
        out_channels,
        resolution,
        img_channels,
        architecture="resnet",
        conv_clamp=None,
        use_fp16=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _validate_architecture(architecture)
        self.in_channels = in_channels
        self.tmp_channels = tmp_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        self.conv_clamp = conv_clamp
        self.use_fp16 = use_fp16
        res = resolution
        self.fromrgb = None
        self.skip = None
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = EqualizedConv2D(
                tmp_channels,
                1,
                activation="lrelu",
                conv_clamp=conv_clamp,
                name=f"{self.name}.fromrgb",
            )
            self.fromrgb.build((None, res, res, img_channels))
        self.conv0 = EqualizedConv2D(
            tmp_channels,
            3,
            activation="lrelu",
            conv_clamp=conv_clamp,
            name=f"{self.name}.conv0",
        )
        self.conv0.build((None, res, res, tmp_channels))
        self.conv1 = EqualizedConv2D(
            out_channels,
            3,
            activation="lrelu",
            down=2,
            conv_clamp=conv_clamp,
            name=f"{self.name}.conv1",
        )
        self.conv1.build((None, res, res, tmp_channels))
        if architecture == "resnet":
            self.skip = EqualizedConv2D(
                out_channels,
                1,
                down=2,
                use_bias=False,
                name=f"{self.name}.skip",
            )
            self.skip.build((None, res, res, tmp_channels))
        self.built = True

    def _children(self):
        return [
            layer
            for layer in (self.fromrgb, self.conv0, self.conv1, self.skip)
            if layer is not None
        ]

    def call(self, img=None, x=None):
        dtype = "float16" if self.use_fp16 else "float32"
        if x is not None:
            x = ops.cast(x, dtype)
        if self.fromrgb is not None:
            img = ops.cast(img, dtype)
            y = self.fromrgb(img)
            x = y if x is None else x + y
            img = (
                downsample_2d(img, DEFAULT_FILTER)
                if self.architecture == "skip"
                else None
            )
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x)
            x = self.conv1(x, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv0(x)
            x = self.conv1(x)
        return x, img

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "in_channels": self.in_channels,
                "tmp_channels": self.tmp_channels,
                "out_channels": self.out_channels,
                "resolution": self.resolution,
                "img_channels": self.img_channels,
                "architecture": self.architecture,
                "conv_clamp": self.conv_clamp,
                "use_fp16": self.use_fp16,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dagan")
class DiscriminatorEpilogue(_Container):
    """The 4x4 head of the discriminator (the reference's
    `DiscriminatorEpilogue`), in float32: `fromrgb` for "skip", minibatch
    standard deviation, a 3x3 `conv`, `fc` on the features flattened in the
    reference's (C, H, W) order, and `out` (1 logit, or `cmap_dim` features
    projected on the mapped label: sum(x * cmap) / sqrt(cmap_dim)).

    Args:
        in_channels: Input channels.
        cmap_dim: 0 (unconditional) or the size of the mapped label.
        resolution: Input resolution (4).
        img_channels: Image channels.
        architecture: "orig", "skip" or "resnet".
        mbstd_group_size: Group size of the minibatch stddev; None for the
            whole batch.
        mbstd_num_channels: Its appended channels; 0 to disable it.
        conv_clamp: None or the activation clamp of `conv`.
        **kwargs: Base `keras.layers.Layer` arguments; `name` prefixes the
            sub-layers' names.

    Call arguments:
        x: (N, 4, 4, in_channels).
        img: None, or the image for "skip".
        cmap: None or (N, cmap_dim).
        num_views: Contiguous views in the batch, for the minibatch stddev.

    Returns:
        (N, 1) float32 logits.

    Example:

    ```python
    head = DiscriminatorEpilogue(32, 0, 4, 3, architecture="orig", name="b4")
    logits = head(keras.random.normal((4, 4, 4, 32)))  # (4, 1)
    ```
    """

    def __init__(
        self,
        in_channels,
        cmap_dim,
        resolution,
        img_channels,
        architecture="resnet",
        mbstd_group_size=4,
        mbstd_num_channels=1,
        conv_clamp=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _validate_architecture(architecture)
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        self.mbstd_group_size = mbstd_group_size
        self.mbstd_num_channels = mbstd_num_channels
        self.conv_clamp = conv_clamp
        res = resolution
        self.fromrgb = None
        if architecture == "skip":
            self.fromrgb = EqualizedConv2D(
                in_channels, 1, activation="lrelu", name=f"{self.name}.fromrgb"
            )
            self.fromrgb.build((None, res, res, img_channels))
        self.mbstd = None
        if mbstd_num_channels > 0:
            self.mbstd = MinibatchStdDev(
                mbstd_group_size, mbstd_num_channels, name=f"{self.name}.mbstd"
            )
            self.mbstd.build((None, res, res, in_channels))
        self.conv = EqualizedConv2D(
            in_channels,
            3,
            activation="lrelu",
            conv_clamp=conv_clamp,
            name=f"{self.name}.conv",
        )
        self.conv.build((None, res, res, in_channels + mbstd_num_channels))
        self.fc = EqualizedDense(
            in_channels, activation="lrelu", name=f"{self.name}.fc"
        )
        self.fc.build((None, in_channels * res * res))
        self.out = EqualizedDense(
            1 if cmap_dim == 0 else cmap_dim, name=f"{self.name}.out"
        )
        self.out.build((None, in_channels))
        self.built = True

    def _children(self):
        return [
            layer
            for layer in (self.fromrgb, self.conv, self.fc, self.out)
            if layer is not None
        ]

    def call(self, x, img=None, cmap=None, num_views=1):
        x = ops.cast(x, "float32")
        if self.fromrgb is not None:
            x = x + self.fromrgb(ops.cast(img, "float32"))
        if self.mbstd is not None:
            x = self.mbstd(x, num_views=num_views)
        x = self.conv(x)
        # The reference flattens NCHW features: keep its (C, H, W) order so
        # that its fc weights apply unchanged.
        x = ops.reshape(
            ops.transpose(x, (0, 3, 1, 2)),
            (-1, self.in_channels * self.resolution**2),
        )
        x = self.fc(x)
        x = self.out(x)
        if self.cmap_dim > 0:
            x = ops.sum(x * cmap, axis=1, keepdims=True) * (
                1.0 / math.sqrt(self.cmap_dim)
            )
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "in_channels": self.in_channels,
                "cmap_dim": self.cmap_dim,
                "resolution": self.resolution,
                "img_channels": self.img_channels,
                "architecture": self.architecture,
                "mbstd_group_size": self.mbstd_group_size,
                "mbstd_num_channels": self.mbstd_num_channels,
                "conv_clamp": self.conv_clamp,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dagan")
class StyleGAN2Discriminator(keras.Model):
    """The StyleGAN2 discriminator (the reference's `Discriminator`); build it
    with `stylegan2_discriminator`.

    `discriminator(images)` or, conditional, `discriminator([images,
    labels])` -> (N, 1) float32 logits. Blocks b<resolution> ... b8
    (`DiscriminatorBlock`), then the 4x4 epilogue b4
    (`DiscriminatorEpilogue`); a conditional discriminator maps the one-hot
    label with a `MappingNetwork` (no z, `mapping_layers` layers, output
    `cmap_dim`) and projects the features on it.

    Call arguments:
        inputs: images or [images, labels].
        training: Unused (the computation is the same).
        num_views: The batch is `num_views` contiguous blocks (stacked views
            of DAG); the minibatch stddev stays within each.

    See `stylegan2_discriminator` for the constructor arguments.

    Example:

    ```python
    discriminator = stylegan2_discriminator(resolution=32, channel_base=512,
                                            channel_max=32)
    logits = discriminator(keras.random.normal((4, 32, 32, 3)))  # (4, 1)
    ```
    """

    def __init__(
        self,
        resolution=256,
        channel_base=16384,
        channel_max=512,
        num_classes=None,
        img_channels=3,
        architecture="resnet",
        mbstd_group_size=4,
        mbstd_num_channels=1,
        num_fp16_res=0,
        conv_clamp=None,
        cmap_dim=None,
        mapping_layers=8,
        **kwargs,
    ):
        kwargs.setdefault("name", "stylegan2_discriminator")
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        _validate_resolution(resolution, "stylegan2_discriminator")
        _validate_channels(channel_base, channel_max, resolution)
        validate_num_classes(num_classes)
        _positive_int(
            "img_channels", img_channels, " Use 3 for RGB, 1 for greyscale."
        )
        _validate_architecture(architecture)
        if mbstd_group_size is not None:
            _positive_int(
                "mbstd_group_size",
                mbstd_group_size,
                " Use None for the whole batch; the reference uses 4 (8 in paper256, 32 in cifar).",
            )
        if not _is_int(mbstd_num_channels) or mbstd_num_channels < 0:
            raise ValueError(
                f"mbstd_num_channels must be an integer >= 0; got {mbstd_num_channels!r}."
            )
        _validate_fp16(num_fp16_res, conv_clamp)
        if cmap_dim is not None:
            _positive_int("cmap_dim", cmap_dim)
        _positive_int("mapping_layers", mapping_layers)
        self.resolution = int(resolution)
        self.channel_base = int(channel_base)
        self.channel_max = int(channel_max)
        self.num_classes = num_classes
        self.img_channels = int(img_channels)
        self.architecture = architecture
        self.mbstd_group_size = mbstd_group_size
        self.mbstd_num_channels = int(mbstd_num_channels)
        self.num_fp16_res = int(num_fp16_res)
        self.conv_clamp = conv_clamp
        self.cmap_dim = cmap_dim
        self.mapping_layers = int(mapping_layers)

        self.block_resolutions = [
            2**i for i in range(int(math.log2(resolution)), 2, -1)
        ]
        channels = _channels_dict(
            self.block_resolutions + [4], channel_base, channel_max
        )
        if channels[4] % max(self.mbstd_num_channels, 1):
            raise ValueError(
                f"mbstd_num_channels ({mbstd_num_channels}) must divide the channels at "
                f"4x4 ({channels[4]})."
            )
        fp16_resolution = _fp16_resolution(resolution, num_fp16_res)
        effective_cmap = channels[4] if cmap_dim is None else cmap_dim
        if num_classes is None:
            effective_cmap = 0
        self._block_names = []
        for res in self.block_resolutions:
            block = DiscriminatorBlock(
                channels[res] if res < resolution else 0,
                channels[res],
                channels[res // 2],
                resolution=res,
                img_channels=self.img_channels,
                architecture=architecture,
                conv_clamp=conv_clamp,
                use_fp16=(res >= fp16_resolution),
                name=f"b{res}",
            )
            setattr(self, f"b{res}", block)
            self._block_names.append(f"b{res}")
        self.mapping = None
        if num_classes is not None:
            self.mapping = MappingNetwork(
                latent_dim=0,
                num_classes=num_classes,
                w_dim=effective_cmap,
                num_ws=None,
                num_layers=self.mapping_layers,
                w_avg_beta=None,
                name="mapping",
            )
        self.b4 = DiscriminatorEpilogue(
            channels[4],
            cmap_dim=effective_cmap,
            resolution=4,
            img_channels=self.img_channels,
            architecture=architecture,
            mbstd_group_size=mbstd_group_size,
            mbstd_num_channels=self.mbstd_num_channels,
            conv_clamp=conv_clamp,
            name="b4",
        )
        self.built = True

    def call(self, inputs, training=False, num_views=1):
        img, labels = _split_inputs(
            inputs, self.num_classes, "discriminator", "images, labels"
        )
        img = ops.cast(img, "float32")
        x = None
        for name in self._block_names:
            x, img = getattr(self, name)(img, x=x)
        cmap = None
        if self.mapping is not None:
            cmap = self.mapping(None, labels)
        return self.b4(x, img=img, cmap=cmap, num_views=num_views)

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if self.num_classes is not None else input_shape
        return (first[0], 1)

    def reference_weights(self):
        """Every reference `Discriminator` state_dict entry except the FIR
        `resample_filter` buffers, as {key: (variable, layout)}; see
        `StyleGAN2Generator.reference_weights`."""
        parts = [
            getattr(self, name).reference_weights()
            for name in self._block_names
        ]
        if self.mapping is not None:
            parts.append(self.mapping.reference_weights())
        parts.append(self.b4.reference_weights())
        return _merge(*parts)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "resolution": self.resolution,
            "channel_base": self.channel_base,
            "channel_max": self.channel_max,
            "num_classes": self.num_classes,
            "img_channels": self.img_channels,
            "architecture": self.architecture,
            "mbstd_group_size": self.mbstd_group_size,
            "mbstd_num_channels": self.mbstd_num_channels,
            "num_fp16_res": self.num_fp16_res,
            "conv_clamp": self.conv_clamp,
            "cmap_dim": self.cmap_dim,
            "mapping_layers": self.mapping_layers,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def stylegan2_discriminator(
    resolution=256,
    channel_base=16384,
    channel_max=512,
    num_classes=None,
    img_channels=3,
    architecture="resnet",
    mbstd_group_size=4,
    mbstd_num_channels=1,
    num_fp16_res=0,
    conv_clamp=None,
    cmap_dim=None,
    mapping_layers=8,
    name="stylegan2_discriminator",
):
    """The StyleGAN2 discriminator of stylegan2-ada-pytorch.

    Reference configurations: `paper256` is `channel_base=16384,
    mbstd_group_size=8` at resolution 256 ("resnet"); `cifar` is
    `resolution=32, channel_base=32768, architecture="orig",
    mbstd_group_size=32`. The batch (per view) must be a multiple of the
    group size, or smaller than it.

    Args:
        resolution: Input resolution: 32, 64, 128, 256, 512 or 1024.
        channel_base: Channels at resolution res are
            `min(channel_base // res, channel_max)`.
        channel_max: Maximum channels.
        num_classes: None, or the number of classes of a conditional
            (projection) discriminator.
        img_channels: Image channels.
        architecture: "resnet" (default), "skip" or "orig".
        mbstd_group_size: Minibatch-stddev group size; None for the whole
            batch.
        mbstd_num_channels: Minibatch-stddev channels; 0 disables it.
        num_fp16_res: Number of highest resolutions computed in float16.
        conv_clamp: None or the clamp of the convolution outputs.
        cmap_dim: Size of the mapped label; None is the 4x4 channels.
        mapping_layers: Layers of the label mapping (the reference's 8).
        name: Name of the model.

    Returns:
        A `StyleGAN2Discriminator`.

    Example:

    ```python
    discriminator = stylegan2_discriminator(resolution=32, channel_base=512,
                                            channel_max=32, architecture="orig")
    logits = discriminator(keras.random.normal((4, 32, 32, 3)))  # (4, 1)
    ```
    """
    return StyleGAN2Discriminator(
        resolution=resolution,
        channel_base=channel_base,
        channel_max=channel_max,
        num_classes=num_classes,
        img_channels=img_channels,
        architecture=architecture,
        mbstd_group_size=mbstd_group_size,
        mbstd_num_channels=mbstd_num_channels,
        num_fp16_res=num_fp16_res,
        conv_clamp=conv_clamp,
        cmap_dim=cmap_dim,
        mapping_layers=mapping_layers,
        name=name,
    )
