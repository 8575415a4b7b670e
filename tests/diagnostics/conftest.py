"""Real CIFAR-10 images for the diagnostics tests: the shipped quickstart
archive (5,000 training images), cut into disjoint parts."""

from pathlib import Path

import numpy as np
import pytest

from keras_dagan.metrics import dataset_images

QUICKSTART = Path(__file__).resolve().parents[2] / "data" / "cifar10_quickstart.tar.gz"


@pytest.fixture(scope="session")
def cifar_parts():
    """{"train": 2000, "heldout": 1000, "unseen": 1000} disjoint uint8 images."""
    images = dataset_images(f"folder:{QUICKSTART}")
    order = np.random.default_rng(0).permutation(len(images))
    return {"train": images[order[:2000]], "heldout": images[order[2000:3000]],
            "unseen": images[order[3000:4000]]}
