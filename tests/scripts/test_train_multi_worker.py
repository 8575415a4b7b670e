"""scripts/train.py --strategy=multi_worker on two local workers (one CPU
device each), started by scripts/launch_local_cluster.py on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.scripts.test_train import image_folder  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
TRAIN = str(ROOT / "scripts" / "train.py")
LAUNCH = str(ROOT / "scripts" / "launch_local_cluster.py")


def environment(tmp_path):
    """PYTHONPATH to this checkout, and a TMPDIR to see the workers' scratch
    folders in."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, TMPDIR=str(scratch)), scratch


def launch(flags, tmp_path):
    env, _ = environment(tmp_path)
    result = subprocess.run([sys.executable, LAUNCH, "--num_workers=2", "--", sys.executable,
                             TRAIN, "--strategy=multi_worker", *flags],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    summaries = [json.loads(line.split("] ", 1)[1]) for line in result.stdout.splitlines()
                 if line.startswith("[worker") and line.split("] ", 1)[1].startswith("{")]
    return result, summaries


@pytest.mark.slow
def test_two_workers_train_the_quickstart_write_one_run_and_resume_it(tmp_path):
    out = tmp_path / "run"
    flags = ["--flagfile=configs/quickstart.cfg", f"--out_dir={out}", "--steps=2",
             "--checkpoint_every=2", "--sample_every=2", "--eval_every=0", "--verbose=0"]
    result, summaries = launch(flags, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert len(summaries) == 2  # both workers finished
    assert sorted(os.listdir(out)) == ["checkpoints", "generator", "logs", "manifest.json",
                                       "samples"]
    assert os.listdir(out / "checkpoints") == ["step-00000002"]
    assert os.listdir(out / "samples") == ["step-00000002.png"]
    assert os.listdir(tmp_path / "scratch") == []  # worker 1's folder is gone

    flags[flags.index("--steps=2")] = "--steps=3"
    result, summaries = launch(flags, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert [summary["resumed_from"] for summary in summaries] == [2, 2]
    assert sorted(os.listdir(out / "checkpoints")) == ["step-00000002", "step-00000003"]
    assert os.listdir(tmp_path / "scratch") == []


@pytest.mark.slow
def test_a_worker_without_its_leader_fails_naming_the_address(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        leader = f"127.0.0.1:{sock.getsockname()[1]}"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        me = f"127.0.0.1:{sock.getsockname()[1]}"
    env, _ = environment(tmp_path)
    env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [leader, me]},
                                   "task": {"type": "worker", "index": 1}})
    result = subprocess.run([sys.executable, TRAIN, "--strategy=multi_worker", "--join_timeout=3",
                             "--flagfile=configs/quickstart.cfg", f"--out_dir={tmp_path / 'run'}"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    # TensorFlow's coordination agent logs its own lines as the process ends.
    errors = [line for line in result.stderr.splitlines() if line.startswith("train.py:")]
    assert len(errors) == 1, result.stderr[-3000:]
    last = errors[0]
    assert last.startswith("train.py: error: --strategy=multi_worker: worker 1 could not join "
                           f"the cluster: its leader, worker 0 at {leader}, did not register it "
                           "within 3 s"), last


def tiny_flags(folder, out_dir, steps):
    return [f"--dataset=folder:{folder}", f"--out_dir={out_dir}", f"--steps={steps}",
            "--checkpoint_every=2", "--sample_every=0", "--batch_size=8", "--width=4",
            "--latent_dim=8", "--verbose=0", "--export=last"]


def weights(checkpoint):
    import h5py

    values = {}
    with h5py.File(checkpoint / "gan.weights.h5") as file:
        file.visititems(lambda name, item: values.__setitem__(name, item[()])
                        if isinstance(item, h5py.Dataset) else None)
    return values


@pytest.mark.slow
def test_a_killed_worker_stops_the_other_and_both_resume_as_never_stopped(
        image_folder, tmp_path):  # noqa: F811
    env, _ = environment(tmp_path)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    # Two workers started directly (not by the launcher, which would stop
    # the survivor itself); worker 1 is killed once the first checkpoint is
    # written, mid-run.
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", 0))
        second.bind(("127.0.0.1", 0))
        cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in (first, second)]}
    workers = []
    for index in (0, 1):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(subprocess.Popen(
            [sys.executable, TRAIN, "--strategy=multi_worker",
             *tiny_flags(image_folder, killed, 400)],
            env=dict(env, TF_CONFIG=config), cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True))
    try:
        while not (killed / "checkpoints").is_dir() or not os.listdir(killed / "checkpoints"):
            assert workers[1].poll() is None, workers[1].stderr.read()[-3000:]
            time.sleep(0.2)
        workers[1].kill()
        survivor = workers[0].communicate(timeout=180)[1]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert workers[0].returncode == 1
    errors = [line for line in survivor.splitlines() if line.startswith("train.py:")]
    assert len(errors) == 1 and "lost contact with another worker" in errors[0], survivor[-3000:]

    result, summaries = launch(tiny_flags(image_folder, killed, 6), tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    resumed = summaries[0]["resumed_from"]
    assert resumed >= 2 and resumed % 2 == 0 and [s["resumed_from"] for s in summaries] == [resumed] * 2
    result, _ = launch(tiny_flags(image_folder, whole, 6), tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    expected = weights(whole / "checkpoints" / "step-00000006")
    for name, value in weights(killed / "checkpoints" / "step-00000006").items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
