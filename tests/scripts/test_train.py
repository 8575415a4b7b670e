import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan.files import write_png

ROOT = Path(__file__).resolve().parents[2]
TRAIN = str(ROOT / "scripts" / "train.py")


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        for index in range(12):
            write_png(folder / name / f"{index}.png", rng.integers(0, 256, (32, 32, 3)).astype("uint8"))
    return folder


def tiny_run_flags(folder, out_dir, steps):
    return [f"--dataset=folder:{folder}", f"--out_dir={out_dir}", f"--steps={steps}",
            "--checkpoint_every=2", "--sample_every=2", "--batch_size=8", "--width=4",
            "--latent_dim=8", "--verbose=0", "--conditional"]


def run(flags, **kwargs):
    return subprocess.run([sys.executable, TRAIN, *flags], capture_output=True, text=True,
                          timeout=600, cwd=ROOT, **kwargs)


def checkpoint_weights(out_dir, step):
    values = {}
    with h5py.File(os.path.join(out_dir, "checkpoints", f"step-{step:08d}", "gan.weights.h5")) as file:
        file.visititems(lambda name, item: values.__setitem__(name, item[()])
                        if isinstance(item, h5py.Dataset) else None)
    return values


@pytest.mark.slow
def test_killed_run_resumes_where_the_checkpoint_left_it(image_folder, tmp_path):
    # SIGKILL a long run as soon as its first checkpoint is complete.
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, TRAIN, *tiny_run_flags(image_folder, killed, 400)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / "checkpoints" / "step-00000002").exists():
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # Only complete checkpoints carry a final name.
    steps = sorted(name for name in os.listdir(killed / "checkpoints") if not name.startswith("."))
    for name in steps:
        assert sorted(os.listdir(killed / "checkpoints" / name)) == ["gan.weights.h5", "state.json"]
    last = int(steps[-1][len("step-"):])

    resumed = run(tiny_run_flags(image_folder, killed, last + 2))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resumed from step {last}" in resumed.stdout
    assert not [name for name in os.listdir(killed / "checkpoints") if name.startswith(".")]

    straight = tmp_path / "straight"
    result = run(tiny_run_flags(image_folder, straight, last + 2))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["resumed_from"] == 0
    assert len(os.listdir(straight / "samples")) == (last + 2) // 2
    assert (straight / "generator" / "saved_model.pb").exists()
    assert glob.glob(str(straight / "logs" / "train" / "events.out.tfevents.*"))
    # Same data position, random state, optimizers and EMA: the resumed run
    # ends exactly where the uninterrupted one did.
    ours, theirs = checkpoint_weights(killed, last + 2), checkpoint_weights(straight, last + 2)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("flags,message", [
    (["--data_fraction=1.5"], "--data_fraction=1.5 is outside (0, 1]"),
    (["--data_fraction=0"], "--data_fraction=0.0 is outside (0, 1]"),
    (["--arch=biggan", "--resolution=64"], "--resolution=64: --arch=biggan makes 32 pixel images"),
    (["--arch=stylegan2", "--resolution=48"],
     "--resolution=48: --arch=stylegan2 makes 32, 64, 128, 256, 512, 1024 pixel images"),
    (["--arch=stylegan2", "--width=8"], "--width sets dcgan and biggan widths"),
    (["--channel_base=1024", "--style_mixing=0"],
     "--channel_base, --style_mixing: only --arch=stylegan2 takes these; got --arch=dcgan"),
    (["--pl_weight=2"], "--pl_weight=2.0: path length regularization needs --arch=stylegan2"),
    (["--r1_interval=-1"], "--r1_interval=-1 must be >= 0"),
    (["--dataset=folder:/no/such/folder"], "--dataset=folder:/no/such/folder: no such folder"),
    (["--dag=rotation,spin"], "--dag=rotation,spin --dag_weight=1.0:"),
    (["--augment=ada", "--ada_preset=xyz"], "--augment=ada:"),
    (["--augment=ada", "--ada_p=1.5"], "--ada_p=1.5 is outside [0, 1]"),
    (["--policy=color,foo"], "--augment=diffaugment: Unknown DiffAugment policy name(s) ['foo']"),
    (["--augment=xyz"], "flag --augment=xyz: value should be one of"),
    (["--steps=abc"], "flag --steps=abc"),
    (["--nosuchflag"], "Unknown command line flag 'nosuchflag'"),
    (["--ema_rampup=0.05"], "--ema_rampup=0.05 ramps up the half-life set by --ema_kimg"),
    (["--ema_start=-1"], "--ema_start=-1 must be >= 0"),
    (["--strategy=tpu"], "--strategy=tpu needs --tpu=NAME"),
    (["--tpu=my-tpu"], "--tpu=my-tpu is only for --strategy=tpu; got --strategy=default"),
    (["--strategy=multi_worker", "--join_timeout=0"], "--join_timeout=0 must be at least 1"),
    (["--fid_reference=val", "--eval_every=1"], "--fid_reference=val: use train, test or folder:PATH"),
    (["--dataset=folder:/tmp", "--fid_reference=test", "--eval_every=1"],
     "--fid_reference=test: --dataset=folder:/tmp is a folder, which has no test split"),
])
def test_bad_flags_stop_with_one_line(train, flags, message, tmp_path, capsys):
    # In process: parse_flags and check_flags are what the script runs
    # before any work.
    train.FLAGS.unparse_flags()
    with pytest.raises(SystemExit) as stop:
        train.parse_flags(["train.py", f"--out_dir={tmp_path}", "--steps=2", *flags])
        train.check_flags()
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train.py: error:") and message in lines[0], lines


