"""ResNet generator and discriminator of SNGAN / BigGAN for 32x32 images.

The CIFAR-10 architectures of Miyato et al., "Spectral Normalization for
Generative Adversarial Networks" (ICLR 2018), in the class-conditional form
of Miyato & Koyama, "cGANs with Projection Discriminator" (ICLR 2018), which
BigGAN (Brock et al., 2019) also uses at 32x32 and which the DiffAugment
CIFAR experiments train. Everything is built from public Keras API, so the
models run on every Keras backend; images are channels_last.

The module also holds the layers those models share with the DCGAN ones:
`ConditionalBatchNorm`, `ClassProjection` and `GlobalSumPooling2D`.
"""

import keras
from keras import ops

_SUPPORTED_RESOLUTIONS = (32,)


# Glorot uniform with gain sqrt(2) (VarianceScaling takes gain**2), the
# initialiser SNGAN gives the 3x3 convolutions that precede a ReLU; the
# shortcut and output layers keep plain Glorot uniform (gain 1).
def _residual_init():
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_avg", distribution="uniform"
    )


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate_positive_int(name, value):
    """Raises a ValueError unless `value` is an integer >= 1."""
    if not _is_int(value) or value < 1:
        raise ValueError(
            f"{name} must be a positive integer; got {value!r}. Pass an int "
            f">= 1 (tests use small values such as 8 to keep models cheap)."
        )


def validate_num_classes(num_classes):
    """Raises a ValueError unless `num_classes` is None or an integer >= 2."""
    if num_classes is None:
        return
    if not _is_int(num_classes) or num_classes < 2:
        raise ValueError(
            f"num_classes must be None (unconditional) or an integer >= 2; "
            f"got {num_classes!r}. A single class carries no information: "
            "use num_classes=None for an unconditional model."
        )


def validate_resolution(resolution, supported, architecture):
    """Raises a ValueError unless `resolution` is one of `supported`."""
    if not _is_int(resolution) or resolution not in supported:
        raise ValueError(
            f"{architecture} supports resolution in {supported}; got "
            f"resolution={resolution!r}. Resize the data to a supported "
            "resolution or pick another architecture."
        )


def labels_input():
    """The (N,) int32 class-label input of the conditional models."""
    return keras.Input(shape=(), dtype="int32", name="labels")


