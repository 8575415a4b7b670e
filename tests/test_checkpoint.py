"""Tests of keras_dagan.checkpoint (and of StopAtStep, with which runs of any
length end on a checkpoint)."""

import json
import os
import shutil

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan import GAN
from keras_dagan.checkpoint import (BestCheckpoint, CheckpointError, TrainingCheckpoint,
                                    restore_best, restore_latest)
from keras_dagan.metrics import FIDCallback, KerasClassifierExtractor, reference_statistics
from keras_dagan.models import dcgan_discriminator, dcgan_generator
from keras_dagan.periodic import StopAtStep

LATENT = 8
FINITE = {"d_loss": 1.0, "g_loss": 1.0}


def tiny_gan():
    keras.utils.set_random_seed(0)
    gan = GAN(dcgan_generator(LATENT, 32, width=4), dcgan_discriminator(32, width=4), LATENT,
              seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    return gan


def dataset():
    images = np.random.default_rng(0).uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(images).batch(8).repeat()


def state(gan):
    """Every variable a checkpoint holds, as numpy arrays."""
    variables = gan.variables + gan.d_optimizer.variables + gan.g_optimizer.variables
    return [keras.ops.convert_to_numpy(v) for v in variables]


def assert_same_state(ours, theirs):
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs):
        np.testing.assert_array_equal(mine, other)


def names(directory):
    return sorted(os.listdir(directory))


class Poison(keras.callbacks.Callback):
    """Makes the first weight of the GAN's `part` ("generator" or
    "discriminator") `value` before the step `step` (1-based)."""

    def __init__(self, step, part="generator", value=np.nan):
        super().__init__()
        self.step = step
        self.part = part
        self.value = value

    def on_train_batch_begin(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations.numpy()) == self.step - 1:
            weight = getattr(self.model, self.part).weights[0]
            weight.assign(np.full(weight.shape, self.value, "float32"))


class SaveTheOldWay(keras.callbacks.Callback):
    """Writes checkpoints exactly as the previous version of TrainingCheckpoint
    did, after every step, and records the state of each step."""

    def __init__(self, directory):
        super().__init__()
        self.directory = directory
        self.states = {}

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.g_optimizer.iterations.numpy())
        folder = os.path.join(self.directory, f"step-{step:08d}")
        os.makedirs(folder)
        self.model.save_weights(os.path.join(folder, "gan.weights.h5"))
        with open(os.path.join(folder, "state.json"), "w") as file:
            json.dump({"step": step, "epoch": step}, file)
        self.states[step] = state(self.model)


@pytest.fixture(scope="module")
def two_steps(tmp_path_factory):
    """Checkpoints of steps 1 and 2, in this version's format and in the
    previous one's, and the state at each step."""
    root = tmp_path_factory.mktemp("two_steps")
    old = SaveTheOldWay(str(root / "old"))
    tiny_gan().fit(dataset(), steps_per_epoch=2, epochs=1, verbose=0,
                   callbacks=[TrainingCheckpoint(root / "new", 1), old])
    return root, old.states


def copy_of(two_steps, kind, tmp_path):
    root, states = two_steps
    return shutil.copytree(root / kind, tmp_path / kind), states


def test_checkpoints_at_multiples_and_at_the_final_step_of_any_step_count(tmp_path):
    directory = tmp_path / "checkpoints"
    gan = tiny_gan()
    # 7 steps in epochs of 3: the third epoch stops after one step.
    gan.fit(dataset(), steps_per_epoch=3, epochs=3, verbose=0,
            callbacks=[StopAtStep(7), TrainingCheckpoint(directory, 3, keep=3)])
    assert int(gan.g_optimizer.iterations.numpy()) == 7
    assert names(directory) == ["step-00000003", "step-00000006", "step-00000007"]
    assert names(directory / "step-00000007") == ["gan.weights.h5", "state.json"]
    assert json.loads((directory / "step-00000007" / "state.json").read_text())["step"] == 7

    # A rerun resumes from the final step; step 9 is a multiple, saved once.
    resumed = tiny_gan()
    assert restore_latest(resumed, directory) == 7
    assert_same_state(state(resumed), state(gan))
    resumed.fit(dataset(), steps_per_epoch=3, epochs=3, initial_epoch=2, verbose=0,
                callbacks=[StopAtStep(9), TrainingCheckpoint(directory, 3, keep=3)])
    assert names(directory) == ["step-00000006", "step-00000007", "step-00000009"]