def test_unknown_tfds_name_stops_the_script_with_one_line(tmp_path):
    result = run([f"--out_dir={tmp_path}", "--dataset=no_such_dataset_xyz"])
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("train.py: error:")]
    assert len(lines) == 1 and "--dataset=no_such_dataset_xyz: Unknown tfds dataset" in lines[0]
    assert not tmp_path.joinpath("manifest.json").exists()


@pytest.mark.slow
def test_empty_folder_and_unreadable_image_are_named(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run([f"--dataset=folder:{empty}", f"--out_dir={tmp_path / 'a'}"])
    assert result.returncode == 2 and "No images" in result.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.png").write_bytes(b"not an image")
    result = run([f"--dataset=folder:{broken}", f"--out_dir={tmp_path / 'b'}"])
    assert result.returncode == 2 and "bad.png" in result.stderr


@pytest.mark.slow
def test_dag_heads_train_from_the_command_line(image_folder, tmp_path):
    result = run(tiny_run_flags(image_folder, tmp_path, 2) + ["--dag=flipping", "--sample_every=0"])
    assert result.returncode == 0, result.stderr[-3000:]
    names = set(checkpoint_weights(tmp_path, 2))
    assert any("head" in name for name in names), sorted(names)[:20]


@pytest.mark.slow
def test_ada_trains_and_resumes_its_probability(image_folder, tmp_path):
    flags = tiny_run_flags(image_folder, tmp_path, 2) + [
        "--augment=ada", "--ada_kimg=0.1", "--ada_interval=1", "--sample_every=0"]
    result = run(flags)
    assert result.returncode == 0, result.stderr[-3000:]
    # p and the controller's three accumulators are part of the checkpoint.
    weights = checkpoint_weights(tmp_path, 2)
    assert {f"augment/vars/{index}" for index in range(4)} <= set(weights)
    assert 0.0 <= float(weights["augment/vars/0"]) <= 1.0


def event_tags(folder):
    tags = set()
    for path in glob.glob(str(folder / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


@pytest.mark.slow
def test_mirrored_mixed_precision_run_logs_to_tensorboard(image_folder, tmp_path):
    flags = tiny_run_flags(image_folder, tmp_path, 2) + [
        "--strategy=mirrored", "--mixed_precision=mixed_bfloat16"]
    result = run(flags)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {"epoch_d_loss", "epoch_g_loss", "epoch_r_t"} <= event_tags(tmp_path / "logs" / "train")
    assert "samples" in event_tags(tmp_path / "logs" / "samples")


def summary(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


def folder_names(path):
    return sorted(name for name in os.listdir(path) if not name.startswith("."))


@pytest.mark.slow
def test_any_step_count_ends_with_a_checkpoint_and_a_grid_at_its_last_step(image_folder, tmp_path):
    flags = tiny_run_flags(image_folder, tmp_path, 5)
    result = run(flags)
    assert result.returncode == 0, result.stderr[-3000:]
    assert folder_names(tmp_path / "checkpoints") == ["step-00000004", "step-00000005"]
    assert folder_names(tmp_path / "samples") == [f"step-0000000{k}.png" for k in (2, 4, 5)]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["flags"]["steps"] == 5 and len(manifest["data_members"]) == 24
    again = run(flags)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Resumed from step 5" in again.stdout and summary(again)["resumed_from"] == 5
    assert len(folder_names(tmp_path / "samples")) == 3


@pytest.mark.slow
def test_a_diverged_run_stops_keeps_the_good_checkpoints_and_exits_1(image_folder, tmp_path):
    good = run(tiny_run_flags(image_folder, tmp_path, 4) + ["--sample_every=0"])
    assert good.returncode == 0, good.stderr[-3000:]
    kept = {name: (tmp_path / "checkpoints" / name / "gan.weights.h5").read_bytes()
            for name in folder_names(tmp_path / "checkpoints")}
    export = (tmp_path / "generator" / "saved_model.pb").stat().st_mtime_ns
    diverged = run(tiny_run_flags(image_folder, tmp_path, 40) + [
        "--sample_every=0", "--lr_d=1e30", "--lr_g=1e30"])
    assert diverged.returncode == 1, diverged.stderr[-3000:]
    errors = [line for line in diverged.stderr.splitlines() if line.startswith("train.py: error:")]
    assert len(errors) == 1 and "training diverged at step" in errors[0], diverged.stderr[-3000:]
    assert "The last good checkpoint is step 4" in errors[0]
    assert not diverged.stdout.strip().endswith("}")
    assert {name: (tmp_path / "checkpoints" / name / "gan.weights.h5").read_bytes()
            for name in folder_names(tmp_path / "checkpoints")} == kept
    assert (tmp_path / "generator" / "saved_model.pb").stat().st_mtime_ns == export


@pytest.mark.slow
def test_a_damaged_checkpoint_falls_back_and_none_readable_is_one_line(image_folder, tmp_path):
    flags = tiny_run_flags(image_folder, tmp_path, 4) + ["--sample_every=0"]
    assert run(flags).returncode == 0
    newest = tmp_path / "checkpoints" / "step-00000004" / "gan.weights.h5"
    newest.write_bytes(newest.read_bytes()[:1000])  # as a full disk leaves it
    resumed = run(tiny_run_flags(image_folder, tmp_path, 6) + ["--sample_every=0"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    warnings = [line for line in resumed.stderr.splitlines() if "is unreadable" in line]
    assert len(warnings) == 1 and "step-00000004" in warnings[0] and "step-00000002" in warnings[0]
    assert "Resumed from step 2" in resumed.stdout
    for name in folder_names(tmp_path / "checkpoints"):
        weights = tmp_path / "checkpoints" / name / "gan.weights.h5"
        weights.write_bytes(weights.read_bytes()[:1000])
    broken = run(tiny_run_flags(image_folder, tmp_path, 8))
    assert broken.returncode == 2
    errors = [line for line in broken.stderr.splitlines() if line.startswith("train.py: error:")]
    assert len(errors) == 1 and "no checkpoint in" in errors[0], broken.stderr[-3000:]


@pytest.mark.slow
def test_resuming_checks_the_manifest_and_loads_checkpoints_of_the_previous_version(image_folder,
                                                                                    tmp_path):
    assert run(tiny_run_flags(image_folder, tmp_path, 2) + ["--sample_every=0"]).returncode == 0
    other = run(tiny_run_flags(image_folder, tmp_path, 4) + ["--width=8"])
    assert other.returncode == 2
    assert "--width=8 (the run's: 4)" in other.stderr, other.stderr[-2000:]
    # What the previous version left: no manifest, a state.json without a
    # checksum.
    (tmp_path / "manifest.json").unlink()
    state = tmp_path / "checkpoints" / "step-00000002" / "state.json"
    state.write_text(json.dumps({"step": 2, "epoch": 1}))
    resumed = run(tiny_run_flags(image_folder, tmp_path, 4) + ["--sample_every=0"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resumed from step 2" in resumed.stdout
    assert (tmp_path / "manifest.json").exists()


@pytest.mark.slow
def test_best_fid_checkpoint_is_kept_reported_and_exported(image_folder, tmp_path):
    flags = tiny_run_flags(image_folder, tmp_path, 4) + [
        "--sample_every=0", "--eval_every=2", "--extractor=cifar10", "--num_eval_samples=24",
        f"--cache_dir={tmp_path / 'cache'}"]
    result = run(flags)
    assert result.returncode == 0, result.stderr[-3000:]
    report = summary(result)
    fids = {int(step): value for step, value in report["fid"].items()}
    best_step = min(fids, key=fids.get)
    assert report["best_step"] == best_step and report["best_fid"] == fids[best_step]
    assert report["exported"] == f"best (step {best_step})"
    state = json.loads((tmp_path / "checkpoints" / "best" / "state.json").read_text())
    assert state["step"] == best_step
    assert {"epoch_best_fid", "epoch_best_fid_step"} <= event_tags(tmp_path / "logs" / "train")
    last = run(flags[:-4] + ["--export=last", "--steps=4"])
    assert summary(last)["exported"] == "last"


@pytest.mark.slow
def test_stylegan2_trains_20_steps_resumes_and_samples_truncated(image_folder, tmp_path):
    flags = [f"--dataset=folder:{image_folder}", f"--out_dir={tmp_path}", "--arch=stylegan2",
             "--resolution=32", "--channel_base=256", "--channel_max=16", "--mapping_layers=2",
             "--latent_dim=16", "--mbstd_group_size=4", "--batch_size=8", "--loss=non_saturating",
             "--r1_gamma=0.01", "--r1_interval=4", "--pl_weight=2", "--pl_interval=4",
             "--zero_nonfinite_gradients", "--lr_g=0.0025", "--lr_d=0.0025", "--beta_2=0.99",
             "--adam_epsilon=1e-8", "--ema_kimg=0.1", "--checkpoint_every=10",
             "--sample_every=10", "--verbose=0", "--conditional", "--dag=flipping"]
    result = run(flags + ["--steps=10"])
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = run(flags + ["--steps=20"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resumed from step 10" in resumed.stdout
    # Steps are train steps, not optimizer steps (which count the lazy ones).
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["step-00000010", "step-00000020"]
    assert (tmp_path / "samples" / "step-00000020.png").exists()
    grid = tmp_path / "truncated.png"
    sample = subprocess.run([sys.executable, str(ROOT / "scripts" / "sample.py"),
                             f"--generator={tmp_path / 'generator'}", "--num=4",
                             "--truncation_psi=0.5", f"--out={grid}"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert sample.returncode == 0, sample.stderr[-3000:]
    assert grid.exists()
