"""DiffAugment (Zhao et al., NeurIPS 2020): a policy of differentiable
augmentations applied to every image the discriminator sees."""

import keras

from keras_dagan.augment.base import BaseAugmentation, derive_seed
from keras_dagan.augment.color import RandomColor
from keras_dagan.augment.cutout import RandomCutout
from keras_dagan.augment.translation import RandomTranslation

POLICY_NAMES = ("color", "translation", "cutout")


def parse_policy(policy):
    """Turns "color,translation" or ["color", "translation"] into a tuple.

    Raises:
        ValueError: for an unknown or repeated name, naming the valid ones.
    """
    if policy is None:
        return ()
    if isinstance(policy, str):
        names = [name.strip() for name in policy.split(",")]
    elif isinstance(policy, (list, tuple)):
        names = [str(name).strip() for name in policy]
    else:
        raise ValueError(
            "policy must be a comma-separated string such as "
            f"'color,translation,cutout' or a list of names; got {policy!r}."
        )
    names = tuple(name for name in names if name)
    unknown = [name for name in names if name not in POLICY_NAMES]
    if unknown:
        raise ValueError(
            f"Unknown DiffAugment policy name(s) {unknown} in {policy!r}; "
            f"valid names are {', '.join(POLICY_NAMES)}."
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"DiffAugment policy {policy!r} names {repeated} more than once; "
            "name each transformation at most once."
        )
    return names


@keras.saving.register_keras_serializable(package="keras_dagan")
class DiffAugment(BaseAugmentation):
    """Applies a DiffAugment policy: named transformation groups, in order.

    The groups are "color" (`RandomColor`: brightness, saturation, contrast),
    "translation" (`RandomTranslation`) and "cutout" (`RandomCutout`). Each
    draws its own independent per-sample parameters on every call. The
    paper's best CIFAR policy is "color,translation,cutout"; an empty policy
    is the identity.

    To use it as the paper does, apply one instance to the real and the
    generated images in the discriminator update and to the generated images
    in the generator update (`keras_dagan.GAN` does this), so that the
    generator's gradient flows through the augmentation.

    The reference works on images in [-1, 1], the default `value_range`.
    For images in another range, say so: the layer then acts exactly as on
    the images mapped to [-1, 1] and back (brightness scales with the
    range, translation and cutout fill with its middle).

    Args:
        policy: Comma-separated string or list of group names, applied in
            the given order.
        translation_ratio: Largest translation as a fraction of the image
            size, in (0, 1]. Defaults to 1/8.
        cutout_ratio: Side of the cutout square as a fraction of the image
            size, in (0, 1]. Defaults to 1/2.
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
    augment = DiffAugment("color,translation,cutout")
    with tf.GradientTape() as tape:
        fake = generator(z)
        logits = discriminator(augment(fake))  # gradients reach the generator

    # Images in [0, 1]:
    augment = DiffAugment("color,translation,cutout", value_range=(0, 1))
    ```
    """

    def __init__(
        self,
        policy="color,translation,cutout",
        translation_ratio=0.125,
        cutout_ratio=0.5,
        value_range=(-1, 1),
        seed=None,
        data_format=None,
        jit_compile=True,
        **kwargs,
    ):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format,
                         jit_compile=jit_compile, **kwargs)
        self.policy = parse_policy(policy)
        self.translation_ratio = translation_ratio
        self.cutout_ratio = cutout_ratio
        common = {"value_range": self.value_range, "data_format": self.data_format}
        builders = {
            "color": lambda: RandomColor(**common),
            "translation": lambda: RandomTranslation(translation_ratio, **common),
            "cutout": lambda: RandomCutout(cutout_ratio, **common),
        }
        self.augmentations = [builders[name]() for name in self.policy]

    def get_random_transformation(self, images, training=True, seed=None):
        transformation = {}
        for index, (name, layer) in enumerate(zip(self.policy, self.augmentations)):
            # All groups draw from this layer's stream, or from seeds derived
            # per group from an explicit integer, so groups stay independent.
            if seed is None or isinstance(seed, keras.random.SeedGenerator):
                layer_seed = self.generator if seed is None else seed
            else:
                layer_seed = derive_seed(seed, index)
            transformation[name] = layer.get_random_transformation(
                images, training=training, seed=layer_seed
            )
        return transformation

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        for name, layer in zip(self.policy, self.augmentations):
            images = layer.transform_images(images, transformation[name])
        return images

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "policy": ",".join(self.policy),
                "translation_ratio": self.translation_ratio,
                "cutout_ratio": self.cutout_ratio,
            }
        )
        return config
