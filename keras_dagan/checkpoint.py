"""Checkpoints of a whole GAN training run, written atomically, for resuming:
every N steps (`TrainingCheckpoint`, `restore_latest`) and at the best FID
(`BestCheckpoint`, `restore_best`)."""

import hashlib
import json
import logging
import math
import os
import re
import shutil
import warnings

from keras_dagan.divergence import LOSSES, first_non_finite, is_finite_state
from keras_dagan.files import atomic_path
from keras_dagan.periodic import PeriodicCallback

_STEP_FOLDER = re.compile(r"^step-(\d+)$")
_BEST = "best"
_BEST_FOLDER = re.compile(f"^{_BEST}$")
# What `atomic_path` writes next to a final folder NAME: `.NAME.partial-XXXXXXXX`
# while writing it, `.NAME.old-XXXXXXXX` for a moment while replacing it.
_HIDDEN = re.compile(r"^\.(.+)\.(partial|old)-[0-9a-f]{8}$")
_WEIGHTS = "gan.weights.h5"
_STATE = "state.json"
# The numbers the state.json of a step checkpoint and of the best one hold.
_STEP_FIELDS = ("step",)
_BEST_FIELDS = ("step", "fid")

_log = logging.getLogger(__name__)


class CheckpointError(Exception):
    """A checkpoint, or each checkpoint of a folder, cannot be read: it is
    truncated, corrupted or incomplete."""


def restore_latest(gan, directory, warn=None):
    """Loads the newest readable checkpoint of `directory` into `gan`.

    Each checkpoint is verified while it is restored: its state.json must
    parse, its weights must match the checksum stored there (checkpoints of
    earlier versions have none) and load in full. An unreadable one is
    reported in one line through `warn` and the one before it is tried; as
    each load sets every variable, a failed partial load leaves nothing
    behind once an earlier checkpoint has loaded.

    Args:
        gan: The compiled `keras_dagan.GAN` of the run.
        directory: Folder of the checkpoints (see `TrainingCheckpoint`).
        warn: Callable taking the one-line report of each unreadable
            checkpoint; by default this module's `logging` logger's warning.

    Returns:
        The step of the checkpoint restored, or 0 when `directory` holds
        none (then `gan` is untouched).

    Raises:
        CheckpointError: There are checkpoints but none is readable; the
            message names the folder and why each failed.

    Example:

    ```python
    step = restore_latest(gan, "run/checkpoints", warn=print)
    ```
    """
    warn = warn or _log.warning
    checkpoints = _checkpoints(directory)
    failures = []
    for index in reversed(range(len(checkpoints))):
        step, folder = checkpoints[index]
        try:
            _load(gan, folder, _STEP_FIELDS, step)
        except CheckpointError as error:
            failures.append(f"{os.path.basename(folder)} ({error})")
            if index:
                warn(f"checkpoint {folder} is unreadable ({error}); falling back to "
                     f"{checkpoints[index - 1][1]}")
            continue
        return step
    if failures:
        raise CheckpointError(
            f"no checkpoint in {directory} is readable: {'; '.join(failures)}. Move the "
            "folder away to train from the start."
        )
    return 0


def restore_best(gan, directory):
    """Loads the best-FID checkpoint of `directory` (see `BestCheckpoint`).

    Args:
        gan: The compiled `keras_dagan.GAN` of the run.
        directory: Folder of the checkpoints; the best is `directory/best`.

    Returns:
        `(step, fid)` of the best checkpoint, or None when there is none
        (then `gan` is untouched).

    Raises:
        CheckpointError: The best checkpoint is unreadable.

    Example:

    ```python
    best = restore_best(gan, "run/checkpoints")
    if best is not None:
        print(f"exporting step {best[0]}, FID {best[1]:.2f}")
    export_generator(gan, "run/generator")
    ```
    """
    folder = os.path.join(directory, _BEST)
    if not os.path.isdir(folder):
        return None
    try:
        state = _load(gan, folder, _BEST_FIELDS)
    except CheckpointError as error:
        raise CheckpointError(f"the best checkpoint {folder} is unreadable ({error}).") from None
    return int(state["step"]), float(state["fid"])


