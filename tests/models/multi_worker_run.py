"""The training run of the multi-worker tests: a few steps of a small GAN
with every random draw the replicas share (z, ADA's augmentation and its
controller, DAG's transformations, R1, 2 D steps), trained with
`fit_distributed` and scored by an `FIDCallback` that only the chief can
run (the other workers get no real statistics); its logs and weights are
saved to OUT/result-I.npz (I: this worker's index, 0 without TF_CONFIG).

    python tests/models/multi_worker_run.py OUT
"""

import json
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from keras_dagan import GAN
from keras_dagan.augment import AdaptiveAugment
from keras_dagan.cluster import is_chief, multi_worker_strategy
from keras_dagan.metrics import FIDCallback, reference_statistics
from keras_dagan.models import DAG, dag_discriminator
from keras_dagan.models.dcgan import dcgan_discriminator
from keras_dagan.models.distributed_fit import fit_distributed
from tests.metrics.test_callback import toy_extractor

LATENT, BATCH, D_STEPS, STEPS = 8, 8, 2, 2


def batch_norm_free_generator():
    # Unsynchronized batch norm normalizes per replica; without it, any split
    # of the batch trains as one device.
    z = keras.Input((LATENT,))
    h = keras.layers.Dense(8 * 8 * 8, activation="relu")(z)
    h = keras.layers.Reshape((8, 8, 8))(h)
    h = keras.layers.UpSampling2D(4)(h)
    return keras.Model(z, keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(h))


def train(strategy):
    """Trains STEPS steps under `strategy`; returns the history, the
    weights and ADA's p."""
    keras.utils.set_random_seed(0)
    with strategy.scope():
        # Not compiled by itself with XLA: compiling it would take most of
        # the test's time (the quickstart test runs self-compiled layers).
        augment = AdaptiveAugment("bg", p=0.5, target=0.6, speed_kimg=0.05, interval=1, seed=1,
                                  jit_compile=False)
        # One DAG transformation with random draws: each view's augmentation is
        # traced apart, and rotation's four views would double the trace.
        dag = DAG(["translation"])
        discriminator = dag_discriminator(dcgan_discriminator(32, width=4), dag.num_heads)
        gan = GAN(batch_norm_free_generator(), discriminator, LATENT, augment=augment,
                  r1_gamma=1.0, d_steps=D_STEPS, ema_decay=0.9, seed=3, dag=dag)
        gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.0),
                    g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.0))
    x = np.random.default_rng(0).uniform(-1, 1, (4 * BATCH * D_STEPS, 32, 32, 3)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(BATCH * D_STEPS).repeat()
    extractor = toy_extractor()
    statistics = reference_statistics(extractor, [x], len(x)) if is_chief(strategy) else None
    fid = FIDCallback(statistics, extractor, every_n_steps=STEPS, num_samples=32, batch_size=16,
                      is_splits=2)
    history = fit_distributed(gan, dataset, steps_per_epoch=1, epochs=STEPS, verbose=0,
                              callbacks=[fid]).history
    return history, gan.get_weights(), float(augment.p.numpy())


def main(out):
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    index = config.get("task", {}).get("index", 0)
    strategy = multi_worker_strategy(60) if config else tf.distribute.get_strategy()
    history, weights, p = train(strategy)
    np.savez(os.path.join(out, f"result-{index}.npz"), p=p,
             **{f"log_{name}": values for name, values in history.items()},
             **{f"weight_{i}": weight for i, weight in enumerate(weights)})


if __name__ == "__main__":
    main(sys.argv[1])
