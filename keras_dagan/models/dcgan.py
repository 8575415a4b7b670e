"""DCGAN generator and discriminator for 32x32 and 64x64 images.

The all-convolutional GAN of Radford et al., "Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks" (ICLR
2016), laid out as in the PyTorch DCGAN example: the generator doubles the
resolution and halves the channels with strided transposed convolutions,
the discriminator mirrors it with strided convolutions. Everything is built
from public Keras API, so the models run on every Keras backend; images are
channels_last.

Two departures from the paper suit data-efficient training: the
discriminator has no batch normalization (it mixes statistics of real,
fake and augmented batches, and clashes with gradient penalties such as
R1), and it ends in raw logits rather than a sigmoid.
"""

import keras

from keras_dagan.models.resnet import ClassProjection
from keras_dagan.models.resnet import labels_input
from keras_dagan.models.resnet import validate_num_classes
from keras_dagan.models.resnet import validate_positive_int
from keras_dagan.models.resnet import validate_resolution

_SUPPORTED_RESOLUTIONS = (32, 64)


# N(0, 0.02) is the initialisation the DCGAN paper prescribes for every
# weight; Keras's Glorot default gives much larger weights in the wide
# early layers.
def _dcgan_init():
    return keras.initializers.RandomNormal(stddev=0.02)


def _num_doublings(resolution):
    # 4x4 -> resolution; resolution is 32 or 64, so this is 3 or 4.
    return resolution.bit_length() - 3


def dcgan_generator(
    latent_dim=128,
    resolution=32,
    width=64,
    channels=3,
    num_classes=None,
    name="dcgan_generator",
):
    """The DCGAN generator.

    `Dense(z -> 4x4xC)` with C = `width * 8` at 64x64 and `width * 4` at
    32x32, batch normalization and ReLU, then `Conv2DTranspose(kernel 4,
    stride 2)` + BN + ReLU blocks that double the resolution and halve the
    channels down to `width`, and a last `Conv2DTranspose(channels, kernel 4,
    stride 2)` to full resolution with tanh. At 64x64 with `width=64` this is
    the generator of the PyTorch DCGAN example.

    When `num_classes` is set, the label goes through a learned
    `Embedding(num_classes, latent_dim)` that is concatenated to z, so the
    dense layer sees `2 * latent_dim` inputs. Concatenation, unlike
    multiplying z by the embedding, keeps all of z's information whatever the
    embedding learns. The embedding starts N(0, 1), the distribution of z.

    The tanh runs in float32, so that under a `mixed_float16` or
    `mixed_bfloat16` policy the images still come out as float32.

    Args:
        latent_dim: Size of the latent vector z.
        resolution: Output height and width, 32 or 64.
        width: Channels of the last hidden block; earlier blocks have 2x,
            4x (and 8x at 64x64) as many.
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
    generator = dcgan_generator(resolution=64)
    images = generator(keras.random.normal((16, 128)))  # (16, 64, 64, 3)
    ```
    """
    validate_positive_int("latent_dim", latent_dim)
    validate_resolution(resolution, _SUPPORTED_RESOLUTIONS, "dcgan_generator")
    validate_positive_int("width", width)
    validate_positive_int("channels", channels)
    validate_num_classes(num_classes)

    z = keras.Input(shape=(latent_dim,), name="z")
    x = z
    if num_classes is not None:
        labels = labels_input()
        # N(0, 1) like z: Keras's default U(-0.05, 0.05) would make the
        # label a whisper next to the noise at the start of training.
        embedded = keras.layers.Embedding(
            num_classes,
            latent_dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="label_embedding",
        )(labels)
        x = keras.layers.Concatenate(name="z_and_label")([z, embedded])

    # Hidden blocks run at 4x4, 8x8, ..., resolution/2; the output
    # transposed conv makes the last doubling.
    num_hidden = _num_doublings(resolution)
    filters = width * 2 ** (num_hidden - 1)
    x = keras.layers.Dense(
        4 * 4 * filters,
        use_bias=False,
        kernel_initializer=_dcgan_init(),
        name="dense",
    )(x)
    x = keras.layers.Reshape((4, 4, filters), name="reshape")(x)
    # PyTorch's momentum and epsilon, as in the reference DCGAN: Keras's
    # default 0.99 momentum lags behind a generator whose features move
    # fast, and inference then sees stale statistics.
    x = keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, name="dense_bn"
    )(x)
    x = keras.layers.ReLU(name="dense_relu")(x)
    for index in range(1, num_hidden):
        filters //= 2
        # The bias is dropped because the batch normalization right after
        # would cancel it.
        x = keras.layers.Conv2DTranspose(
            filters,
            4,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=_dcgan_init(),
            name=f"block{index}_deconv",
        )(x)
        x = keras.layers.BatchNormalization(
            momentum=0.9, epsilon=1e-5, name=f"block{index}_bn"
        )(x)
        x = keras.layers.ReLU(name=f"block{index}_relu")(x)
    x = keras.layers.Conv2DTranspose(
        channels,
        4,
        strides=2,
        padding="same",
        kernel_initializer=_dcgan_init(),
        name="output_deconv",
    )(x)
    images = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)

    inputs = z if num_classes is None else [z, labels]
    return keras.Model(inputs, images, name=name)