class TrainingCheckpoint(PeriodicCallback):
    """Saves the whole training state every `every_n_steps` steps and at the end.

    The state is `gan.save_weights`: G, D, the EMA generator, both optimizers
    (with their step counters), the GAN's random state and the augmentation's
    variables (such as ADA's p). It is saved at every step that is a
    multiple of `every_n_steps` and, when training ends, at the last step
    reached if that was not saved yet: with `fit` stopped at step 1000
    (`StopAtStep`) and `every_n_steps=300`, the last checkpoints are 900 and
    1000, and a rerun resumes from 1000. Steps count on from the GAN's
    `train_steps` (see `PeriodicCallback`), whatever the epochs.

    A state whose weights or `monitor`ed logs are not finite is never saved
    (a warning is logged instead), so the last good checkpoints stay, and
    are not rotated out by the bad ones.

    Each checkpoint is a folder `step-NNNNNNNN/` (gan.weights.h5 and a
    state.json with the step and the weights' checksum) that appears only
    once completely written (written under a temporary name, then renamed),
    so a run killed at any moment, even by SIGKILL, leaves the previous
    checkpoints intact (the hidden partial folder it was writing is removed
    when training starts again); the newest `keep` are kept. Resume with
    `restore_latest`.

    Unlike `keras.callbacks.BackupAndRestore`, which overwrites its weights
    file and its step file in place one after the other (a kill between or
    during the two writes leaves them inconsistent or corrupt), nothing here
    is ever half-written.

    Args:
        directory: Folder of the checkpoints.
        every_n_steps: Checkpoint period in training steps.
        keep: How many of the newest checkpoints to keep, at least 1.
        monitor: Logs that must be finite for a checkpoint to be saved.

    Example:

    ```python
    step = restore_latest(gan, "run/checkpoints")
    data = keras_dagan.data.load_tfds("cifar10", batch_size=64, seed=0, initial_step=step)
    gan.fit(data, steps_per_epoch=500, epochs=20, initial_epoch=step // 500,
            callbacks=[StopAtStep(10_000), TrainingCheckpoint("run/checkpoints", 1000)])
    ```
    """

    def __init__(self, directory, every_n_steps, keep=2, monitor=LOSSES):
        super().__init__(every_n_steps)
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an integer >= 1; got {keep!r}.")
        self.directory = os.fspath(directory)
        self.keep = keep
        self.monitor = tuple(monitor)
        self._last_tried = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        _clean_up(self.directory, _STEP_FOLDER)
        # The state training starts from is already saved (or is the
        # untrained one).
        self._last_tried = self.step

    def on_period(self, step, logs):
        self._save(step, logs)

    def on_train_end(self, logs=None):
        if self.step != self._last_tried:
            self._save(self.step, logs)

    def _save(self, step, logs):
        self._last_tried = step
        if not _savable(self.model, logs, self.monitor, f"the checkpoint of step {step}"):
            return
        _write(self.model, os.path.join(self.directory, f"step-{step:08d}"), {"step": step})
        for _, folder in _checkpoints(self.directory)[: -self.keep]:
            shutil.rmtree(folder, ignore_errors=True)


