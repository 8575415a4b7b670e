"""The examples in examples/: in-process checks under TensorFlow, and short
training runs under TensorFlow, JAX and torch in subprocesses (Keras fixes
its backend at import)."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BACKENDS = ["tensorflow", "jax", "torch"]


def load_example(name):
    # The examples import their shared module `adversarial` as a sibling.
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


def reals(value_range, count=8):
    low, high = value_range
    return tf.random.stateless_uniform((count, 32, 32, 3), (1, 2), low, high)


@pytest.mark.parametrize("name", ["ada_gan", "dcgan_diffaugment"])
def test_generator_gradient_reaches_every_weight_through_the_augmentation(name):
    example = load_example(name)
    model = example.build(width=8)
    if name == "ada_gan":
        model.augmenter.p.assign(1.0)  # every transform fires on every image
    with tf.GradientTape() as tape:
        logs, _ = model.adversarial_losses(reals(example.VALUE_RANGE))
    grads = tape.gradient(logs["g_loss"], model.generator.trainable_variables)
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in grads)
    assert all(np.abs(g.numpy()).sum() > 0 for g in grads)


@pytest.mark.slow
def test_ada_train_step_moves_p_with_update():
    example = load_example("ada_gan")
    model = example.build(width=8, initial_p=0.5, speed_kimg=0.01)
    model.augmenter.interval = 1
    model.fit(tf.data.Dataset.from_tensors(reals(example.VALUE_RANGE)).repeat(),
              steps_per_epoch=2, epochs=1, verbose=0)
    assert model.augmenter.p.numpy() != 0.5


def run_example(name, backend, tmp_path, *flags):
    if importlib.util.find_spec(backend) is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs {backend} (the `test` extra); it is missing.")
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--steps=6", "--batch_size=16",
         f"--out_dir={tmp_path}", *flags],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "samples.png").exists()
    history = json.loads((tmp_path / "history.json").read_text())
    for loss in ("g_loss", "d_loss"):
        assert len(history[loss]) == 6 and all(map(math.isfinite, history[loss])), history
    return history


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_ada_example_trains_and_adapts_p(backend, tmp_path):
    # p starts inside (0, 1) and moves by 0.064 after 4 steps (64 images, 1
    # kimg per unit), up or down, whatever D's r_t is.
    history = run_example("ada_gan", backend, tmp_path, "--initial_p=0.2", "--speed_kimg=1")
    np.testing.assert_allclose(history["p"][:3], 0.2, atol=1e-6)
    assert abs(abs(history["p"][3] - 0.2) - 0.064) < 1e-6, history["p"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_dcgan_example_trains(backend, tmp_path):
    run_example("dcgan_diffaugment", backend, tmp_path)
