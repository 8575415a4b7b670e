"""The DAG variant of the StyleGAN2 discriminator: one output per
transformation on the shared StyleGAN2 trunk.

Tran et al.'s DAG gives D one head per transformation (see
`keras_dagan.models.dag`). For StyleGAN2 the trunk is the whole
discriminator up to the epilogue's `fc` layer and a head is the epilogue's
final `out` layer; a conditional discriminator projects every head's output
on the same mapped label (its `mapping` network is shared by the heads, as
the DAG authors' BigGAN shares its class embedding). The views go through
the trunk stacked in one batch, so the minibatch standard deviation is told
how many views the batch holds and computes its statistics within each
view: a group never mixes x with T_k(x).
"""

import keras
from keras import ops

from keras_dagan.models.dag import DAGDiscriminator
from keras_dagan.models.stylegan2 import StyleGAN2Discriminator


@keras.saving.register_keras_serializable(package="keras_dagan")
class StyleGAN2Features(keras.layers.Layer):
    """A `StyleGAN2Discriminator` up to its epilogue's `fc`: the DAG trunk.

    Shares the discriminator's layers and weights.

    Args:
        discriminator: A `StyleGAN2Discriminator`.
        **kwargs: Base `keras.layers.Layer` arguments such as `name`.

    Call arguments:
        images: (num_views * N, H, W, C), `num_views` contiguous blocks.
        num_views: How many views the batch stacks (the minibatch standard
            deviation stays within each).

    Returns:
        (num_views * N, C4) float32 features, C4 the 4x4 channels.

    Example:

    ```python
    trunk = StyleGAN2Features(stylegan2_discriminator(32, channel_base=512,
                                                      channel_max=32))
    features = trunk(keras.random.normal((8, 32, 32, 3)), num_views=2)
    ```
    """

    def __init__(self, discriminator, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        if not isinstance(discriminator, StyleGAN2Discriminator):
            raise ValueError(
                f"StyleGAN2Features needs a StyleGAN2Discriminator; got "
                f"{type(discriminator).__name__}."
            )
        self.discriminator = discriminator
        self.built = True

    def call(self, images, num_views=1, training=None):
        return self.discriminator.features(images, num_views=num_views)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.discriminator.b4.in_channels)

    def get_config(self):
        config = super().get_config()
        config["discriminator"] = keras.saving.serialize_keras_object(self.discriminator)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_dagan")
class StyleGAN2DAGDiscriminator(DAGDiscriminator):
    """A StyleGAN2 discriminator with one `out` layer per DAG head.

    Head 0 is the discriminator's own epilogue `out`, so head 0 computes
    exactly the discriminator's logit; heads 1..K are fresh `out` layers of
    the same configuration. Called like every `DAGDiscriminator`: views
    (num_views, N, H, W, C), or `[views, labels]` when conditional, to
    (num_views, N) logits. Build it with
    `keras_dagan.models.dag_discriminator(stylegan2_discriminator(...),
    dag.num_heads)`.

    Args:
        discriminator: A `StyleGAN2Discriminator`.
        num_heads: `DAG.num_heads`, >= 2.
        head: None (heads copied from the discriminator's `out`), or a list
            of `num_heads` layers (what `from_config` passes).
        **kwargs: `keras.Model` arguments such as `name`.

    Example:

    ```python
    dag = DAG("rotation")
    discriminator = dag_discriminator(
        stylegan2_discriminator(32, channel_base=512, channel_max=32),
        dag.num_heads)
    logits = discriminator(keras.random.normal((4, 8, 32, 32, 3)))  # (4, 8)
    ```
    """

    def __init__(self, discriminator, num_heads, head=None, **kwargs):
        trunk = StyleGAN2Features(discriminator, name=f"{discriminator.name}_trunk")
        super().__init__(trunk, num_heads, head=head or discriminator.b4.out, **kwargs)
        self.discriminator = discriminator

    @property
    def conditional(self):
        return self.discriminator.num_classes is not None

    def build(self, input_shape):
        for head in self.heads:
            if not head.built:
                head.build((None, self.discriminator.b4.in_channels))
        self.built = True

    def call(self, inputs, heads=None, training=None):
        views, labels, heads = self._split_views(inputs, heads)
        images = ops.reshape(views, (-1,) + tuple(views.shape[2:]))
        features = self.trunk(images, num_views=len(heads))
        features = ops.reshape(features, (len(heads), -1, features.shape[-1]))
        cmap = self.discriminator.mapped_labels(labels)
        epilogue = self.discriminator.b4
        logits = [
            ops.reshape(epilogue.project(self.heads[index](features[position]), cmap), (-1,))
            for position, index in enumerate(heads)
        ]
        return ops.stack(logits)

    def get_config(self):
        config = keras.Model.get_config(self)
        config.update(
            {
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "num_heads": self.num_heads,
                "head": [keras.saving.serialize_keras_object(h) for h in self.heads[1:]],
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        copies = [keras.saving.deserialize_keras_object(c) for c in config.pop("head")]
        return cls(discriminator, head=[discriminator.b4.out] + copies, **config)
