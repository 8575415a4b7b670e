"""DAG: data augmentation optimized for GAN, with one discriminator head per
transformation.

Tran et al., "On Data Augmentation for GAN Training" (2020). Rather than
making D invariant to augmentations, or letting G learn the augmented
distribution, DAG gives D a head D_k per transformation T_k on a shared
trunk. Head k learns T_k(x) against T_k(G(z)); G is trained against all
heads:

    L = L(D_0; x, G(z)) + weight / K * sum_k L(D_k; T_k(x), T_k(G(z)))

Head 0 keeps the original GAN objective, and each D_k compares T_k(p_data)
with T_k(p_G), whose JS divergence equals that of p_data and p_G when T_k is
invertible (rotations, flips): the objective still minimises the JS
divergence to the original distribution, so the augmentations do not leak
into the samples, while the shared trunk learns from K + 1 times as many
views. `DAG` holds the transformations and weights and goes to
`keras_dagan.GAN(dag=...)`; `DAGDiscriminator` is the multi-head
discriminator; `dag_discriminator` builds one from the bundled
architectures.
"""

import math

import keras
from keras import ops

from keras_dagan.augment.base import _standardize_data_format
from keras_dagan.augment.cutout import RandomCutout
from keras_dagan.augment.translation import RandomTranslation
from keras_dagan.models.dag_transforms import (
    DETERMINISTIC_TRANSFORMS,
    RANDOM_TRANSFORMS,
    parse_transforms,
)
from keras_dagan.models.resnet import validate_positive_int


def _validate_weight(name, value, allow_zero):
    valid = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not valid:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"{name} must be a finite number {bound}; got {value!r}. The paper "
            "uses 1.0 on CIFAR-10; use dag=None to train without DAG."
        )


