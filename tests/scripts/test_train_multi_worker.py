"""scripts/train.py --strategy=multi_worker on two local workers (one CPU
device each), started by scripts/launch_local_cluster.py on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts.test_train import image_folder, tiny_run_flags  # noqa: F401 (fixture)

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
def test_two_workers_write_one_run_and_resume_it(image_folder, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    flags = [*tiny_run_flags(image_folder, out, 2), "--export=last"]
    result, summaries = launch(flags, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert len(summaries) == 2  # both workers finished
    assert sorted(os.listdir(out)) == ["checkpoints", "generator", "logs", "manifest.json",
                                       "samples"]
    assert os.listdir(out / "checkpoints") == ["step-00000002"]
    assert os.listdir(out / "samples") == ["step-00000002.png"]
    assert os.listdir(tmp_path / "scratch") == []  # worker 1's folder is gone

    flags[flags.index("--steps=2")] = "--steps=4"
    result, summaries = launch(flags, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert [summary["resumed_from"] for summary in summaries] == [2, 2]
    assert sorted(os.listdir(out / "checkpoints")) == ["step-00000002", "step-00000004"]
    assert os.listdir(tmp_path / "scratch") == []


@pytest.mark.slow
def test_a_worker_without_its_leader_fails_naming_the_address(image_folder, tmp_path):  # noqa: F811
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
                             *tiny_run_flags(image_folder, tmp_path / "run", 2)],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    # TensorFlow's coordination agent logs its own lines as the process ends.
    errors = [line for line in result.stderr.splitlines() if line.startswith("train.py:")]
    assert len(errors) == 1, result.stderr[-3000:]
    last = errors[0]
    assert last.startswith("train.py: error: --strategy=multi_worker: worker 1 could not join "
                           f"the cluster: its leader, worker 0 at {leader}, did not register it "
                           "within 3 s"), last
