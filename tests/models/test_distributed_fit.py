"""Tests of fit_distributed, the strategy-driven training loop: on one
machine it trains exactly as GAN.fit."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan import GAN
from keras_dagan.augment import DiffAugment
from keras_dagan.models.dcgan import dcgan_discriminator, dcgan_generator
from keras_dagan.models.distributed_fit import fit_distributed, replica_dataset_fn
from keras_dagan.periodic import StopAtStep

LATENT = 8


def gan_under(strategy, d_steps=1):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        gan = GAN(dcgan_generator(LATENT, 32, width=4), dcgan_discriminator(32, width=4), LATENT,
                  augment=DiffAugment(seed=2), r1_gamma=1.0, d_steps=d_steps, ema_decay=0.9,
                  seed=7)
        gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.0),
                    g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.0))
    return gan


def reals(batch):
    x = np.random.default_rng(0).uniform(-1, 1, (4 * batch, 32, 32, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True).repeat()


@pytest.mark.parametrize("d_steps", [1, 2])
@pytest.mark.parametrize("distributed", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_trains_as_fit_does(d_steps, distributed, mirrored_strategy):
    strategy = mirrored_strategy if distributed else tf.distribute.get_strategy()
    kwargs = dict(epochs=2, steps_per_epoch=2, verbose=0)
    by_fit = gan_under(strategy, d_steps)
    fit_history = by_fit.fit(reals(8 * d_steps), **kwargs).history
    by_loop = gan_under(strategy, d_steps)
    loop_history = fit_distributed(by_loop, reals(8 * d_steps), **kwargs).history

    assert loop_history.keys() == fit_history.keys()
    for name, values in fit_history.items():
        np.testing.assert_allclose(loop_history[name], values, rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    for mine, theirs in zip(by_loop.get_weights(), by_fit.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    assert int(by_loop.train_steps.numpy()) == 4


def test_calls_the_callbacks_as_fit_does():
    calls = []

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(f"epoch_begin {epoch}")

        def on_train_batch_end(self, batch, logs=None):
            calls.append(f"batch_end {batch} {sorted(logs)[:2]}")

        def on_epoch_end(self, epoch, logs=None):
            calls.append(f"epoch_end {epoch}")

        def on_train_end(self, logs=None):
            calls.append("train_end")

    gan = gan_under(tf.distribute.get_strategy())
    history = fit_distributed(gan, reals(8), epochs=3, steps_per_epoch=2, initial_epoch=1,
                              callbacks=[Record(), StopAtStep(3)], verbose=0)
    assert calls == ["train_begin", "epoch_begin 1", "batch_end 0 ['d_fake', 'd_loss']",
                     "batch_end 1 ['d_fake', 'd_loss']", "epoch_end 1", "epoch_begin 2",
                     "batch_end 0 ['d_fake', 'd_loss']", "epoch_end 2", "train_end"]
    assert history.epoch == [1, 2] and len(history.history["d_loss"]) == 2


def test_progress_bar(capsys):
    fit_distributed(gan_under(tf.distribute.get_strategy()), reals(8), steps_per_epoch=2)
    assert "2/2" in capsys.readouterr().out


def test_each_replica_gets_its_rows_of_every_d_update():
    # A global batch of 2 D updates of 4 rows on 2 replicas, one per input
    # pipeline: pipeline 1 holds the second half of each D update's rows.
    rows = tf.data.Dataset.from_tensors(tf.range(8)[:, None])
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1,
                                         num_replicas_in_sync=2)
    batches = list(replica_dataset_fn(rows, d_steps=2)(context))
    assert len(batches) == 1
    np.testing.assert_array_equal(batches[0][:, 0], [2, 3, 6, 7])
    assert batches[0].shape == (4, 1)


@pytest.mark.parametrize("steps", [None, 0, 2.0])
def test_steps_per_epoch_is_checked(steps):
    with pytest.raises(ValueError, match="steps_per_epoch must be an integer >= 1"):
        fit_distributed(gan_under(tf.distribute.get_strategy()), reals(8), steps_per_epoch=steps)


class CpuCluster(tf.distribute.MultiWorkerMirroredStrategy):
    """The devices of a two-worker MultiWorkerMirroredStrategy on CPUs,
    without a cluster (one cannot be made in this process)."""

    def __init__(self):  # no super(): it would join a cluster
        pass

    @property
    def extended(self):
        return types.SimpleNamespace(worker_devices=("/job:worker/replica:0/task:0/device:CPU:0",))

    @property
    def num_replicas_in_sync(self):
        return 2


def test_xla_on_a_cpu_cluster_is_refused_before_tensorflow_aborts():
    gan = types.SimpleNamespace(jit_compile=True, distribute_strategy=CpuCluster(),
                                d_optimizer=object(), d_steps=1)
    with pytest.raises(ValueError, match="XLA cannot compile the all-reduce of a "
                                         "MultiWorkerMirroredStrategy on CPU devices"):
        fit_distributed(gan, reals(8), steps_per_epoch=1)
