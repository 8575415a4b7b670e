"""Two workers of a MultiWorkerMirroredStrategy cluster on 127.0.0.1, one
CPU device each, launched by scripts/launch_local_cluster.py."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.models.multi_worker_run import train

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = str(ROOT / "scripts" / "launch_local_cluster.py")
RUN = str(Path(__file__).with_name("multi_worker_run.py"))


def launch(command, log_dir, workers=2):
    """Runs `command` on `workers` local workers; returns the launcher's
    exit status and the workers' logs."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                                   os.environ.get("PYTHONPATH")])))
    status = subprocess.run([sys.executable, LAUNCH, f"--num_workers={workers}",
                             f"--worker_logs={log_dir}", "--", sys.executable, *command],
                            env=env, cwd=ROOT, timeout=300).returncode
    logs = [Path(log_dir, f"worker-{index}.log").read_text() for index in range(workers)]
    return status, logs


def results(path):
    with np.load(path) as file:
        return {name: file[name] for name in file.files}


@pytest.mark.slow
def test_two_workers_train_as_one_process_with_the_same_global_batch(tmp_path):
    status, logs = launch([RUN, str(tmp_path)], tmp_path / "logs")
    assert status == 0, "\n".join(log[-3000:] for log in logs)
    history, weights, p = train(tf.distribute.get_strategy())
    workers = [results(tmp_path / f"result-{index}.npz") for index in (0, 1)]
    for name, values in workers[0].items():
        # Every worker ends with the same state: weights, EMA, ADA's p.
        np.testing.assert_array_equal(workers[1][name], values, err_msg=name)
    for name, values in history.items():
        # FID magnifies the last digits of the weights.
        tolerance = 1e-3 if name in ("fid", "is", "is_std") else 1e-4
        np.testing.assert_allclose(workers[0][f"log_{name}"], values, rtol=tolerance, atol=1e-6,
                                   err_msg=name)
    for index, weight in enumerate(weights):
        np.testing.assert_allclose(workers[0][f"weight_{index}"], weight, rtol=1e-4, atol=1e-5)
    assert float(workers[0]["p"]) == pytest.approx(p, abs=1e-6)
    assert history["augment_p"][0] != 0.5  # the controller moved p
    # Only the chief evaluated (worker 1 has no real statistics to score
    # with), and worker 1 logged the chief's scores.
    assert len(history["fid"]) == 1 and np.isfinite(history["fid"][0])
