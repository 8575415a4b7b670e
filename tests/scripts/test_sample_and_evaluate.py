import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dagan import GAN
from keras_dagan.export import export_generator
from keras_dagan.files import write_png
from keras_dagan.models import dcgan_discriminator, dcgan_generator

ROOT = Path(__file__).resolve().parents[2]


def script(name, *flags, env=None):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *flags],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)


# Each runs the scripts end to end in subprocesses.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(0)
    gan = GAN(dcgan_generator(8, 32, width=4, num_classes=3),
              dcgan_discriminator(32, width=4, num_classes=3), 8, num_classes=3)
    path = tmp_path_factory.mktemp("export") / "generator"
    export_generator(gan, path)
    return str(path)


def test_sample_writes_grid_and_npz(exported, tmp_path):
    result = script("sample.py", f"--generator={exported}", "--num=10", "--columns=5",
                    f"--out={tmp_path / 'grid.png'}", f"--npz={tmp_path / 'samples.npz'}")
    assert result.returncode == 0, result.stderr[-3000:]
    grid = tf.io.decode_png(tf.io.read_file(str(tmp_path / "grid.png"))).numpy()
    assert grid.shape == (64, 160, 3)
    samples = np.load(tmp_path / "samples.npz")
    assert samples["images"].shape == (10, 32, 32, 3) and samples["images"].dtype == np.uint8
    np.testing.assert_array_equal(samples["labels"], np.arange(10) % 3)
    np.testing.assert_array_equal(grid[:32, :32], samples["images"][0])
    bad = script("sample.py", f"--generator={exported}", "--label=3", f"--out={tmp_path / 'x.png'}")
    assert bad.returncode == 2 and "--label=3: the generator has 3 classes" in bad.stderr


def test_evaluate_prints_one_json_line(exported, tmp_path):
    rng = np.random.default_rng(0)
    for index in range(40):
        write_png(tmp_path / "real" / f"{index}.png", rng.integers(0, 256, (32, 32, 3)).astype("uint8"))
    images = keras.Input((32, 32, 3))
    features = keras.layers.Flatten(name="features")(keras.layers.AveragePooling2D(8)(images))
    logits = keras.layers.Dense(5, name="logits")(features)
    keras.Model(images, logits).save(tmp_path / "toy.keras")
    result = script("evaluate.py", f"--generator={exported}", f"--dataset=folder:{tmp_path / 'real'}",
                    f"--classifier_path={tmp_path / 'toy.keras'}", "--classifier_layer=features",
                    "--classifier_logits_layer=logits", "--num_samples=30", "--is_splits=3",
                    "--batch_size=16", f"--cache_dir={tmp_path / 'cache'}")
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores["num_samples"] == 30 and scores["num_real_samples"] == 40
    assert scores["fid"] > 0 and scores["is"] >= 1 and "kid" in scores
    assert len(list((tmp_path / "cache").iterdir())) == 1  # reference statistics cached


def test_evaluate_explains_missing_inception(exported, tmp_path):
    env = dict(__import__("os").environ, TFHUB_CACHE_DIR=str(tmp_path))
    result = script("evaluate.py", f"--generator={exported}", f"--dataset=folder:{tmp_path}",
                    "--extractor=inception", env=env)
    assert result.returncode == 2
    assert "evaluate.py: error: No Inception SavedModel" in result.stderr
    assert "--inception_path" in result.stderr


def write_images(folder, count, size, seed):
    rng = np.random.default_rng(seed)
    for index in range(count):
        write_png(folder / f"{index}.png", rng.integers(0, 256, (size, size, 3)).astype("uint8"))
    return folder


def save_toy_classifier(path, size=None):
    """Mean colour features; `size` fixes the input resolution."""
    images = keras.Input((size, size, 3))
    features = keras.layers.GlobalAveragePooling2D(name="features")(images)
    keras.Model(images, keras.layers.Dense(5, name="logits")(features)).save(path)
    return path


def test_evaluate_adds_the_diagnostics_to_its_json_line(exported, tmp_path):
    train = write_images(tmp_path / "train", 40, 32, seed=0)
    heldout = write_images(tmp_path / "heldout", 40, 32, seed=1)
    toy = save_toy_classifier(tmp_path / "toy.keras")
    result = script("evaluate.py", f"--generator={exported}", f"--dataset=folder:{train}",
                    f"--heldout=folder:{heldout}", "--reference=test", f"--classifier_path={toy}",
                    "--classifier_layer=features", "--num_samples=30", "--is_splits=0",
                    "--batch_size=16", f"--cache_dir={tmp_path / 'cache'}", "--memorization",
                    "--leakage", "--leak_families=cutout", "--detector_steps=3",
                    "--precision_recall", f"--copies_png={tmp_path / 'copies.png'}")
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores["reference"] == "test" and scores["num_real_samples"] == 40
    for key in ("memorization", "data_copying", "precision", "recall", "density", "coverage"):
        assert isinstance(scores[key], float), key
    assert set(scores["leakage"]) == set(scores["detector_accuracy"]) == {"cutout"}
    assert (tmp_path / "copies.png").exists()
    assert len(list((tmp_path / "cache" / "leak_detectors").iterdir())) == 1


def test_evaluate_diagnostics_errors_are_one_line(exported, tmp_path):
    small = write_images(tmp_path / "small", 30, 16, seed=0)
    any_size = save_toy_classifier(tmp_path / "any.keras")
    fixed = save_toy_classifier(tmp_path / "fixed.keras", size=32)
    common = [f"--generator={exported}", "--classifier_layer=features", "--num_samples=20",
              "--is_splits=0", f"--cache_dir={tmp_path / 'cache'}"]
    cases = {
        "--memorization: held-out real images are needed": [
            f"--dataset=folder:{small}", f"--classifier_path={any_size}", "--memorization"],
        "--generator makes images of shape (32, 32, 3), but the images of": [
            f"--dataset=folder:{small}", f"--classifier_path={any_size}", "--precision_recall"],
        "takes images of shape (32, 32, 3); got (16, 16, 3)": [
            f"--dataset=folder:{small}", f"--classifier_path={fixed}"],
    }
    for message, flags in cases.items():
        result = script("evaluate.py", *common, *flags)
        assert result.returncode == 2, result.stderr[-3000:]
        errors = [line for line in result.stderr.splitlines() if line.startswith("evaluate.py")]
        assert len(errors) == 1 and errors[0].startswith("evaluate.py: error: ")
        assert message in errors[0]