class BestCheckpoint(PeriodicCallback):
    """Keeps the whole training state of the lowest FID in `directory/best`.

    At each step whose batch logs hold "fid" (put there by a
    `keras_dagan.metrics.FIDCallback`, which must come before this callback)
    the state is saved, replacing the previous best, if that FID is strictly
    lower than the best so far and the state is finite (weights and
    `monitor`ed logs). The folder holds gan.weights.h5 and a state.json
    with "step", "fid" and the weights' checksum, and is replaced
    atomically. A best left by an earlier run in `directory` counts: a
    resumed run replaces it only with a lower FID. The best so far goes into
    the logs as "best_fid" (and its step as "best_fid_step") at FID steps
    and at every epoch end (put
    `keras.callbacks.TensorBoard` after this callback to record it). Load it
    with `restore_best`.

    Args:
        directory: Folder of the checkpoints; the best goes to its `best/`.
        monitor: Logs that must be finite for the state to be saved.

    Attributes:
        best_fid: The lowest FID so far (float), or None.
        best_step: Its step, or None.

    Example:

    ```python
    fid = FIDCallback(statistics, extractor, every_n_steps=1000)
    best = BestCheckpoint("run/checkpoints")
    gan.fit(data, steps_per_epoch=1000, epochs=10,
            callbacks=[fid, best, keras.callbacks.TensorBoard("run/logs")])
    restore_best(gan, "run/checkpoints")  # the weights of best.best_step
    ```
    """

    def __init__(self, directory, monitor=LOSSES):
        super().__init__(1)
        self.directory = os.fspath(directory)
        self.monitor = tuple(monitor)
        self.best_fid = None
        self.best_step = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        _clean_up(self.directory, _BEST_FOLDER)
        self.best_fid = self.best_step = None
        folder = os.path.join(self.directory, _BEST)
        if os.path.isdir(folder):
            try:
                state = _read_state(folder, _BEST_FIELDS)
                self.best_fid, self.best_step = float(state["fid"]), int(state["step"])
            except CheckpointError as error:
                _log.warning(f"the best checkpoint {folder} is unreadable ({error}); the next "
                             "FID replaces it.")

    def on_period(self, step, logs):
        if logs is None or "fid" not in logs:
            return
        fid = float(logs["fid"])
        if (math.isfinite(fid) and (self.best_fid is None or fid < self.best_fid)
                and _savable(self.model, logs, self.monitor, f"the best checkpoint (step {step})")):
            _write(self.model, os.path.join(self.directory, _BEST), {"step": step, "fid": fid})
            self.best_fid, self.best_step = fid, step
        self._log_best(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._log_best(logs)

    def _log_best(self, logs):
        if logs is not None and self.best_fid is not None:
            logs["best_fid"] = self.best_fid
            logs["best_fid_step"] = self.best_step


def saved_steps(directory):
    """The steps of the step checkpoints in `directory`, oldest first (their
    folder names; `restore_latest` verifies them).

    Example:

    ```python
    saved_steps("run/checkpoints")  # [9000, 10000]
    ```
    """
    return [step for step, _ in _checkpoints(directory)]


def _checkpoints(directory):
    """`(step, folder)` of every step checkpoint in `directory`, oldest first."""
    if not os.path.isdir(directory):
        return []
    matches = filter(None, map(_STEP_FOLDER.match, os.listdir(directory)))
    return sorted((int(m.group(1)), os.path.join(directory, m.group(0))) for m in matches)


def _savable(model, logs, monitor, what):
    """Whether the state is finite; logs a warning naming `what` if not."""
    found = first_non_finite(logs, monitor) if logs else None
    if found is not None:
        reason = f"{found[0]} = {found[1]}"
    elif not is_finite_state(model):
        reason = "the weights are not finite"
    else:
        return True
    _log.warning(f"not saving {what}: {reason}.")
    return False


def _write(model, folder, state):
    """Writes the model's weights and `state` (plus the weights' checksum) as
    `folder`, atomically."""
    with atomic_path(folder) as partial:
        os.makedirs(partial)
        weights = os.path.join(partial, _WEIGHTS)
        model.save_weights(weights)
        with open(os.path.join(partial, _STATE), "w") as file:
            json.dump({**state, "weights_sha256": _sha256(weights)}, file)


def _read_state(folder, fields):
    """The state.json of `folder`, checked to hold a number for each of `fields`."""
    try:
        with open(os.path.join(folder, _STATE)) as file:
            state = json.load(file)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{_STATE}: {error}") from None
    if not isinstance(state, dict) or not all(isinstance(state.get(name), (int, float))
                                              for name in fields):
        raise CheckpointError(f"{_STATE} lacks {' or '.join(fields)}: {state!r}")
    return state


def _load(model, folder, fields, step=None):
    """Loads `folder` into `model` and returns its state (see `_read_state`);
    raises `CheckpointError` with the reason when it is unreadable, or when
    its state is not of `step` (if given)."""
    state = _read_state(folder, fields)
    if step is not None and state["step"] != step:
        raise CheckpointError(f"its {_STATE} is of step {state['step']}")
    weights = os.path.join(folder, _WEIGHTS)
    if not os.path.isfile(weights):
        raise CheckpointError(f"{_WEIGHTS} is missing")
    # Checkpoints of earlier versions have no checksum: their load alone
    # tells whether they are whole.
    if "weights_sha256" in state and _sha256(weights) != state["weights_sha256"]:
        raise CheckpointError(f"{_WEIGHTS} does not match its checksum: truncated or corrupted")
    try:
        with warnings.catch_warnings():
            # Keras only warns when an optimizer's variables are missing from
            # the file, and resumes with fresh ones.
            warnings.filterwarnings("error", "Skipping variable loading", UserWarning)
            model.load_weights(weights)
    except (OSError, RuntimeError, ValueError, KeyError, UserWarning) as error:
        raise CheckpointError(f"{_WEIGHTS}: {error}") from None
    return state


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _clean_up(directory, final):
    """Clears what a killed `atomic_path` left in `directory` for folders whose
    names match `final`: partial folders go; an old folder moved aside for a
    replacement comes back if the replacement never got its name."""
    if not os.path.isdir(directory):
        return
    for name in sorted(os.listdir(directory)):
        match = _HIDDEN.match(name)
        if not match or not final.match(match.group(1)):
            continue
        path, target = os.path.join(directory, name), os.path.join(directory, match.group(1))
        if match.group(2) == "old" and not os.path.exists(target):
            os.replace(path, target)
        else:
            shutil.rmtree(path, ignore_errors=True)
