"""Consistency regularization of the discriminator: CR (Zhang et al.,
"Consistency Regularization for Generative Adversarial Networks", ICLR
2020) and its balanced form bCR (Zhao et al., "Improved Consistency
Regularization for GANs", AAAI 2021).

    weight_real * E[(D(v) - D(T(v)))^2]  +  weight_fake * E[(D(u) - D(T(u)))^2]

v is a real image as D scores it in its loss and u a generated one (bCR's
fake term; the fakes are those of D's update, without gradient to G). The
partner view is, as mit-han-lab/data-efficient-gans's BigGAN code builds it
(`G_D.forward` with `CR_augment`): with a transform T, T applied to the
view D scores (DiffAugment(x) when DiffAugment is on, so the pair is
(DiffAugment(x), T(DiffAugment(x)))); without one, the image before D's
augmentation (the pair (DiffAugment(x), x) of its 10 % and 20 % scripts,
`--CR_augment ""`). The gradient flows through both views, to D only.
"""

import numbers

import keras
from keras import ops

from keras_dagan.augment.base import BaseAugmentation
from keras_dagan.augment.diff_augment import DiffAugment


@keras.saving.register_keras_serializable(package="keras_dagan")
class ConsistencyAugment(BaseAugmentation):
    """The transform T of CR as the DiffAugment BigGAN code's `--CR_augment`
    spells it: an optional "flip," prefix, a left-right flip of each image
    with probability 1/2, then a DiffAugment policy ("translation",
    "color,cutout", ...). Its default, "flip,translation", is the one of
    the DiffAugment-cr scripts with all the data.

    Args:
        policy: "flip," or nothing, then DiffAugment policy names.
        value_range: (low, high) range of the pixel values; (-1, 1) by
            default, as the GAN's.
        seed: Integer seed for reproducible draws, or None.
        data_format: "channels_last" or "channels_first".
        jit_compile: Compile the transformation with XLA on TensorFlow.
        **kwargs: Base layer arguments such as `name`.

    Example:

    ```python
    transform = ConsistencyAugment("flip,translation")
    penalty = (D(view) - D(transform(view))) ** 2
    ```
    """

    def __init__(self, policy="flip,translation", value_range=(-1, 1), seed=None,
                 data_format=None, jit_compile=True, **kwargs):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format,
                         jit_compile=jit_compile, **kwargs)
        self.policy = policy
        self.flip = policy == "flip" or policy.startswith("flip,")
        rest = policy[len("flip"):].lstrip(",") if self.flip else policy
        self.diff_augment = DiffAugment(rest, value_range=value_range, data_format=data_format,
                                        jit_compile=jit_compile)

    def get_random_transformation(self, images, training=True, seed=None):
        transformation = {"diff_augment": self.diff_augment.get_random_transformation(
            images, training=training, seed=self.generator if seed is None else seed)}
        if self.flip:
            (u,) = self.draw_uniform(images, 1, seed)
            transformation["flip"] = u < 0.5
        return transformation

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        if self.flip:
            width_axis = 3 if self.data_format == "channels_first" else 2
            flipped = ops.flip(images, axis=width_axis)
            images = ops.where(ops.reshape(transformation["flip"], (-1, 1, 1, 1)), flipped,
                               images)
        return self.diff_augment.transform_images(images, transformation["diff_augment"])

    def get_config(self):
        config = super().get_config()
        config["policy"] = self.policy
        return config


def _check_weight(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(
            f"{name} must be a number >= 0 (0 disables the term; the DiffAugment-cr "
            f"scripts use 10); got {value!r}."
        )
    return float(value)


class ConsistencyRegularization:
    """CR (`weight_fake=0`) or bCR (both weights > 0) of the discriminator.

    Args:
        weight_real: Weight of the real term (the DiffAugment-cr scripts'
            `--CR 10`; bCR: 10).
        weight_fake: Weight of the fake term (bCR: 10; CR: 0).
        transform: A Keras layer T making the partner view from the view D
            scores (e.g. `ConsistencyAugment("flip,translation")`), or
            None: the partner is the image before D's augmentation.

    Example:

    ```python
    cr = ConsistencyRegularization(weight_real=10.0)
    per_sample = cr.weight_real * cr.penalty(D(augment(x)), D(x))
    ```
    """

    def __init__(self, weight_real=0.0, weight_fake=0.0, transform=None):
        self.weight_real = _check_weight("cr_weight_real", weight_real)
        self.weight_fake = _check_weight("cr_weight_fake", weight_fake)
        self.transform = transform

    @property
    def enabled(self):
        return self.weight_real > 0 or self.weight_fake > 0

    def weights(self):
        """(path, weight) of the enabled terms: path 0 the reals, 1 the
        fakes (the GAN's path numbers)."""
        return [(path, weight) for path, weight in ((0, self.weight_real), (1, self.weight_fake))
                if weight > 0]

    def check_partner(self, augment, augmented_paths):
        """Raises a ValueError naming the fix when a term would be 0: without
        `transform`, a path D does not augment has the same image on both
        sides of the pair. Also checks a `transform`'s value range.

        Args:
            augment: The GAN's augmentation layer, or None.
            augmented_paths: Whether each of the GAN's paths (D reals, D
                fakes, G fakes) is augmented (`AUGMENT_MODES[mode]`).
        """
        transform = self.transform
        if isinstance(transform, BaseAugmentation) and transform.value_range != (-1.0, 1.0):
            raise ValueError(
                f"The GAN's images are in [-1, 1], but cr_augment {transform.name!r} has "
                f"value_range={transform.value_range}; build it with the default "
                "value_range=(-1, 1)."
            )
        if transform is not None:
            return
        for path, _ in self.weights():
            if augment is None or not augmented_paths[path]:
                side = "real" if path == 0 else "fake"
                raise ValueError(
                    f"cr_weight_{side} > 0 without cr_augment compares D's view of the {side} "
                    f"images with the images before augmentation, but D does not augment them "
                    f"(augment={augment!r}, augmented paths {augmented_paths}), so the penalty "
                    "would be 0. Pass cr_augment (a layer such as DiffAugment('translation')) "
                    "or augment that path."
                )

    @staticmethod
    def penalty(logits, partner_logits):
        """The per-sample squared difference (D(v_i) - D(v'_i))^2, shape
        (N,): its mean is the reference's `torch.mean((D_real_aug -
        D_real) ** 2)`."""
        return (logits - partner_logits) ** 2