def test_stop_at_step_rejects_a_model_already_there():
    gan = tiny_gan()
    gan.train_steps.assign(5)
    callback = StopAtStep(5)
    callback.set_model(gan)
    with pytest.raises(ValueError, match="already at step 5, not before final_step=5"):
        callback.on_train_begin()
    with pytest.raises(ValueError, match="final_step must be an integer >= 1; got 0"):
        StopAtStep(0)


def test_partial_folders_of_a_killed_run_are_cleaned_up(tmp_path):
    gan = tiny_gan()
    (tmp_path / "step-00000002").mkdir()
    (tmp_path / ".step-00000004.partial-0a1b2c3d").mkdir()
    # Killed between atomic_path's two renames while replacing best/: the
    # old best is complete, the new one may not have its checksum yet.
    (tmp_path / ".best.old-0123abcd").mkdir()
    (tmp_path / ".best.old-0123abcd" / "state.json").write_text('{"step": 3, "fid": 5.0}')
    (tmp_path / ".best.partial-89abcdef").mkdir()
    for callback in (TrainingCheckpoint(tmp_path, 2), BestCheckpoint(tmp_path)):
        callback.set_model(gan)
        callback.on_train_begin()
    assert names(tmp_path) == ["best", "step-00000002"]
    assert callback.best_fid == 5.0 and callback.best_step == 3


def test_non_finite_state_is_never_saved_nor_rotates_good_checkpoints_out(tmp_path, caplog):
    directory = tmp_path / "checkpoints"
    gan = tiny_gan()
    gan.fit(dataset(), steps_per_epoch=5, epochs=1, verbose=0,
            callbacks=[Poison(3), TrainingCheckpoint(directory, 1, keep=2)])
    assert names(directory) == ["step-00000001", "step-00000002"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "keras_dagan.checkpoint"]
    assert warnings[0].startswith("not saving the checkpoint of step 3: d_loss = nan")
    assert len(warnings) == 3  # steps 3, 4 and 5; the end of training tries no twice
    resumed = tiny_gan()
    assert restore_latest(resumed, directory) == 2
    assert all(np.isfinite(value).all() for value in state(resumed))


def test_each_monitored_log_and_each_weight_must_be_finite(tmp_path):
    gan = tiny_gan()
    callback = TrainingCheckpoint(tmp_path, 1)
    callback.set_model(gan)
    callback.on_train_begin()
    callback.on_train_batch_end(0, {"d_loss": 1.0, "g_loss": float("inf")})
    assert names(tmp_path) == []
    callback.on_train_batch_end(1, FINITE)
    assert names(tmp_path) == ["step-00000002"]
    weight = gan.ema_generator.weights[0]
    weight.assign(np.full(weight.shape, np.nan, "float32"))
    callback.on_train_batch_end(2, FINITE)
    callback.on_train_end(FINITE)
    assert names(tmp_path) == ["step-00000002"]


def mark(gan, value):
    """Sets a generator weight to `value`, to tell saved states apart."""
    weight = gan.generator.weights[0]
    weight.assign(np.full(weight.shape, value, "float32"))


def marked(gan):
    return float(keras.ops.convert_to_numpy(gan.generator.weights[0]).flat[0])


def test_best_checkpoint_is_replaced_only_by_a_strictly_lower_fid(tmp_path):
    gan = tiny_gan()
    best = BestCheckpoint(tmp_path)
    best.set_model(gan)
    best.on_train_begin()
    seen = []
    for step, fid in enumerate([10.0, None, 12.0, 10.0, 8.0, float("nan")], start=1):
        mark(gan, step)
        logs = dict(FINITE) if fid is None else dict(FINITE, fid=fid)
        best.on_train_batch_end(step - 1, logs)
        seen.append(logs.get("best_fid"))
    assert seen == [10.0, None, 10.0, 10.0, 8.0, 8.0]
    assert (best.best_fid, best.best_step) == (8.0, 5)
    epoch_logs = dict(FINITE)
    best.on_epoch_end(0, epoch_logs)
    assert epoch_logs["best_fid"] == 8.0
    assert names(tmp_path) == ["best"]
    assert names(tmp_path / "best") == ["gan.weights.h5", "state.json"]

    # A resumed run starts from the stored best.
    restored = tiny_gan()
    assert restore_best(restored, tmp_path) == (5, 8.0)
    assert marked(restored) == 5
    resumed = BestCheckpoint(tmp_path)
    resumed.set_model(gan)
    resumed.on_train_begin()
    assert (resumed.best_fid, resumed.best_step) == (8.0, 5)
    mark(gan, 100)
    resumed.on_train_batch_end(0, dict(FINITE, fid=9.0))
    mark(gan, np.nan)  # never saved, whatever the FID
    resumed.on_train_batch_end(1, dict(FINITE, fid=1.0))
    resumed.on_train_batch_end(2, dict(FINITE, d_loss=float("nan"), fid=1.0))
    assert (resumed.best_fid, resumed.best_step) == (8.0, 5)
    mark(gan, 200)
    resumed.on_train_batch_end(3, dict(FINITE, fid=7.0))
    assert restore_best(restored, tmp_path) == (4, 7.0)
    assert marked(restored) == 200
    assert names(tmp_path) == ["best"]


