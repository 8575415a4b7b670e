"""The README's first command: scripts/augment_demo.py."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[2]


def run_demo(*flags):
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "augment_demo.py"), *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )


def test_flagfile_writes_a_grid_of_originals_and_augmented_rows(tmp_path):
    out = tmp_path / "grid.png"
    result = run_demo(f"--flagfile={ROOT / 'configs' / 'augment_demo.cfg'}", f"--out={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    grid = tf.io.decode_png(out.read_bytes()).numpy()
    assert grid.shape == (5 * 64, 6 * 64, 3)  # original row + 4 draws, 6 images
    original, first_draw = grid[:64].astype(int), grid[64:128].astype(int)
    assert np.abs(original - first_draw).mean() > 10
    assert "color,translation,cutout" in result.stdout


def test_bad_policy_is_a_one_line_usage_error(tmp_path):
    result = run_demo("--policy=color,rotate", f"--out={tmp_path / 'x.png'}")
    assert result.returncode != 0
    assert "--policy" in result.stderr and "rotate" in result.stderr
    assert not (tmp_path / "x.png").exists()
