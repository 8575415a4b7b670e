"""Milliseconds per training step of DCGAN-32 at batch 64.

In one run, on the same networks and data, compares:
  - GAN.fit with augment=None;
  - GAN.fit with DiffAugment("color,translation,cutout") (augment_mode "both");
  - a plain hand-written tf.function loop doing the same D and G updates
    with no augmentation;
in graph mode and under XLA (jit_compile=True). Hinge loss, Adam, no EMA and
no R1, so every variant does the same work apart from what is compared.
Reports the median of interleaved rounds and the ratios the README quotes.
Run: python benchmarks/train_step.py
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_dagan.augment import DiffAugment  # noqa: E402
from keras_dagan.models import GAN, dcgan_discriminator, dcgan_generator  # noqa: E402

LATENT, BATCH = 128, 64


def networks():
    keras.utils.set_random_seed(0)
    return dcgan_generator(LATENT, 32), dcgan_discriminator(32)


def dataset():
    images = np.random.default_rng(0).uniform(-1, 1, (BATCH * 8, 32, 32, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(images).batch(BATCH, drop_remainder=True).repeat().prefetch(4)


def adam():
    return keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.99)


class StepClock(keras.callbacks.Callback):
    """Time from the end of a fit call's first step to the end of its last,
    so that fit's per-call set-up (iterator, callbacks) is not counted."""

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if batch == 0:
            self.start = now
        self.end, self.steps = now, batch

    def ms_per_step(self):
        return (self.end - self.start) / self.steps * 1000


def fit_runner(augment, jit):
    generator, discriminator = networks()
    gan = GAN(generator, discriminator, LATENT, augment=augment, ema_decay=0.0)
    gan.compile(d_optimizer=adam(), g_optimizer=adam(), jit_compile=jit)
    data, clock = dataset(), StepClock()

    def run(steps):
        gan.fit(data, steps_per_epoch=steps + 1, epochs=1, verbose=0, callbacks=[clock])
        return clock.ms_per_step()

    return run


def handwritten_runner(jit):
    generator, discriminator = networks()
    d_opt, g_opt = adam(), adam()
    d_opt.build(discriminator.trainable_variables)
    g_opt.build(generator.trainable_variables)

    @tf.function(jit_compile=jit)
    def step(real):
        z = tf.random.normal((BATCH, LATENT))
        fake = generator(z, training=True)
        with tf.GradientTape() as tape:
            d_loss = tf.reduce_mean(tf.nn.relu(1 - discriminator(real, training=True))) + tf.reduce_mean(
                tf.nn.relu(1 + discriminator(fake, training=True)))
        d_opt.apply(tape.gradient(d_loss, discriminator.trainable_variables), discriminator.trainable_variables)
        z = tf.random.normal((BATCH, LATENT))
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(discriminator(generator(z, training=True), training=True))
        g_opt.apply(tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables)
        return d_loss, g_loss

    iterator = iter(dataset())

    def run(steps):
        step(next(iterator))[0].numpy()  # like StepClock, start after one step
        start = time.perf_counter()
        for _ in range(steps):
            losses = step(next(iterator))
        losses[0].numpy()
        return (time.perf_counter() - start) / steps * 1000

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args()
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPU cores; "
          f"DCGAN-32 (width 64), batch {BATCH}, ms per step, median of {args.rounds} rounds "
          f"of {args.steps} steps")
    for mode, jit in [("graph", False), ("XLA", True)]:
        runners = {
            "fit, no augment": fit_runner(None, jit),
            "fit, DiffAugment": fit_runner(DiffAugment("color,translation,cutout"), jit),
            "hand-written loop": handwritten_runner(jit),
        }
        for run in runners.values():
            run(3)  # trace and compile
        times = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, run in runners.items():
                times[name].append(run(args.steps))
        median = {name: float(np.median(t)) for name, t in times.items()}
        cells = ", ".join(f"{name} {ms:.1f}" for name, ms in median.items())
        overhead = median["fit, DiffAugment"] / median["fit, no augment"] - 1
        fit_vs_loop = median["fit, no augment"] / median["hand-written loop"] - 1
        print(f"{mode}: {cells}; DiffAugment overhead {overhead:+.1%}; "
              f"GAN.fit vs hand-written loop {fit_vs_loop:+.1%}")


if __name__ == "__main__":
    main()
