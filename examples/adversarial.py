"""What the two examples share: small convolutional networks, the shipped
CIFAR-10 images, and a `keras.Model` whose `train_step` runs on TensorFlow,
JAX and torch.

`AdversarialModel.train_step` takes one simultaneous gradient step: G's
gradient of the generator loss and D's gradient of the discriminator loss,
both at the current weights, applied together by the compiled optimizer. One
Adam over both networks is the same as two Adams with equal settings, since
its state is per weight; and one optimizer is what `fit` carries through a
JAX train step's state.

A subclass writes `adversarial_losses(real_images)` once, with ordinary
(stateful) layer calls. On TensorFlow and torch it runs as is, under a
`GradientTape` or torch autograd. On JAX, where `train_step(self, state,
data)` must be a pure function of the state, it runs in a
`keras.StatelessScope` that maps every variable of the model to its value in
`state`; the new values of the non-trainable variables (random seeds, batch
statistics, ADA's controller) are read back from the scope.
"""

import argparse
import json
import os

import keras
import numpy as np
from keras import layers, ops

from keras_dagan.data import load_dataset

QUICKSTART_DATA = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "cifar10_quickstart.tar.gz"
)


def quickstart_images(batch_size, value_range, seed=0):
    """Endless batches of the 5,000 shipped CIFAR-10 training images (500
    per class), float32 in `value_range`, as a `tf.data.Dataset`: `fit`
    takes one on every backend."""
    dataset, _ = load_dataset("folder:" + QUICKSTART_DATA, batch_size=batch_size, seed=seed)
    low, high = value_range
    return dataset.map(lambda images: low + (images + 1) * ((high - low) / 2))


def generator(latent_dim, width, output_activation):
    """z -> a 32x32 RGB image: a dense 4x4 map, then three upsamplings."""
    return keras.Sequential([
        keras.Input((latent_dim,)),
        layers.Dense(4 * 4 * 4 * width, use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Reshape((4, 4, 4 * width)),
        *[block for filters in (2 * width, width) for block in (
            layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
        )],
        layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation=output_activation),
    ], name="generator")


def discriminator(width):
    """A 32x32 RGB image -> one logit: three strided convolutions."""
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        *[block for filters in (width, 2 * width, 4 * width) for block in (
            layers.Conv2D(filters, 4, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
        )],
        layers.Flatten(),
        layers.Dense(1),
    ], name="discriminator")


def logistic_losses(real_logits, fake_logits):
    """The non-saturating logistic GAN losses: D's on a real and a fake
    batch, G's on the same fake batch."""
    d_loss = ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))
    return d_loss, ops.mean(ops.softplus(-fake_logits))