def test_best_checkpoint_follows_the_fid_callback_in_fit(tmp_path):
    images = keras.Input((32, 32, 3))
    features = keras.layers.Flatten(name="features")(keras.layers.AveragePooling2D(8)(images))
    extractor = KerasClassifierExtractor(keras.Model(images, features), "features", name="toy")
    real = np.random.default_rng(1).uniform(-1, 1, (40, 32, 32, 3)).astype("float32")
    fid = FIDCallback(reference_statistics(extractor, [real], 40), extractor, every_n_steps=2,
                      num_samples=40, batch_size=20, is_splits=0)
    best = BestCheckpoint(tmp_path)
    history = tiny_gan().fit(dataset(), steps_per_epoch=2, epochs=2, verbose=0,
                             callbacks=[fid, best])
    fids = [entry["fid"] for entry in fid.history]
    assert best.best_fid == min(fids) and best.best_step == 2 * (1 + fids.index(min(fids)))
    assert history.history["best_fid"] == [fids[0], min(fids)]
    stored = json.loads((tmp_path / "best" / "state.json").read_text())
    assert (stored["step"], stored["fid"]) == (best.best_step, best.best_fid)


def test_restore_best_without_or_with_a_damaged_best(tmp_path):
    gan = tiny_gan()
    assert restore_best(gan, tmp_path) is None
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "state.json").write_text('{"step": 3}')
    with pytest.raises(CheckpointError, match="best checkpoint .*best is unreadable "
                                              r"\(state.json lacks step or fid"):
        restore_best(gan, tmp_path)


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_newest_checkpoint_falls_back_with_one_line(two_steps, tmp_path):
    directory, states = copy_of(two_steps, "new", tmp_path)
    truncate(directory / "step-00000002" / "gan.weights.h5")
    gan = tiny_gan()
    lines = []
    assert restore_latest(gan, directory, warn=lines.append) == 1
    assert lines == [
        f"checkpoint {directory / 'step-00000002'} is unreadable (gan.weights.h5 does not "
        f"match its checksum: truncated or corrupted); falling back to "
        f"{directory / 'step-00000001'}"
    ]
    assert_same_state(state(gan), states[1])


def test_a_partly_loaded_checkpoint_is_wholly_overwritten_by_the_fallback(two_steps, tmp_path):
    # Checkpoints of the previous version have no checksum: the damage shows
    # only once the load has set G's and D's weights from the bad file.
    directory, states = copy_of(two_steps, "old", tmp_path)
    with h5py.File(directory / "step-00000002" / "gan.weights.h5", "a") as file:
        del file["g_optimizer/vars/3"]
    gan = tiny_gan()
    # Keras alone only warns, leaving a mix of step 2 and fresh variables.
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        gan.load_weights(directory / "step-00000002" / "gan.weights.h5")
    assert any((ours != theirs).any() for ours, theirs in zip(state(gan), states[1]))
    lines = []
    assert restore_latest(gan, directory, warn=lines.append) == 1
    assert len(lines) == 1 and "step-00000002 is unreadable (gan.weights.h5: " in lines[0]
    assert_same_state(state(gan), states[1])


def test_checkpoint_of_the_previous_version_loads(two_steps, tmp_path):
    directory, states = copy_of(two_steps, "old", tmp_path)
    gan = tiny_gan()
    assert restore_latest(gan, directory, warn=pytest.fail) == 2
    assert_same_state(state(gan), states[2])


def test_no_readable_checkpoint_raises_naming_the_folder_and_the_reasons(two_steps, tmp_path):
    gan = tiny_gan()
    assert restore_latest(gan, tmp_path / "none") == 0
    directory, _ = copy_of(two_steps, "new", tmp_path)
    (directory / "step-00000001" / "state.json").write_text('{"step": ')
    os.remove(directory / "step-00000002" / "gan.weights.h5")
    lines = []
    with pytest.raises(CheckpointError) as raised:
        restore_latest(gan, directory, warn=lines.append)
    message = str(raised.value)
    assert message.startswith(f"no checkpoint in {directory} is readable: ")
    assert "step-00000002 (gan.weights.h5 is missing)" in message
    assert "step-00000001 (state.json: Expecting value" in message
    assert len(lines) == 1