class DAG:
    """The transformations and loss weights of DAG, for `GAN(dag=...)`.

    Head 0 of the discriminator sees the images themselves; head k sees
    T_k(images). With per-sample losses L_k of head k (the GAN's `loss` on
    T_k(x) and T_k(G(z))), the discriminator minimises

        L_0 + weight / K * (L_1 + ... + L_K)

    and the generator the same sum of its own losses with
    `generator_weight`. K counts transformations, so the identity head has
    the weight of all the others together when `weight` is 1.

    Transformations: a group name stands for several heads, a single name
    such as "rotate90" for one.

    - "rotation": rotate90, rotate180, rotate270 (counterclockwise).
    - "flipping": flip_left_right, flip_up_down.
    - "cropping": crop_top_left, crop_top_right, crop_bottom_left,
      crop_bottom_right: a 75 % corner crop resized back (bilinear).
    - "translation": DiffAugment's random shift (`RandomTranslation`,
      ratio 1/8), one head.
    - "cutout": DiffAugment's random square (`RandomCutout`, ratio 1/2),
      one head.

    Rotation needs square images. The two random transformations draw new
    per-sample parameters on every use, through
    `get_random_transformation`; the others are fixed.

    Args:
        transforms: Comma-separated string or list of group or single
            names, in head order. Defaults to the paper's "rotation" and
            "cropping".
        weight: Weight (lambda) of the transformed heads in D's loss, > 0.
        generator_weight: Weight of the transformed heads in G's loss,
            >= 0; None uses `weight`.
        data_format: "channels_last" or "channels_first"; defaults to
            `keras.config.image_data_format()`.

    Example:

    ```python
    dag = DAG(["rotation", "cropping"])                 # 7 transforms, 8 heads
    discriminator = dag_discriminator(resnet_discriminator(), dag.num_heads)
    gan = keras_dagan.GAN(generator, discriminator, latent_dim=128, dag=dag)
    ```
    """

    def __init__(
        self,
        transforms=("rotation", "cropping"),
        weight=1.0,
        generator_weight=None,
        data_format=None,
    ):
        self.transforms = parse_transforms(transforms)
        _validate_weight("weight", weight, allow_zero=False)
        if generator_weight is None:
            generator_weight = weight
        _validate_weight("generator_weight", generator_weight, allow_zero=True)
        self.weight = float(weight)
        self.generator_weight = float(generator_weight)
        self.data_format = _standardize_data_format(data_format)
        builders = {
            "translation": lambda: RandomTranslation(data_format=self.data_format),
            "cutout": lambda: RandomCutout(data_format=self.data_format),
        }
        self._random_layers = {
            name: builders[name]()
            for name in self.transforms
            if name in RANDOM_TRANSFORMS
        }

    @property
    def head_names(self):
        """Name of each head: "identity", then one per transformation."""
        return ("identity",) + self.transforms

    @property
    def num_heads(self):
        """K + 1: the identity head and one head per transformation."""
        return len(self.transforms) + 1

    def get_random_transformation(self, images, training=True, seed=None):
        """Draws the parameters of the random transformations for `images`.

        Args:
            images: Float batch, rank 4; only its size is read.
            training: Unused; kept for the signature of
                `keras_dagan.augment.BaseAugmentation`.
            seed: None (each layer's own stream), a
                `keras.random.SeedGenerator` or an integer, as in
                `BaseAugmentation.draw_uniform`.

        Returns:
            A dict from "translation" and "cutout" (those in use) to their
            per-sample parameters; empty when all transformations are
            deterministic.
        """
        return {
            name: layer.get_random_transformation(images, seed=seed)
            for name, layer in self._random_layers.items()
        }

    def transform_images(self, images, transformation):
        """Stacks the views of every head: images, T_1(images), ..., T_K(images).

        Args:
            images: Float batch (N, H, W, C), or (N, C, H, W) for
                "channels_first".
            transformation: The output of `get_random_transformation` for
                these images.

        Returns:
            (num_heads, N, ...) tensor of the same dtype; view k is what
            head k scores.
        """
        views = [images]
        for name in self.transforms:
            if name in self._random_layers:
                view = self._random_layers[name].transform_images(
                    images, transformation[name]
                )
            else:
                view = DETERMINISTIC_TRANSFORMS[name](
                    images, data_format=self.data_format
                )
            views.append(view)
        return ops.stack(views)

    def combine(self, per_head_losses, weight):
        """Sums per-head losses into the DAG objective.

        Args:
            per_head_losses: (num_heads, N) per-sample losses, row k from
                head k.
            weight: `self.weight` for D's loss, `self.generator_weight` for
                G's.

        Returns:
            (N,) per-sample losses L_0 + weight / K * sum_k L_k.
        """
        transformed = ops.sum(per_head_losses[1:], axis=0)
        return per_head_losses[0] + (weight / len(self.transforms)) * transformed


def _one_per_head(layer, num_heads, argument):
    """`layer` for head 0 and fresh copies of its configuration for the
    others, or the given list of one layer per head."""
    if isinstance(layer, (list, tuple)):
        if len(layer) != num_heads:
            raise ValueError(
                f"{argument} must be one layer, or a list of num_heads="
                f"{num_heads} layers; got a list of {len(layer)}."
            )
        return list(layer)
    copies = []
    for index in range(1, num_heads):
        config = layer.get_config()
        config["name"] = f"{layer.name}_{index}"
        copies.append(type(layer).from_config(config))
    return [layer] + copies


