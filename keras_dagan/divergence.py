"""Telling a diverged training run: non-finite losses or weights, and
`StopOnDivergence`, which ends training at the first non-finite loss."""

import math
from typing import NamedTuple

import keras
import numpy as np

from keras_dagan.periodic import PeriodicCallback

LOSSES = ("d_loss", "g_loss")


def first_non_finite(logs, monitor=LOSSES):
    """The first `(name, value)` of `monitor` whose value in `logs` is NaN or
    infinite, or None when all are finite.

    Args:
        logs: Keras logs, such as a callback's batch or epoch logs.
        monitor: Names of the logs to check.

    Raises:
        ValueError: A name of `monitor` is not in `logs`: a misspelt name
            would otherwise never be seen diverging.

    Example:

    ```python
    first_non_finite({"d_loss": 0.7, "g_loss": float("nan")})  # ("g_loss", nan)
    ```
    """
    missing = [name for name in monitor if name not in logs]
    if missing:
        raise ValueError(
            f"Monitored logs {missing} are not among the logs ({', '.join(sorted(logs))}); "
            f"monitor names from those."
        )
    for name in monitor:
        value = float(logs[name])
        if not math.isfinite(value):
            return name, value
    return None


def is_finite_state(model):
    """Whether every weight of `model` is finite (no NaN or infinity).

    It reads every weight, so call it when about to keep the state (a
    checkpoint, an export), not every step.

    Args:
        model: A Keras model, such as a `keras_dagan.GAN` (its weights hold
            G, D, the EMA generator and the augmentation's variables).

    Example:

    ```python
    if not is_finite_state(gan):
        sys.exit("the weights are non-finite; not exporting")
    ```
    """
    for weight in model.weights:
        # As float32: also covers integer weights and bfloat16.
        if not np.isfinite(keras.ops.convert_to_numpy(weight).astype("float32")).all():
            return False
    return True


class Divergence(NamedTuple):
    """Where training diverged: the first step with a non-finite log, the
    log's name and its value. `str()` gives a one-line report."""

    step: int
    name: str
    value: float

    def __str__(self):
        return f"training diverged at step {self.step}: {self.name} = {self.value}"


class StopOnDivergence(PeriodicCallback):
    """Stops training after the first step whose monitored losses are not finite.

    `keras.callbacks.TerminateOnNaN` watches `logs["loss"]`, which a
    `keras_dagan.GAN` does not log, so it never stops one. The GAN's logs
    are running means over the epoch, so once a loss is non-finite it stays
    so until the epoch ends: the step reported is the first one it was seen
    at. Steps count on from the GAN's `train_steps` (see
    `PeriodicCallback`).

    Args:
        monitor: Names of the batch logs to watch.

    Attributes:
        diverged: A `Divergence` (step, name, value) once training diverged,
            else None.

    Example:

    ```python
    stop = StopOnDivergence()
    gan.fit(data, steps_per_epoch=1000, epochs=10, callbacks=[stop])
    if stop.diverged:
        print(stop.diverged)  # training diverged at step 1234: d_loss = nan
        sys.exit(1)
    ```
    """

    def __init__(self, monitor=LOSSES):
        super().__init__(1)
        self.monitor = tuple(monitor)
        self.diverged = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.diverged = None

    def on_period(self, step, logs):
        found = first_non_finite(logs or {}, self.monitor)
        if found is not None and self.diverged is None:
            self.diverged = Divergence(step, *found)
            self.model.stop_training = True
