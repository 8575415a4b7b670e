"""Callbacks that count training steps: `PeriodicCallback`, the base of those
that act every N steps, and `StopAtStep`, which ends training at a step."""

import keras


class PeriodicCallback(keras.callbacks.Callback):
    """Calls `on_period(step)` after every `every_n_steps`-th training step.

    Steps are counted from the GAN's `train_steps` (its count of train
    steps, saved with its weights; a model without one: its generator
    optimizer's `iterations`), read once when training starts (so the count
    continues across resumed runs) and then advanced by one per batch, so
    that no step waits on a variable read.

    Args:
        every_n_steps: The period, an integer >= 1.

    Example:

    ```python
    class Announce(PeriodicCallback):
        def on_period(self, step, logs):
            print("reached step", step)
    ```
    """

    def __init__(self, every_n_steps):
        super().__init__()
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"every_n_steps must be an integer >= 1; got {every_n_steps!r}.")
        self.every_n_steps = every_n_steps
        self.step = 0

    def on_train_begin(self, logs=None):
        counter = getattr(self.model, "train_steps", None)
        if counter is None:
            counter = self.model.g_optimizer.iterations
        self.step = int(keras.ops.convert_to_numpy(counter))

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every_n_steps == 0:
            self.on_period(self.step, logs)

    def on_period(self, step, logs):
        """Acts at `step`; `logs` are the batch logs (may be None)."""
        raise NotImplementedError


class StopAtStep(PeriodicCallback):
    """Stops training right after the GAN's `final_step`-th training step.

    With it `fit` can run any number of steps whatever the epoch length:
    give it epochs enough to reach `final_step`, and the last one ends early.
    Steps count on from the GAN's `train_steps` (see `PeriodicCallback`), so `final_step` is the total over resumed runs.

    Args:
        final_step: The step to stop at, an integer >= 1.

    Example:

    ```python
    # 1000 steps in epochs of 300: the fourth epoch stops after 100 steps.
    gan.fit(data, steps_per_epoch=300, epochs=4, callbacks=[StopAtStep(1000)])
    ```
    """

    def __init__(self, final_step):
        if isinstance(final_step, bool) or not isinstance(final_step, int) or final_step < 1:
            raise ValueError(f"final_step must be an integer >= 1; got {final_step!r}.")
        # The first multiple of final_step after any earlier step is
        # final_step itself, so acting every final_step steps acts there.
        super().__init__(final_step)

    @property
    def final_step(self):
        return self.every_n_steps

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.step >= self.final_step:
            # fit would still run one step before any callback could stop it.
            raise ValueError(
                f"The model is already at step {self.step}, not before final_step="
                f"{self.final_step}; don't call fit, or raise final_step."
            )

    def on_period(self, step, logs):
        self.model.stop_training = True
