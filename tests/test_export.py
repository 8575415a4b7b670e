import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_dagan import GAN
from keras_dagan.export import ExportedGenerator, export_generator
from keras_dagan.models import (
    dcgan_discriminator,
    dcgan_generator,
    stylegan2_discriminator,
    stylegan2_generator,
)

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


# Runs in a fresh interpreter that never imports keras_dagan.
RELOAD_TRUNCATED = """
import json, sys
import numpy as np, tensorflow as tf
path = sys.argv[1]
module = tf.saved_model.load(path)
z = tf.constant(np.load(path + ".z.npy"))
labels = tf.constant([0, 1, 2], tf.int32)
out = {psi: module.signatures["truncated"](z=z, labels=labels, truncation_psi=tf.constant(psi))
       ["images"].numpy().tolist() for psi in (0.0, 0.5, 1.0)}
out["default"] = module.signatures["serving_default"](z=z, labels=labels)["images"].numpy().tolist()
assert "keras_dagan" not in sys.modules
print(json.dumps({str(k): v for k, v in out.items()}))
"""


@pytest.mark.slow
def test_stylegan2_export_truncates_without_keras_dagan(tmp_path):
    keras.utils.set_random_seed(0)
    widths = dict(resolution=32, channel_base=256, channel_max=16, num_classes=3)
    generator = stylegan2_generator(latent_dim=LATENT, w_dim=LATENT, mapping_layers=1, **widths)
    gan = GAN(generator, stylegan2_discriminator(**widths), LATENT, num_classes=3, ema_decay=0.0)
    # A w_avg away from zero, so that truncation shows.
    generator.w_avg.assign(np.full(generator.w_avg.shape, 0.5, "float32"))
    path = str(tmp_path / "generator")
    export_generator(gan, path)
    z = np.random.default_rng(0).standard_normal((3, LATENT)).astype("float32")
    np.save(path + ".z.npy", z)
    result = subprocess.run([sys.executable, "-c", RELOAD_TRUNCATED, path],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    images = {key: np.array(value) for key, value in
              json.loads(result.stdout.strip().splitlines()[-1]).items()}
    np.testing.assert_array_equal(images["1.0"], images["default"])
    labels = np.array([0, 1, 2], "int32")
    # Noise is drawn at random: compare the truncation's effect on the mean
    # image, which the noise hardly moves, with the Keras generator's.
    for psi in (0.0, 0.5):
        expected = generator([z, labels], truncation_psi=psi, noise_mode="none")
        expected = np.clip(np.round((keras.ops.convert_to_numpy(expected) + 1) * 127.5), 0, 255)
        assert np.abs(images[str(psi)].mean() - expected.mean()) < 3
    assert np.abs(images["0.0"] - images["1.0"]).max() > 10
    exported = ExportedGenerator(path)
    assert exported.truncatable
    assert exported.sample(z, labels, truncation_psi=0.5).shape == (3, 32, 32, 3)


def test_truncation_needs_a_truncatable_export(tmp_path):
    gan = GAN(dcgan_generator(LATENT, 32, width=4), dcgan_discriminator(32, width=4), LATENT)
    export_generator(gan, tmp_path / "generator")
    exported = ExportedGenerator(tmp_path / "generator")
    assert not exported.truncatable
    with pytest.raises(ValueError, match="exported without a truncated signature"):
        exported.sample(np.zeros((1, LATENT), "float32"), truncation_psi=0.7)