@keras.saving.register_keras_serializable(package="keras_dagan")
class ConditionalBatchNorm(keras.layers.Layer):
    """Batch normalization with a per-class scale and offset.

    Normalizes `x` with `BatchNormalization(center=False, scale=False)`, then
    applies `gamma[label] * x + beta[label]`, with `gamma` and `beta` looked
    up in two `Embedding(num_classes, channels)` tables. `gamma` starts at 1
    and `beta` at 0, so a fresh layer equals plain, unconditional batch
    normalization and the class information is learned from there (de Vries
    et al. 2017; Miyato & Koyama 2018).

    Call it on a list `[x, labels]`: `x` of shape (N, ..., channels) (any
    rank >= 2, channels last) and `labels` integer class indices of shape
    (N,) or (N, 1). The output has the shape of `x`.

    Args:
        num_classes: Number of classes, an integer >= 2.
        momentum: Momentum of the moving mean and variance. The default,
            0.9, is PyTorch's 0.1, which the reference GAN code uses.
        epsilon: Small float added to the variance. The default, 1e-5,
            is PyTorch's.
        **kwargs: Base `keras.layers.Layer` arguments such as `name`.

    Returns:
        A tensor of the shape and dtype of `x`.

    Example:

    ```python
    x = keras.random.normal((8, 16, 16, 32))
    labels = keras.ops.arange(8) % 10
    y = ConditionalBatchNorm(10)([x, labels], training=True)
    ```
    """

    def __init__(self, num_classes, momentum=0.9, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        validate_num_classes(num_classes)
        if num_classes is None:
            raise ValueError(
                "ConditionalBatchNorm needs num_classes, an integer >= 2; got "
                "None. Use keras.layers.BatchNormalization without labels."
            )
        self.num_classes = num_classes
        self.momentum = momentum
        self.epsilon = epsilon
        # Sub-layers follow this layer's dtype policy, so that
        # ConditionalBatchNorm(dtype="float32") is float32 all the way down.
        self.batch_norm = keras.layers.BatchNormalization(
            momentum=momentum,
            epsilon=epsilon,
            center=False,
            scale=False,
            dtype=self.dtype_policy,
            name="batch_norm",
        )
        self.gamma = None
        self.beta = None

    def build(self, input_shape):
        x_shape, labels_shape = input_shape
        channels = x_shape[-1]
        if channels is None:
            raise ValueError(
                "ConditionalBatchNorm needs a static channel (last) axis; got "
                f"input shape {tuple(x_shape)}."
            )
        self.batch_norm.build(x_shape)
        self.gamma = keras.layers.Embedding(
            self.num_classes,
            channels,
            embeddings_initializer="ones",
            dtype=self.dtype_policy,
            name="gamma",
        )
        self.beta = keras.layers.Embedding(
            self.num_classes,
            channels,
            embeddings_initializer="zeros",
            dtype=self.dtype_policy,
            name="beta",
        )
        self.gamma.build(labels_shape)
        self.beta.build(labels_shape)

    def call(self, inputs, training=None):
        x, labels = inputs
        # Accept (N,) and (N, 1) labels alike.
        labels = ops.reshape(labels, (-1,))
        x = self.batch_norm(x, training=training)
        # (N, C) -> (N, 1, ..., 1, C) to broadcast over every spatial axis.
        broadcast_shape = (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],)
        gamma = ops.reshape(self.gamma(labels), broadcast_shape)
        beta = ops.reshape(self.beta(labels), broadcast_shape)
        return x * ops.cast(gamma, x.dtype) + ops.cast(beta, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dagan")
class ClassProjection(keras.layers.Layer):
    """The class term of a projection discriminator (Miyato & Koyama 2018).

    Returns `sum(embed(labels) * features, axis=-1)` with shape (N, 1), which
    a conditional discriminator adds to its unconditional logit.

    The embedding is a bias-free `Dense(features_dim)` applied to the one-hot
    labels, which computes exactly `Embedding(num_classes, features_dim)`.
    That form lets `keras.layers.SpectralNormalization` wrap it: the wrapper
    accepts an `Embedding` but casts its output to the dtype of the integer
    labels, which would truncate the embedding.

    Args:
        num_classes: Number of classes, an integer >= 2.
        spectral_normalization: Whether to spectrally normalize the
            embedding, as SNGAN / BigGAN discriminators do.
        **kwargs: Base `keras.layers.Layer` arguments such as `name`.

    Returns:
        A (N, 1) tensor: the per-example class term of the logit.

    Example:

    ```python
    features = keras.random.normal((8, 128))
    labels = keras.ops.arange(8) % 10
    term = ClassProjection(10)([features, labels])  # (8, 1)
    ```
    """

    def __init__(self, num_classes, spectral_normalization=True, **kwargs):
        super().__init__(**kwargs)
        validate_num_classes(num_classes)
        if num_classes is None:
            raise ValueError(
                "ClassProjection needs num_classes, an integer >= 2; got None."
            )
        self.num_classes = num_classes
        self.spectral_normalization = spectral_normalization
        self.embedding = None

    def build(self, input_shape):
        features_shape, _ = input_shape
        features_dim = features_shape[-1]
        embedding = keras.layers.Dense(
            features_dim,
            use_bias=False,
            dtype=self.dtype_policy,
            name="embedding",
        )
        if self.spectral_normalization:
            embedding = keras.layers.SpectralNormalization(
                embedding, dtype=self.dtype_policy, name="sn_embedding"
            )
        embedding.build((None, self.num_classes))
        self.embedding = embedding

    def call(self, inputs, training=None):
        features, labels = inputs
        labels = ops.reshape(labels, (-1,))
        one_hot = ops.one_hot(labels, self.num_classes, dtype=features.dtype)
        embedded = self.embedding(one_hot, training=training)
        return ops.sum(embedded * features, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "spectral_normalization": self.spectral_normalization,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dagan")
class GlobalSumPooling2D(keras.layers.Layer):
    """Sums a channels_last (N, H, W, C) batch over H and W into (N, C).

    SNGAN / BigGAN discriminators sum rather than average: the logit then
    scales with the image area, which the spectrally normalized layers
    otherwise keep small.

    Args:
        **kwargs: Base `keras.layers.Layer` arguments such as `name`.

    Returns:
        A (N, C) tensor.

    Example:

    ```python
    pooled = GlobalSumPooling2D()(keras.ops.ones((2, 4, 4, 3)))  # all 16.0
    ```
    """

    def call(self, inputs):
        return ops.sum(inputs, axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def _batch_norm(x, labels, num_classes, name):
    # Momentum and epsilon of the reference (PyTorch) SNGAN / BigGAN code;
    # see ConditionalBatchNorm.
    if num_classes is None:
        return keras.layers.BatchNormalization(
            momentum=0.9, epsilon=1e-5, name=name
        )(x)
    return ConditionalBatchNorm(num_classes, name=name)([x, labels])


def _generator_block(x, labels, filters, num_classes, name):
    shortcut = keras.layers.UpSampling2D(
        2, interpolation="nearest", name=f"{name}_shortcut_upsample"
    )(x)
    shortcut = keras.layers.Conv2D(filters, 1, name=f"{name}_shortcut_conv")(
        shortcut
    )

    x = _batch_norm(x, labels, num_classes, f"{name}_bn1")
    x = keras.layers.ReLU(name=f"{name}_relu1")(x)
    x = keras.layers.UpSampling2D(
        2, interpolation="nearest", name=f"{name}_upsample"
    )(x)
    x = keras.layers.Conv2D(
        filters,
        3,
        padding="same",
        kernel_initializer=_residual_init(),
        name=f"{name}_conv1",
    )(x)
    x = _batch_norm(x, labels, num_classes, f"{name}_bn2")
    x = keras.layers.ReLU(name=f"{name}_relu2")(x)
    x = keras.layers.Conv2D(
        filters,
        3,
        padding="same",
        kernel_initializer=_residual_init(),
        name=f"{name}_conv2",
    )(x)
    return keras.layers.Add(name=f"{name}_add")([x, shortcut])


def resnet_generator(
    latent_dim=128,
    resolution=32,
    width=256,
    channels=3,
    num_classes=None,
    name="resnet_generator",
):
    """The SNGAN / BigGAN ResNet generator for 32x32 images.

    `Dense(z -> 4x4xwidth)`, three residual up blocks (BN, ReLU, nearest x2
    upsampling, 3x3 conv, BN, ReLU, 3x3 conv; shortcut: upsampling and 1x1
    conv) to 32x32, then BN, ReLU, a 3x3 conv to `channels` and tanh.
    `width=256` is the SNGAN CIFAR-10 generator.

    When `num_classes` is set, every batch normalization inside the residual
    blocks is a `ConditionalBatchNorm`, whose per-class scale starts at 1 and
    offset at 0: a fresh conditional generator ignores its labels until
    training moves those tables. The batch normalization before the output
    conv stays unconditional, as in SNGAN.

    The tanh runs in float32, so that under a `mixed_float16` or
    `mixed_bfloat16` policy the images still come out as float32.

    Args:
        latent_dim: Size of the latent vector z.
        resolution: Output height and width; only 32 is supported.
        width: Channels of every residual block.
        channels: Channels of the output images.
        num_classes: None for an unconditional generator, or the number of
            classes (>= 2) of a class-conditional one.
        name: Name of the model.

    Returns:
        A `keras.Model` mapping z of shape (N, latent_dim) - or
        `[z, labels]` with int32 labels of shape (N,) when `num_classes` is
        set - to float32 images in [-1, 1] of shape
        (N, resolution, resolution, channels).

    Example:

    ```python
    generator = resnet_generator(num_classes=10)
    z = keras.random.normal((16, 128))
    images = generator([z, keras.ops.arange(16) % 10])  # (16, 32, 32, 3)
    ```
    """
    validate_positive_int("latent_dim", latent_dim)
    validate_resolution(resolution, _SUPPORTED_RESOLUTIONS, "resnet_generator")
    validate_positive_int("width", width)
    validate_positive_int("channels", channels)
    validate_num_classes(num_classes)

    z = keras.Input(shape=(latent_dim,), name="z")
    labels = None if num_classes is None else labels_input()

    x = keras.layers.Dense(4 * 4 * width, name="dense")(z)
    x = keras.layers.Reshape((4, 4, width), name="reshape")(x)
    for index in range(3):  # 4 -> 8 -> 16 -> 32
        x = _generator_block(x, labels, width, num_classes, f"block{index + 1}")
    x = keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, name="output_bn"
    )(x)
    x = keras.layers.ReLU(name="output_relu")(x)
    x = keras.layers.Conv2D(channels, 3, padding="same", name="output_conv")(x)
    images = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)

    inputs = z if num_classes is None else [z, labels]
    return keras.Model(inputs, images, name=name)


def _sn_conv(filters, kernel_size, name, kernel_initializer="glorot_uniform"):
    return keras.layers.SpectralNormalization(
        keras.layers.Conv2D(
            filters,
            kernel_size,
            padding="same",
            kernel_initializer=kernel_initializer,
            name=f"{name}_inner",
        ),
        name=name,
    )


def _discriminator_block(x, filters, downsample, first, name):
    """A SNGAN discriminator block; `first` is the "optimized" first block,
    which starts with a conv instead of a ReLU because its input is the
    image itself."""
    needs_projection = downsample or first or x.shape[-1] != filters
    shortcut = x
    if first:
        # Pool first: the 1x1 conv then runs on 4x fewer pixels, and the two
        # orders are equal because both are linear.
        shortcut = keras.layers.AveragePooling2D(
            2, name=f"{name}_shortcut_pool"
        )(shortcut)
        shortcut = _sn_conv(filters, 1, f"{name}_shortcut_conv")(shortcut)
    elif needs_projection:
        shortcut = _sn_conv(filters, 1, f"{name}_shortcut_conv")(shortcut)
        if downsample:
            shortcut = keras.layers.AveragePooling2D(
                2, name=f"{name}_shortcut_pool"
            )(shortcut)

    if not first:
        x = keras.layers.ReLU(name=f"{name}_relu1")(x)
    x = _sn_conv(filters, 3, f"{name}_conv1", _residual_init())(x)
    x = keras.layers.ReLU(name=f"{name}_relu2")(x)
    x = _sn_conv(filters, 3, f"{name}_conv2", _residual_init())(x)
    if downsample:
        x = keras.layers.AveragePooling2D(2, name=f"{name}_pool")(x)
    return keras.layers.Add(name=f"{name}_add")([x, shortcut])


def resnet_discriminator(
    resolution=32,
    width=128,
    channels=3,
    num_classes=None,
    name="resnet_discriminator",
):
    """The SNGAN / BigGAN ResNet discriminator for 32x32 images.

    An "optimized" first down block (3x3 conv, ReLU, 3x3 conv, 2x2 average
    pooling; shortcut: pooling and 1x1 conv), a down block (ReLU, 3x3 conv,
    ReLU, 3x3 conv, pooling; shortcut: 1x1 conv and pooling), two blocks
    without downsampling (identity shortcut), then ReLU, a sum over height
    and width, and `Dense(1)`. Every `Conv2D` and `Dense` is wrapped in
    `keras.layers.SpectralNormalization`. `width=128` is the SNGAN CIFAR-10
    discriminator.

    When `num_classes` is set, the logit gains the projection term of
    Miyato & Koyama (2018), `sum(embed(labels) * features, axis=-1)`; see
    `ClassProjection`. Its embedding is spectrally normalized as well.

    The logit is raw (no sigmoid), for losses that take logits, and float32
    even under a mixed precision policy.

    Note that `keras.layers.SpectralNormalization` normalizes the wrapped
    kernel in place on every call with `training=True` (one power
    iteration) and uses the stored kernel otherwise, so a discriminator
    that has never been called in training mode is not yet normalized.

    Args:
        resolution: Input height and width; only 32 is supported.
        width: Channels of every residual block.
        channels: Channels of the input images.
        num_classes: None for an unconditional discriminator, or the number
            of classes (>= 2) of a class-conditional one.
        name: Name of the model.

    Returns:
        A `keras.Model` mapping images of shape
        (N, resolution, resolution, channels) - or `[images, labels]` with
        int32 labels of shape (N,) when `num_classes` is set - to float32
        logits of shape (N, 1).

    Example:

    ```python
    discriminator = resnet_discriminator()
    logits = discriminator(keras.random.normal((16, 32, 32, 3)))  # (16, 1)
    ```
    """
    validate_resolution(
        resolution, _SUPPORTED_RESOLUTIONS, "resnet_discriminator"
    )
    validate_positive_int("width", width)
    validate_positive_int("channels", channels)
    validate_num_classes(num_classes)

    images = keras.Input(
        shape=(resolution, resolution, channels), name="images"
    )
    x = _discriminator_block(images, width, True, True, "block1")  # 16x16
    x = _discriminator_block(x, width, True, False, "block2")  # 8x8
    x = _discriminator_block(x, width, False, False, "block3")
    x = _discriminator_block(x, width, False, False, "block4")
    x = keras.layers.ReLU(name="relu")(x)
    features = GlobalSumPooling2D(name="sum_pool")(x)

    # float32 head: logits feed the loss, which should not run in float16.
    logits = keras.layers.SpectralNormalization(
        keras.layers.Dense(1, dtype="float32", name="logit_inner"),
        dtype="float32",
        name="logit",
    )(features)
    if num_classes is None:
        return keras.Model(images, logits, name=name)

    labels = labels_input()
    projection = ClassProjection(
        num_classes, dtype="float32", name="projection"
    )([features, labels])
    logits = keras.layers.Add(dtype="float32", name="logit_plus_projection")(
        [logits, projection]
    )
    return keras.Model([images, labels], logits, name=name)
