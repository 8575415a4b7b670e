"""Tests of keras_dagan.divergence."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_dagan.divergence import Divergence, StopOnDivergence, first_non_finite, is_finite_state
from tests.test_checkpoint import Poison, tiny_gan


def test_stops_after_the_first_non_finite_step_and_reports_it():
    gan = tiny_gan()
    images = np.random.default_rng(0).uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(8).repeat()
    stop = StopOnDivergence()
    history = gan.fit(dataset, steps_per_epoch=3, epochs=3, verbose=0,
                      callbacks=[Poison(5, "discriminator", np.inf), stop])
    assert int(gan.g_optimizer.iterations.numpy()) == 5
    assert len(history.history["d_loss"]) == 2  # the second epoch ended early
    assert stop.diverged.step == 5 and stop.diverged.name == "d_loss"
    assert not math.isfinite(stop.diverged.value)
    assert str(stop.diverged) == f"training diverged at step 5: d_loss = {stop.diverged.value}"
    assert not is_finite_state(gan)


def test_report_reads_as_one_line():
    report = str(Divergence(12, "d_loss", float("nan")))
    assert report == "training diverged at step 12: d_loss = nan"


def test_first_non_finite_follows_the_monitor_order():
    logs = {"d_loss": float("inf"), "g_loss": float("nan"), "fid": 3.0}
    assert first_non_finite(logs, ("g_loss", "d_loss"))[0] == "g_loss"
    assert first_non_finite(logs)[0] == "d_loss"
    assert first_non_finite({"d_loss": 1.0, "g_loss": -2.0}) is None


def test_a_monitored_name_missing_from_the_logs_is_an_error():
    with pytest.raises(ValueError, match=r"\['loss'\] are not among the logs \(d_loss, g_loss\)"):
        first_non_finite({"d_loss": 1.0, "g_loss": 1.0}, ("loss",))


def test_is_finite_state_reads_every_weight_including_the_ema_generator():
    gan = tiny_gan()
    assert is_finite_state(gan)
    weight = gan.ema_generator.weights[-1]
    weight.assign(np.full(weight.shape, np.nan, "float32"))
    assert not is_finite_state(gan)
