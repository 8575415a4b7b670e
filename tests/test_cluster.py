"""Tests of keras_dagan.cluster that need no cluster: TF_CONFIG checks, the
leader's join timeout, the chief's and the other workers' output folders,
and the TPU path up to TensorFlow's resolver."""

import json
import os
import socket
import types

import pytest
import tensorflow as tf

from keras_dagan import cluster
from keras_dagan.cluster import (ClusterError, computed_by_chief, is_chief, multi_worker_strategy,
                                 output_dir, tpu_strategy)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("config,message", [
    (None, "TF_CONFIG is not set"),
    ("{cluster", "TF_CONFIG is not JSON"),
    ('{"cluster": {"worker": ["a:1"]}}', 'TF_CONFIG needs a "cluster" and a "task" object'),
    ('{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}',
     'TF_CONFIG\'s cluster needs a non-empty "worker" (or "chief") list'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}',
     "TF_CONFIG's task {'type': 'worker', 'index': 1} is not in its cluster"),
])
def test_bad_tf_config_is_named(config, message, monkeypatch):
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", config)
    with pytest.raises(ClusterError) as error:
        multi_worker_strategy()
    assert message in str(error.value)


def test_the_leader_fails_naming_the_worker_it_cannot_reach(monkeypatch):
    # Worker 0 leads; worker 1's address has no listener. It fails before
    # configuring TensorFlow, so this process is unaffected.
    missing = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{closed_port()}", missing]},
        "task": {"type": "worker", "index": 0}}))
    with pytest.raises(ClusterError, match=f"worker 0 .* could not reach {missing} within 1 s"):
        multi_worker_strategy(join_timeout_s=1)


@pytest.mark.parametrize("timeout", [0, 1.5, True])
def test_join_timeout_is_checked(timeout):
    with pytest.raises(ValueError, match="join_timeout_s must be an integer >= 1"):
        multi_worker_strategy(join_timeout_s=timeout)


class FakeMultiWorker(tf.distribute.MultiWorkerMirroredStrategy):
    """A MultiWorkerMirroredStrategy's place in a cluster, without a cluster."""

    def __init__(self, task_type, task_id, jobs):  # no super(): it would join the cluster
        spec = types.SimpleNamespace(jobs=list(jobs))
        self._resolver = types.SimpleNamespace(task_type=task_type, task_id=task_id,
                                               cluster_spec=lambda: spec)

    @property
    def cluster_resolver(self):
        return self._resolver


def fake_multi_worker(task_type, task_id, jobs=("worker",)):
    return FakeMultiWorker(task_type, task_id, jobs)


@pytest.mark.parametrize("task,jobs,chief", [
    (("worker", 0), ("worker",), True),
    (("worker", 1), ("worker",), False),
    (("chief", 0), ("chief", "worker"), True),
    (("worker", 0), ("chief", "worker"), False),
    ((None, None), ("worker",), True),
])
def test_the_chief_is_the_chief_task_else_worker_0(task, jobs, chief):
    assert is_chief(fake_multi_worker(*task, jobs)) is chief


def test_only_the_chief_writes_to_the_run_folder(tmp_path, monkeypatch):
    assert is_chief(tf.distribute.get_strategy())
    with output_dir(str(tmp_path / "run"), tf.distribute.get_strategy()) as folder:
        assert folder == str(tmp_path / "run")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "scratch"))
    os.makedirs(tmp_path / "scratch")
    monkeypatch.setattr(cluster.tempfile, "tempdir", None)
    with pytest.raises(RuntimeError):
        with output_dir(str(tmp_path / "run"), fake_multi_worker("worker", 1)) as folder:
            assert folder.startswith(str(tmp_path / "scratch" / "keras_dagan-worker1-"))
            open(os.path.join(folder, "file"), "w").close()
            raise RuntimeError("the run failed")
    assert os.listdir(tmp_path / "scratch") == []


def test_tpu_strategy_names_the_tpu_it_cannot_reach(monkeypatch):
    def resolver(tpu):
        raise ValueError(f"Could not lookup TPU metadata for {tpu}")

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", resolver)
    with pytest.raises(ClusterError, match="cannot reach the TPU 'my-tpu': Could not lookup"):
        tpu_strategy("my-tpu")


@pytest.mark.parametrize("tpu", ["", None])
def test_tpu_strategy_needs_a_name(tpu):
    with pytest.raises(ClusterError, match="needs the TPU's name or grpc:// address"):
        tpu_strategy(tpu)


def test_off_a_cluster_computed_by_chief_is_the_computation_itself():
    calls = []

    def compute():
        calls.append(1)
        return {"fid": 1.5}

    # A cluster of one (a MultiWorkerMirroredStrategy without TF_CONFIG)
    # has no other worker to send to.
    for strategy in (None, tf.distribute.get_strategy(), fake_multi_worker(None, None, [])):
        assert computed_by_chief(strategy, compute) == {"fid": 1.5}
    assert len(calls) == 3
