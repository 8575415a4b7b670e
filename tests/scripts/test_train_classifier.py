import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_dagan.files import write_png

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_trains_and_writes_a_loadable_classifier(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in ("cat", "dog"):
            for index in range(8):
                write_png(tmp_path / "data" / split / name / f"{index}.png",
                          rng.integers(0, 256, (32, 32, 3)).astype("uint8"))
    out = tmp_path / "classifier.keras"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_classifier.py"), f"--data={tmp_path / 'data'}",
         f"--out={out}", "--epochs=1", "--batch_size=8"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test accuracy" in result.stdout and "['cat', 'dog']" in result.stdout
    model = keras.saving.load_model(out)
    assert model.output.shape == (None, 2)
    assert model.get_layer("features").output.shape == (None, 256)
    assert getattr(model, "optimizer", None) is None  # shipped without optimizer state
