"""Runs the backend-agnostic layer tests under the torch and JAX backends.

Keras fixes its backend at import, so this needs a separate process.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_layer_suite_passes_on_backend(backend):
    if importlib.util.find_spec(backend) is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs {backend} (the `test` extra); it is missing.")
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:warnings",
         str(ROOT / "tests" / "augment" / "test_layers.py"),
         str(ROOT / "tests" / "augment" / "test_adaptive.py"),
         str(ROOT / "tests" / "augment" / "test_value_range.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d{3,} passed in .*", summary), summary
