"""`PeriodicCallback`: the base of callbacks that act every N training steps."""

import keras


class PeriodicCallback(keras.callbacks.Callback):
    """Calls `on_period(step)` after every `every_n_steps`-th training step.

    Steps are counted from the GAN's generator optimizer's `iterations`, read
    once when training starts (so the count continues across resumed runs)
    and then advanced by one per batch, so that no step waits on a variable
    read.

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
        self.step = int(self.model.g_optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every_n_steps == 0:
            self.on_period(self.step, logs)

    def on_period(self, step, logs):
        """Acts at `step`; `logs` are the batch logs (may be None)."""
        raise NotImplementedError