@keras.saving.register_keras_serializable(package="keras_dagan")
class DAGDiscriminator(keras.Model):
    """A discriminator with one linear head per DAG transformation.

    A shared `trunk` maps images to features; head k maps features to the
    logit of view k. When conditional, each head adds its own projection
    term (Miyato & Koyama 2018) over the same features. Head 0 uses the
    given `head` and `projection` layers themselves; heads 1..K are fresh
    copies of their configuration (same type, initialiser, dtype, spectral
    normalization), with their own weights. (The authors' BigGAN code
    shares one class embedding among its heads; separate ones let each
    head weigh the classes for its own transformation.)

    Call it on a stack of views (num_views, N, H, W, C) - or
    `[views, labels]` with (N,) int labels when conditional - and it
    returns (num_views, N) float logits, row k scored by head `heads[k]`.
    The trunk runs once on all views together, which equals running it per
    view only because it treats every sample on its own: a trunk with
    batch normalization would mix views (ours have none). A spectrally
    normalized trunk then also makes one power iteration per call, as
    without DAG.

    Args:
        trunk: Keras model or layer mapping images (N, H, W, C) to features
            (N, F).
        num_heads: Number of heads, K + 1 >= 2 (`DAG.num_heads`).
        head: Layer mapping features to (N, 1) logits, used as head 0 and
            copied for the others, or a list of `num_heads` such layers.
            Defaults to a float32 `Dense(1)`.
        projection: None for an unconditional discriminator, or a layer
            mapping `[features, labels]` to a (N, 1) class term, such as
            `keras_dagan.models.ClassProjection`, used and copied like
            `head` (or a list of `num_heads`).
        **kwargs: `keras.Model` arguments such as `name`.

    Example:

    ```python
    trunk = keras.Sequential([keras.Input((32, 32, 3)),
                              keras.layers.Conv2D(64, 4, strides=2),
                              keras.layers.LeakyReLU(0.2),
                              keras.layers.GlobalAveragePooling2D()])
    discriminator = DAGDiscriminator(trunk, num_heads=4,
                                     projection=ClassProjection(10))
    views = keras.random.normal((4, 16, 32, 32, 3))
    logits = discriminator([views, keras.ops.arange(16) % 10])  # (4, 16)
    ```
    """

    def __init__(self, trunk, num_heads, head=None, projection=None, **kwargs):
        super().__init__(**kwargs)
        validate_positive_int("num_heads", num_heads)
        if num_heads < 2:
            raise ValueError(
                f"num_heads must be >= 2 (the identity head and one per "
                f"transformation); got {num_heads}. Pass DAG.num_heads."
            )
        self.trunk = trunk
        if head is None:
            head = keras.layers.Dense(1, dtype="float32", name="head")
        self.heads = _one_per_head(head, num_heads, "head")
        self.projections = None
        if projection is not None:
            self.projections = _one_per_head(projection, num_heads, "projection")

    @property
    def num_heads(self):
        """K + 1: the identity head and one head per transformation."""
        return len(self.heads)

    @property
    def conditional(self):
        """Whether the heads take class labels (a projection was given)."""
        return self.projections is not None

    def build(self, input_shape):
        views_shape = input_shape[0] if self.conditional else input_shape
        features_shape = self.trunk.compute_output_shape((None,) + tuple(views_shape[2:]))
        for head in self.heads:
            if not head.built:
                head.build(features_shape)
        for projection in self.projections or ():
            if not projection.built:
                projection.build([features_shape, (None,)])
        self.built = True

    def call(self, inputs, heads=None, training=None):
        """Scores a stack of views.

        Args:
            inputs: (num_views, N, H, W, C) views, or `[views, labels]` when
                conditional.
            heads: Head index of each view; defaults to all heads in order,
                which needs num_views == num_heads.
            training: Passed to the trunk and heads.

        Returns:
            (num_views, N) logits.
        """
        views, labels, heads = self._split_views(inputs, heads)
        images = ops.reshape(views, (-1,) + tuple(views.shape[2:]))
        features = self.trunk(images, training=training)
        features = ops.reshape(features, (len(heads), -1) + tuple(features.shape[1:]))
        logits = []
        for position, index in enumerate(heads):
            logit = self.heads[index](features[position], training=training)
            if self.conditional:
                logit = logit + self.projections[index](
                    [features[position], labels], training=training
                )
            logits.append(ops.reshape(logit, (-1,)))
        return ops.stack(logits)

    def _split_views(self, inputs, heads):
        """(views, labels or None, the head of each view), checked."""
        views, labels = inputs if self.conditional else (inputs, None)
        heads = tuple(range(self.num_heads)) if heads is None else tuple(heads)
        if views.shape[0] != len(heads):
            raise ValueError(
                f"{self.name} got {views.shape[0]} views for heads {heads}; "
                "pass one view per head, stacked on axis 0."
            )
        return views, labels, heads

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "trunk": keras.saving.serialize_keras_object(self.trunk),
                "num_heads": self.num_heads,
                # Every head, not a template: copying a layer while Keras
                # loads a model would make the copies share their sublayers.
                "head": [keras.saving.serialize_keras_object(h) for h in self.heads],
                "projection": (
                    [keras.saving.serialize_keras_object(p) for p in self.projections]
                    if self.conditional
                    else None
                ),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["trunk"] = keras.saving.deserialize_keras_object(config["trunk"])
        for key in ("head", "projection"):
            if config[key] is not None:
                config[key] = [keras.saving.deserialize_keras_object(c) for c in config[key]]
        return cls(**config)


