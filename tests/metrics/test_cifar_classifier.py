import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_dagan.metrics import CIFAR10_CLASSIFIER_PATH, cifar10_extractor

QUICKSTART = Path(__file__).resolve().parents[2] / "data" / "cifar10_quickstart.tar.gz"
CIFAR_TEST = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg.tar.gz"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def test_shipped_weights_are_small_and_packaged():
    assert os.path.getsize(CIFAR10_CLASSIFIER_PATH) < 2e6
    setup = (Path(__file__).resolve().parents[2] / "setup.cfg").read_text()
    assert "weights/*.keras" in setup


def cifar_test_images(per_class=50):
    if not CIFAR_TEST.exists():
        pytest.skip(f"CIFAR-10 archive not found at {CIFAR_TEST}")
    counts = {name: 0 for name in CLASSES}
    images, labels = [], []
    with tarfile.open(CIFAR_TEST) as archive:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and "test" in parts and parts[-2] in counts and counts[parts[-2]] < per_class:
                data = archive.extractfile(member).read()
                images.append(tf.io.decode_jpeg(data).numpy())
                labels.append(CLASSES.index(parts[-2]))
                counts[parts[-2]] += 1
            if all(count == per_class for count in counts.values()):
                break
    return np.stack(images), np.array(labels)


def test_shipped_classifier_recognises_held_out_cifar10():
    images, labels = cifar_test_images()
    outputs = cifar10_extractor()(images)  # uint8 in, mapped to [-1, 1]
    assert outputs["features"].shape == (500, 256)
    accuracy = np.mean(np.argmax(outputs["logits"].numpy(), -1) == labels)
    assert accuracy > 0.75, accuracy