def dcgan_discriminator(
    resolution=32,
    width=64,
    channels=3,
    num_classes=None,
    name="dcgan_discriminator",
):
    """The DCGAN discriminator, without batch normalization.

    `Conv2D(kernel 4, stride 2)` + `LeakyReLU(0.2)` blocks that halve the
    resolution down to 4x4, with `width` channels first and twice as many in
    each next block, then `Flatten` and `Dense(1)`. Batch normalization is
    left out on purpose: it couples the examples of a batch, which breaks
    when real, fake and augmented images are scored in separate or mixed
    batches and interacts badly with R1 penalties.

    When `num_classes` is set, the logit gains the projection term of
    Miyato & Koyama (2018), `sum(embed(labels) * features, axis=-1)`, over
    the flattened features (see `ClassProjection`); unlike in
    `resnet_discriminator`, the embedding is not spectrally normalized,
    since no other layer of this discriminator is.

    The logit is raw (no sigmoid), for losses that take logits, and float32
    even under a mixed precision policy.

    Args:
        resolution: Input height and width, 32 or 64.
        width: Channels of the first block.
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
    discriminator = dcgan_discriminator(num_classes=10)
    images = keras.random.normal((16, 32, 32, 3))
    logits = discriminator([images, keras.ops.arange(16) % 10])  # (16, 1)
    ```
    """
    validate_resolution(
        resolution, _SUPPORTED_RESOLUTIONS, "dcgan_discriminator"
    )
    validate_positive_int("width", width)
    validate_positive_int("channels", channels)
    validate_num_classes(num_classes)

    images = keras.Input(
        shape=(resolution, resolution, channels), name="images"
    )
    x = images
    filters = width
    for index in range(1, _num_doublings(resolution) + 1):
        x = keras.layers.Conv2D(
            filters,
            4,
            strides=2,
            padding="same",
            kernel_initializer=_dcgan_init(),
            name=f"block{index}_conv",
        )(x)
        x = keras.layers.LeakyReLU(0.2, name=f"block{index}_lrelu")(x)
        filters *= 2
    features = keras.layers.Flatten(name="flatten")(x)

    # float32 head: logits feed the loss, which should not run in float16.
    logits = keras.layers.Dense(
        1, kernel_initializer=_dcgan_init(), dtype="float32", name="logit"
    )(features)
    if num_classes is None:
        return keras.Model(images, logits, name=name)

    labels = labels_input()
    projection = ClassProjection(
        num_classes,
        spectral_normalization=False,
        dtype="float32",
        name="projection",
    )([features, labels])
    logits = keras.layers.Add(dtype="float32", name="logit_plus_projection")(
        [logits, projection]
    )
    return keras.Model([images, labels], logits, name=name)
