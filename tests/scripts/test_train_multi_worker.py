"""scripts/train.py --strategy=multi_worker on two local workers (one CPU
device each), started by scripts/launch_local_cluster.py on 127.0.0.1."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

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
def test_a_worker_without_its_leader_fails_naming_the_address(tmp_path):
    leader, me = free_addresses(2)
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


def quickstart_flags(out_dir, steps):
    return ["--flagfile=configs/quickstart.cfg", f"--out_dir={out_dir}", f"--steps={steps}",
            "--checkpoint_every=2", "--sample_every=2", "--eval_every=0", "--verbose=0",
            "--export=last"]


def free_addresses(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{sock.getsockname()[1]}" for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def weights(checkpoint):
    import h5py

    values = {}
    with h5py.File(checkpoint / "gan.weights.h5") as file:
        file.visititems(lambda name, item: values.__setitem__(name, item[()])
                        if isinstance(item, h5py.Dataset) else None)
    return values


def complete_steps(checkpoints):
    """Steps of the complete checkpoints (an interrupted write leaves a
    partial folder under another name)."""
    return sorted(int(name.split("-")[1]) for name in os.listdir(checkpoints)
                  if name.startswith("step-") and (checkpoints / name / "state.json").exists())


@pytest.mark.slow
def test_two_workers_train_the_quickstart_lose_their_chief_and_resume_as_never_stopped(tmp_path):
    env, scratch = environment(tmp_path)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    # Two workers started directly (the launcher would stop the survivor
    # itself); the chief, worker 0, is killed once a checkpoint is written.
    cluster = {"worker": free_addresses(2)}
    workers = []
    for index in (0, 1):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(subprocess.Popen(
            [sys.executable, TRAIN, "--strategy=multi_worker", *quickstart_flags(killed, 400)],
            env=dict(env, TF_CONFIG=config), cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True))
    try:
        while not (killed / "checkpoints").is_dir() or not complete_steps(killed / "checkpoints"):
            for worker in workers:
                assert worker.poll() is None, worker.stderr.read()[-3000:]
            time.sleep(0.2)
        workers[0].kill()
        survivor = workers[1].communicate(timeout=180)[1]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert workers[1].returncode == 1
    errors = [line for line in survivor.splitlines() if line.startswith("train.py:")]
    assert len(errors) == 1 and "lost contact with another worker" in errors[0], survivor[-3000:]

    # Relaunched, both workers resume from the chief's last checkpoint and
    # end as a run that was never stopped; the run's folder holds one run.
    steps = complete_steps(killed / "checkpoints")[-1] + 4
    result, summaries = launch(quickstart_flags(killed, steps), tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    resumed = summaries[0]["resumed_from"]
    assert resumed >= 2 and resumed % 2 == 0 and [s["resumed_from"] for s in summaries] == [resumed] * 2
    assert sorted(os.listdir(killed)) == ["checkpoints", "generator", "logs", "manifest.json",
                                          "samples"]
    assert complete_steps(killed / "checkpoints")[-2:] == [steps - 2, steps]
    assert f"step-{steps:08d}.png" in os.listdir(killed / "samples")
    # The other worker's scratch folders are gone, the killed run's too.
    assert [name for name in os.listdir(scratch) if name.startswith("keras_dagan-")] == []
    result, _ = launch(quickstart_flags(whole, steps), tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    expected = weights(whole / "checkpoints" / f"step-{steps:08d}")
    for name, value in weights(killed / "checkpoints" / f"step-{steps:08d}").items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)


@pytest.mark.slow
def test_xla_on_a_cpu_cluster_is_refused_in_one_line(tmp_path):
    result, _ = launch(quickstart_flags(tmp_path / "run", 2) + ["--jit_compile"], tmp_path)
    assert result.returncode == 2
    # The launcher stops the other worker once one fails; either may be first.
    errors = [line.split("] ", 1)[1] for line in result.stdout.splitlines()
              if "train.py: error:" in line]
    assert errors, result.stdout[-3000:]
    for line in errors:
        assert re.fullmatch(r"train.py: error: --jit_compile with --strategy=multi_worker: XLA "
                            r"cannot compile the all-reduce of a MultiWorkerMirroredStrategy on "
                            r"CPU devices \(/job:worker/replica:0/task:[01]/device:CPU:0\)\. "
                            r"Drop --jit_compile, or train on GPUs\.", line), line
    assert not (tmp_path / "run").exists()
