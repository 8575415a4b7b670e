"""Checkpoints of a whole GAN training run, written atomically, for resuming."""

import json
import os
import re
import shutil

import keras

from keras_dagan.files import atomic_path

_STEP_FOLDER = re.compile(r"^step-(\d+)$")
_WEIGHTS = "gan.weights.h5"


def latest_checkpoint(directory):
    """The `(step, folder)` of the newest complete checkpoint in `directory`,
    or `(0, None)` when there is none."""
    if not os.path.isdir(directory):
        return 0, None
    steps = [int(m.group(1)) for m in map(_STEP_FOLDER.match, os.listdir(directory)) if m]
    if not steps:
        return 0, None
    step = max(steps)
    return step, os.path.join(directory, f"step-{step:08d}")


def restore_latest(gan, directory):
    """Loads the newest checkpoint of `directory` into `gan`; returns its step
    (0 when there is none, leaving `gan` untouched)."""
    step, folder = latest_checkpoint(directory)
    if folder is not None:
        gan.load_weights(os.path.join(folder, _WEIGHTS))
    return step


class TrainingCheckpoint(keras.callbacks.Callback):
    """Saves the whole training state at the end of every epoch.

    The state is `gan.save_weights`: G, D, the EMA generator, both optimizers
    (with their step counters), the GAN's random state and the augmentation's
    variables (such as ADA's p). Each checkpoint is a folder
    `step-NNNNNNNN/` that appears only once completely written (written
    under a temporary name, then renamed), so a run killed at any moment,
    even by SIGKILL, leaves the previous checkpoints intact (the hidden
    partial folder it was writing is removed when training starts again);
    the newest `keep` are kept. Resume with `restore_latest`. Make an epoch as long as
    the checkpoint interval (`fit(steps_per_epoch=interval)`).

    Unlike `keras.callbacks.BackupAndRestore`, which overwrites its weights
    file and its step file in place one after the other (a kill between or
    during the two writes leaves them inconsistent or corrupt), nothing here
    is ever half-written.

    Args:
        directory: Folder of the checkpoints.
        keep: How many of the newest checkpoints to keep, at least 1.

    Example:

    ```python
    step = restore_latest(gan, "run/checkpoints")
    gan.fit(data.skip(step), steps_per_epoch=1000, epochs=100,
            initial_epoch=step // 1000,
            callbacks=[TrainingCheckpoint("run/checkpoints")])
    ```
    """

    def __init__(self, directory, keep=2):
        super().__init__()
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an integer >= 1; got {keep!r}.")
        self.directory = os.fspath(directory)
        self.keep = keep

    def on_train_begin(self, logs=None):
        # What a killed run was writing when it died: never a checkpoint.
        if os.path.isdir(self.directory):
            for name in os.listdir(self.directory):
                if name.startswith(".step-"):
                    shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.g_optimizer.iterations.numpy())
        with atomic_path(os.path.join(self.directory, f"step-{step:08d}")) as partial:
            os.makedirs(partial)
            self.model.save_weights(os.path.join(partial, _WEIGHTS))
            with open(os.path.join(partial, "state.json"), "w") as file:
                json.dump({"step": step, "epoch": epoch + 1}, file)
        folders = sorted(name for name in os.listdir(self.directory) if _STEP_FOLDER.match(name))
        for name in folders[: -self.keep]:
            shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)
