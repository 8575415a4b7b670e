"""benchmarks/limited_data.py without training: finished runs are found and
skipped, their curves read from TensorBoard logs, and the report aggregates
them over seeds."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "limited_data", ROOT / "benchmarks" / "limited_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_finished_run(run_dir, scores, fid_curve, r_t_curve):
    """A run as train.py and evaluate.py leave it: Keras' TensorBoard epoch
    scalars (one epoch per evaluation) and the diagnostics JSON."""
    writer = tf.summary.create_file_writer(str(run_dir / "logs" / "train"))
    with writer.as_default():
        for epoch, (fid, r_t) in enumerate(zip(fid_curve, r_t_curve)):
            tf.summary.scalar("epoch_fid", fid, step=epoch)
            tf.summary.scalar("epoch_r_t", r_t, step=epoch)
    writer.close()
    (run_dir / "diagnostics.json").write_text(json.dumps(scores))


def scores(fid, memorization, leakage):
    return {"fid": fid, "precision": 0.8, "recall": 0.1, "memorization": memorization,
            "data_copying": -1.0, "max_leakage": leakage}


def test_report_from_finished_runs(tmp_path, monkeypatch, capsys):
    benchmark = load_benchmark()
    runs = tmp_path / "0.2pct"
    # An overfitting baseline: FID falls, then rises as r_t reaches 1.
    write_finished_run(runs / "none" / "seed0", scores(60.0, 0.0, 0.0),
                       [90.0, 50.0, 55.0, 60.0], [0.5, 0.9, 0.98, 0.99])
    write_finished_run(runs / "none" / "seed1", scores(70.0, 0.2, None),
                       [80.0, 54.0, 62.0, 70.0], [0.4, 0.8, 0.97, 0.97])
    write_finished_run(runs / "diffaugment" / "seed0", scores(30.0, 0.0, 0.1),
                       [70.0, 40.0, 32.0, 30.0], [0.2, 0.3, 0.4, 0.4])
    write_finished_run(runs / "diffaugment" / "seed1", scores(34.0, 0.0, 0.3),
                       [72.0, 44.0, 36.0, 34.0], [0.2, 0.3, 0.4, 0.5])
    monkeypatch.setattr(sys, "argv", [
        "limited_data.py", "--heldout=folder:unused", f"--out={tmp_path}",
        "--arms=none,diffaugment", "--shares=0.2%", "--seeds=0,1", "--steps=2000",
        "--eval_every=500", "--lr_d=8e-4", "--d_steps=2"])
    benchmark.main()

    assert "training" not in capsys.readouterr().out
    report = (tmp_path / "report.md").read_text()
    assert "D learning rate 0.0008 and 2 D update(s) per step" in report
    assert "2 seed(s) (0, 1)" in report
    header = next(line for line in report.splitlines() if line.startswith("| data"))
    assert header == ("| data | arm | FID | best FID | precision | recall | memorization "
                      "| C_T | max leakage | r_t |")
    rows = {line.split(" | ")[1]: line for line in report.splitlines()
            if line.startswith("| 0.2% |")}
    # Mean ± population standard deviation over the seeds.
    assert rows["none"] == ("| 0.2% | none | 65 ± 5 | 52 ± 2 | 0.8 ± 0 | 0.1 ± 0 | 0.1 ± 0.1 "
                            "| -1 ± 0 | 0 ± 0 | 0.98 ± 0.01 |")
    # A leakage of null (no usable detector) is left out of the mean.
    assert rows["diffaugment"] == ("| 0.2% | diffaugment | 32 ± 2 | 32 ± 2 | 0.8 ± 0 | 0.1 ± 0 "
                                   "| 0 ± 0 | -1 ± 0 | 0.2 ± 0.1 | 0.45 ± 0.05 |")


def test_curves_are_keyed_by_training_step(tmp_path):
    benchmark = load_benchmark()
    write_finished_run(tmp_path, scores(1.0, 0.0, 0.0), [9.0, 8.0, 7.0], [0.1, 0.2, 0.3])
    curves = benchmark.scalar_curves(str(tmp_path), eval_every=500)
    assert curves["fid"] == {500: 9.0, 1000: 8.0, 1500: 7.0}
    assert curves["r_t"] == pytest.approx({500: 0.1, 1000: 0.2, 1500: 0.3})


@pytest.mark.parametrize("flags, message", [
    (["--arms=none,augmix"], "--arms: unknown augmix"),
    (["--shares=5%"], "--shares: unknown 5%"),
    (["--steps=1200"], "--steps must be a multiple of --eval_every"),
])
def test_bad_flags_are_one_line_errors(tmp_path, monkeypatch, capsys, flags, message):
    benchmark = load_benchmark()
    monkeypatch.setattr(sys, "argv", [
        "limited_data.py", "--heldout=folder:unused", f"--out={tmp_path}", *flags])
    with pytest.raises(SystemExit) as exit_info:
        benchmark.main()
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