def dag_discriminator(discriminator, num_heads, name=None):
    """Turns a `dcgan_discriminator`, `resnet_discriminator` or
    `stylegan2_discriminator` into a `DAGDiscriminator`.

    A StyleGAN2 discriminator becomes a `StyleGAN2DAGDiscriminator` (see
    `keras_dagan.models.stylegan2_dag`): its heads are copies of the
    epilogue's `out` layer.

    The trunk is the discriminator up to its final linear layer (named
    "logit"), sharing its layers and weights; head 0 is that layer and,
    when conditional, the "projection" layer, so head 0 computes exactly
    the original logit. The other heads copy their configuration, keeping
    the DCGAN initialisation or the spectral normalization of the ResNet.

    Args:
        discriminator: A functional discriminator whose final linear layer
            is named "logit" and, when conditional, whose class term is a
            layer named "projection" (as the bundled ones are).
        num_heads: `DAG.num_heads`.
        name: Name of the model; defaults to "dag_" + the discriminator's.

    Returns:
        A `DAGDiscriminator` with the discriminator's inputs per view.

    Example:

    ```python
    dag = DAG("rotation,cropping,translation,cutout")
    discriminator = dag_discriminator(resnet_discriminator(num_classes=10),
                                      dag.num_heads)
    ```
    """
    from keras_dagan.models.stylegan2 import StyleGAN2Discriminator
    from keras_dagan.models.stylegan2_dag import StyleGAN2DAGDiscriminator

    if isinstance(discriminator, StyleGAN2Discriminator):
        return StyleGAN2DAGDiscriminator(
            discriminator, num_heads, name=name or f"dag_{discriminator.name}"
        )
    layer_names = {layer.name for layer in getattr(discriminator, "layers", ())}
    if "logit" not in layer_names:
        raise ValueError(
            "dag_discriminator needs a functional discriminator with a final "
            f"linear layer named 'logit' (as dcgan_discriminator and "
            f"resnet_discriminator have); {discriminator.name!r} has none. "
            "For another discriminator, build DAGDiscriminator(trunk, "
            "num_heads) from a trunk that outputs its features."
        )
    head = discriminator.get_layer("logit")
    conditional = len(discriminator.inputs) > 1
    if conditional and "projection" not in layer_names:
        raise ValueError(
            f"{discriminator.name!r} takes labels but has no layer named "
            "'projection'; build DAGDiscriminator(trunk, num_heads, "
            "projection=...) yourself."
        )
    trunk = keras.Model(
        discriminator.inputs[0], head.input, name=f"{discriminator.name}_trunk"
    )
    return DAGDiscriminator(
        trunk,
        num_heads,
        head=head,
        projection=discriminator.get_layer("projection") if conditional else None,
        name=name or f"dag_{discriminator.name}",
    )
