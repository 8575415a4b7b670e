"""Milliseconds per training step: DCGAN-32 at batch 64, and a small StyleGAN2.

DCGAN (default): in one run, on the same networks and data, compares
  - GAN.fit with augment=None;
  - GAN.fit with DiffAugment("color,translation,cutout") (augment_mode "both");
  - a plain hand-written tf.function loop doing the same D and G updates
    with no augmentation;
in graph mode and under XLA (jit_compile=True). Hinge loss, Adam, no EMA and
no R1, so every variant does the same work apart from what is compared.

StyleGAN2 (--stylegan2): the CPU-sized StyleGAN2 of configs/lowshot_cpu.cfg
(channel_base 1024, channel_max 64, 2 mapping layers, 64-d z and w) at 32
and 64 px, batch 16, non-saturating loss, style mixing, EMA, in graph mode:
  - lazy R1 (every 16 D updates) without augmentation, with DiffAugment and
    with ADA (the bgc pipeline at a fixed p = 0.5);
  - with DiffAugment: no R1, and R1 in every D update, for the cost of R1.
Regularizers (--regularizers): the DCGAN of the default rows in graph mode,
with DiffAugment("translation,cutout") alone and with LeCam, CR (real term,
the partner the raw reals) and bCR (both terms), and ADA (bgc, fixed p = 0.5)
alone and with APA (its own fixed p = 0.5), for each regularizer's overhead.
Reports the median of interleaved rounds and the ratios the README quotes.
Run: python benchmarks/train_step.py [--stylegan2 | --regularizers]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_dagan.augment import AdaptiveAugment, DiffAugment  # noqa: E402
from keras_dagan.models import (  # noqa: E402
    GAN,
    dcgan_discriminator,
    dcgan_generator,
    stylegan2_discriminator,
    stylegan2_generator,
)
from keras_dagan.models.regularization import lazy_adam  # noqa: E402

LATENT, BATCH = 128, 64


def networks():
    keras.utils.set_random_seed(0)
    return dcgan_generator(LATENT, 32), dcgan_discriminator(32)


def dataset(batch=BATCH, resolution=32):
    images = np.random.default_rng(0).uniform(-1, 1, (batch * 8, resolution, resolution, 3))
    images = images.astype("float32")
    return tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True).repeat().prefetch(4)


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


def fit_runner(augment, jit, **regularizers):
    generator, discriminator = networks()
    gan = GAN(generator, discriminator, LATENT, augment=augment, ema_decay=0.0, **regularizers)
    gan.compile(d_optimizer=adam(), g_optimizer=adam(), jit_compile=jit)
    return timed_fit(gan, dataset())


def timed_fit(gan, data):
    clock = StepClock()

    def run(steps):
        gan.fit(data, steps_per_epoch=steps + 1, epochs=1, verbose=0, callbacks=[clock])
        return clock.ms_per_step()

    return run


SG2_LATENT, SG2_BATCH = 64, 16


def stylegan2_runner(resolution, augment, r1_interval):
    """The configs/lowshot_cpu.cfg networks; R1 (gamma 0.01) every
    `r1_interval` D updates, in every one (None) or never (0)."""
    keras.utils.set_random_seed(0)
    widths = dict(resolution=resolution, channel_base=1024, channel_max=64)
    generator = stylegan2_generator(SG2_LATENT, w_dim=SG2_LATENT, mapping_layers=2, **widths)
    discriminator = stylegan2_discriminator(**widths)
    gan = GAN(generator, discriminator, SG2_LATENT, augment=augment, loss="non_saturating",
              r1_gamma=0.0 if r1_interval == 0 else 0.01, r1_interval=r1_interval or None,
              ema_kimg=5, ema_rampup=0.05)
    gan.compile(d_optimizer=lazy_adam(0.0025, interval=r1_interval or None),
                g_optimizer=lazy_adam(0.0025, interval=4))
    return timed_fit(gan, dataset(SG2_BATCH, resolution))


def stylegan2_main(args):
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPU cores; "
          f"StyleGAN2 (channel_base 1024, channel_max 64), batch {SG2_BATCH}, graph mode, ms "
          f"per step, median of {args.rounds} rounds of {args.steps} steps")
    for resolution in (32, 64):
        runners = {
            "lazy R1, no augment": stylegan2_runner(resolution, None, 16),
            "lazy R1, DiffAugment": stylegan2_runner(resolution, DiffAugment("color,translation,cutout"), 16),
            "lazy R1, ADA p=0.5": stylegan2_runner(resolution, AdaptiveAugment("bgc", p=0.5, target=None), 16),
            "DiffAugment, no R1": stylegan2_runner(resolution, DiffAugment("color,translation,cutout"), 0),
            "DiffAugment, R1 every step": stylegan2_runner(
                resolution, DiffAugment("color,translation,cutout"), None),
        }
        times = interleaved(runners, args)
        base = times["lazy R1, no augment"]
        no_r1 = times["DiffAugment, no R1"]
        print(f"{resolution} px: " + ", ".join(f"{name} {ms:.0f}" for name, ms in times.items()))
        print(f"{resolution} px: DiffAugment {times['lazy R1, DiffAugment'] / base:.2f}x and ADA "
              f"{times['lazy R1, ADA p=0.5'] / base:.2f}x the step without augmentation; "
              f"R1 every step {times['DiffAugment, R1 every step'] / no_r1:.2f}x and lazy R1 "
              f"{times['lazy R1, DiffAugment'] / no_r1:.2f}x the step without R1")


def regularizers_main(args):
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPU cores; "
          f"DCGAN-32 (width 64), batch {BATCH}, graph mode, ms per step, median of "
          f"{args.rounds} rounds of {args.steps} steps")
    policy = "translation,cutout"
    runners = {
        "DiffAugment": fit_runner(DiffAugment(policy), False),
        "+ LeCam": fit_runner(DiffAugment(policy), False, lecam_weight=0.3),
        "+ CR": fit_runner(DiffAugment(policy), False, cr_weight_real=10.0),
        "+ bCR": fit_runner(DiffAugment(policy), False, cr_weight_real=10.0, cr_weight_fake=10.0),
        "ADA p=0.5": fit_runner(AdaptiveAugment("bgc", p=0.5, target=None), False),
        "ADA p=0.5 + APA p=0.5": fit_runner(AdaptiveAugment("bgc", p=0.5, target=None), False,
                                            apa=True, apa_target=None, apa_p=0.5),
    }
    times = interleaved(runners, args)
    print(", ".join(f"{name} {ms:.1f}" for name, ms in times.items()))
    for name, base in (("+ LeCam", "DiffAugment"), ("+ CR", "DiffAugment"),
                       ("+ bCR", "DiffAugment"), ("ADA p=0.5 + APA p=0.5", "ADA p=0.5")):
        print(f"{name}: {times[name] / times[base] - 1:+.1%} against {base}")


def interleaved(runners, args):
    """Median ms per step of each runner over interleaved rounds, after one
    round to trace and compile."""
    for run in runners.values():
        run(3)
    times = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            times[name].append(run(args.steps))
    return {name: float(np.median(t)) for name, t in times.items()}


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
    parser.add_argument("--steps", type=int, default=20,
                        help="steps per timed round (with --stylegan2, 16: one lazy R1 step each)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--stylegan2", action="store_true",
                        help="time the StyleGAN2 rows instead of DCGAN's")
    parser.add_argument("--regularizers", action="store_true",
                        help="time LeCam, CR, bCR and APA against DiffAugment and ADA alone")
    args = parser.parse_args()
    if args.stylegan2:
        return stylegan2_main(args)
    if args.regularizers:
        return regularizers_main(args)
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPU cores; "
          f"DCGAN-32 (width 64), batch {BATCH}, ms per step, median of {args.rounds} rounds "
          f"of {args.steps} steps")
    for mode, jit in [("graph", False), ("XLA", True)]:
        runners = {
            "fit, no augment": fit_runner(None, jit),
            "fit, DiffAugment": fit_runner(DiffAugment("color,translation,cutout"), jit),
            "hand-written loop": handwritten_runner(jit),
        }
        median = interleaved(runners, args)
        cells = ", ".join(f"{name} {ms:.1f}" for name, ms in median.items())
        overhead = median["fit, DiffAugment"] / median["fit, no augment"] - 1
        fit_vs_loop = median["fit, no augment"] / median["hand-written loop"] - 1
        print(f"{mode}: {cells}; DiffAugment overhead {overhead:+.1%}; "
              f"GAN.fit vs hand-written loop {fit_vs_loop:+.1%}")


if __name__ == "__main__":
    main()
