import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_dagan import GAN
from keras_dagan.export import export_generator
from keras_dagan.models import dcgan_discriminator, dcgan_generator

LATENT = 8

# Runs in a fresh interpreter that never imports keras_dagan.
RELOAD = """
import json, sys
import numpy as np, tensorflow as tf
path, conditional = sys.argv[1], sys.argv[2] == "1"
serve = tf.saved_model.load(path).signatures["serving_default"]
z = tf.constant(np.load(path + ".z.npy"))
inputs = {"z": z, "labels": tf.constant([0, 1, 2], tf.int32)} if conditional else {"z": z}
images = serve(**inputs)["images"]
assert "keras_dagan" not in sys.modules
print(json.dumps({"dtype": images.dtype.name, "images": images.numpy().tolist()}))
"""


@pytest.mark.parametrize("num_classes", [None, 3])
def test_exported_generator_reloads_without_keras_dagan(tmp_path, num_classes):
    keras.utils.set_random_seed(0)
    gan = GAN(dcgan_generator(LATENT, 32, width=4, num_classes=num_classes),
              dcgan_discriminator(32, width=4, num_classes=num_classes), LATENT,
              num_classes=num_classes)
    path = str(tmp_path / "generator")
    export_generator(gan, path)
    z = np.random.default_rng(0).standard_normal((3, LATENT)).astype("float32")
    np.save(path + ".z.npy", z)
    result = subprocess.run([sys.executable, "-c", RELOAD, path, "1" if num_classes else "0"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    exported = json.loads(result.stdout.strip().splitlines()[-1])
    assert exported["dtype"] == "uint8"
    inputs = z if num_classes is None else [z, np.array([0, 1, 2], "int32")]
    expected = np.clip(np.round((gan.ema_generator(inputs).numpy() + 1) * 127.5), 0, 255)
    np.testing.assert_allclose(np.array(exported["images"]), expected, atol=1)


def test_export_replaces_atomically(tmp_path):
    gan = GAN(dcgan_generator(LATENT, 32, width=4), dcgan_discriminator(32, width=4), LATENT)
    path = tmp_path / "generator"
    export_generator(gan, path)
    export_generator(gan, path)  # over an existing export
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator"]
    assert (path / "saved_model.pb").exists()