class AdversarialModel(keras.Model):
    """G and D trained by `fit` with one simultaneous step per batch.

    Subclasses define `adversarial_losses(real_images)`, returning
    `(logs, outputs)`: `logs` a dict of scalars with at least "g_loss" and
    "d_loss", `outputs` a dict of anything the after-step hooks need. They
    may override `after_step(outputs, logs) -> logs` (TensorFlow, torch) and
    `stateless_after_step(non_trainable_values, outputs, logs) ->
    (non_trainable_values, logs)` (JAX), which run after the optimizer step.

    Args:
        generator: The generator, a built `keras.Model`.
        discriminator: The discriminator, a built `keras.Model`.
        latent_dim: Size of G's input.
        seed: Integer seed of the latent draws.
    """

    def __init__(self, generator, discriminator, latent_dim, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.latent_seed = keras.random.SeedGenerator(seed)
        # The networks come built and the model has no call() of its own:
        # nothing is left for fit to build but the optimizer.
        self.built = True

    def latents(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.latent_seed)

    def adversarial_losses(self, real_images):
        raise NotImplementedError("Subclasses define the losses.")

    def after_step(self, outputs, logs):
        return logs

    def stateless_after_step(self, non_trainable_values, outputs, logs):
        return non_trainable_values, logs

    def train_step(self, *args):
        # JAX's trainer passes the state explicitly: train_step(state, data).
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*args)
        return self._stateful_train_step(*args)

    def _owned_by_generator(self):
        generator_weights = {id(v) for v in self.generator.trainable_variables}
        return [id(v) in generator_weights for v in self.trainable_variables]

    def _stateful_train_step(self, real_images):
        g_weights = self.generator.trainable_variables
        d_weights = self.discriminator.trainable_variables
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape(persistent=True) as tape:
                logs, outputs = self.adversarial_losses(real_images)
            g_grads = tape.gradient(logs["g_loss"], g_weights)
            d_grads = tape.gradient(logs["d_loss"], d_weights)
        else:
            import torch

            logs, outputs = self.adversarial_losses(real_images)
            g_grads = torch.autograd.grad(
                logs["g_loss"], [v.value for v in g_weights], retain_graph=True)
            d_grads = torch.autograd.grad(logs["d_loss"], [v.value for v in d_weights])
        self.optimizer.apply(list(g_grads) + list(d_grads), g_weights + d_weights)
        return self.after_step(outputs, logs)

    def _jax_train_step(self, state, real_images):
        import jax

        trainable, non_trainable, optimizer_values, metrics_values = state

        def losses(trainable):
            mapping = list(zip(self.trainable_variables, trainable))
            mapping += list(zip(self.non_trainable_variables, non_trainable))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                logs, outputs = self.adversarial_losses(real_images)
            updated = [
                value if new is None else new
                for value, new in zip(
                    non_trainable,
                    (scope.get_current_value(v) for v in self.non_trainable_variables))
            ]
            return (logs["g_loss"], logs["d_loss"]), (logs, outputs, updated)

        (g_loss, d_loss), backward, (logs, outputs, non_trainable) = jax.vjp(
            losses, trainable, has_aux=True)
        (g_grads,) = backward((ops.ones_like(g_loss), ops.zeros_like(d_loss)))
        (d_grads,) = backward((ops.zeros_like(g_loss), ops.ones_like(d_loss)))
        grads = [g if mine else d
                 for g, d, mine in zip(g_grads, d_grads, self._owned_by_generator())]
        trainable, optimizer_values = self.optimizer.stateless_apply(
            optimizer_values, grads, trainable)
        non_trainable, logs = self.stateless_after_step(non_trainable, outputs, logs)
        return logs, (trainable, non_trainable, optimizer_values, metrics_values)

    def values_of(self, layer, non_trainable_values):
        """`layer.non_trainable_variables`' values in the model's list."""
        index = {id(v): i for i, v in enumerate(self.non_trainable_variables)}
        return [non_trainable_values[index[id(v)]] for v in layer.non_trainable_variables]

    def with_values(self, layer, layer_values, non_trainable_values):
        """The model's list with `layer`'s values replaced."""
        replaced = {id(v): value for v, value in zip(layer.non_trainable_variables, layer_values)}
        return [replaced.get(id(v), value)
                for v, value in zip(self.non_trainable_variables, non_trainable_values)]


def compiled(model_class, augment, output_activation, latent_dim=64, width=32, seed=0):
    """`model_class(augment, generator=..., discriminator=..., ...)` with
    this module's networks, compiled with Adam, ready for `fit`."""
    model = model_class(
        augment,
        generator=generator(latent_dim, width, output_activation),
        discriminator=discriminator(width),
        latent_dim=latent_dim,
        seed=seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    return model


def argument_parser(doc, out_dir):
    """The flags both examples take: --steps, --batch_size, --out_dir."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--out_dir", default=out_dir, help="where samples and logs go")
    return parser


class StepLog(keras.callbacks.Callback):
    """Keeps every step's logs as floats and writes them to `path` (JSON)
    when training ends."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.history = {}

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))

    def on_train_end(self, logs=None):
        with open(self.path, "w") as file:
            json.dump(self.history, file)


def train(model, steps, batch_size, out_dir, value_range):
    """Fits `model` for `steps` steps on the quickstart images; writes
    `history.json` and `samples.png` to `out_dir`. Returns the history, a
    dict {log name: one float per step}."""
    os.makedirs(out_dir, exist_ok=True)
    log = StepLog(os.path.join(out_dir, "history.json"))
    model.fit(quickstart_images(batch_size, value_range), steps_per_epoch=steps, epochs=1,
              shuffle=False, callbacks=[log], verbose=2)
    save_grid(model.generator(model.latents(36), training=False),
              os.path.join(out_dir, "samples.png"), value_range)
    history = log.history
    print(f"{keras.backend.backend()}: {steps} steps, final "
          + ", ".join(f"{name} {values[-1]:.4f}" for name, values in history.items()))
    return history


def save_grid(images, path, value_range):
    """Saves a batch of images, a square count, as one PNG grid."""
    images = np.asarray(ops.convert_to_numpy(images))
    low, high = value_range
    images = np.clip((images - low) / (high - low), 0, 1)
    side = int(np.sqrt(len(images)))
    rows = [np.concatenate(list(images[r * side:(r + 1) * side]), axis=1) for r in range(side)]
    keras.utils.save_img(path, np.concatenate(rows, axis=0) * 255, scale=False)
