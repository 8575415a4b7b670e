"""Exporting a trained generator as a TensorFlow SavedModel, and loading it."""

import inspect
import os

import keras
import tensorflow as tf

from keras_dagan.files import atomic_path


def export_generator(gan, path):
    """Writes the GAN's EMA generator as a SavedModel that needs no keras_dagan.

    The SavedModel's `serving_default` signature takes `z`, float32
    (N, latent_dim) (and `labels`, int32 (N,), when the GAN is conditional)
    and returns `images`, uint8 (N, H, W, C): the generator's [-1, 1] output
    mapped by round((x + 1) * 127.5) and clipped to [0, 255]. A second
    signature, `metadata`, takes nothing and returns `latent_dim` and
    `num_classes` (0 when unconditional). Load it anywhere with
    `tf.saved_model.load(path).signatures["serving_default"]`. The folder is
    written next to `path` and renamed, so no reader sees half an export.

    A generator whose call takes `truncation_psi` (StyleGAN2) also gets a
    `truncated` signature: the inputs of `serving_default` plus
    `truncation_psi`, a float32 scalar, that pulls each w toward the
    average w (1.0: no truncation, 0.0: the average image);
    `serving_default` is the untruncated generator, psi = 1.0.

    Args:
        gan: A `keras_dagan.GAN` (its `ema_generator` is exported).
        path: Destination folder; replaced if it exists.

    Example:

    ```python
    export_generator(gan, "out/generator")
    generate = tf.saved_model.load("out/generator").signatures["serving_default"]
    images = generate(z=tf.random.normal((16, gan.latent_dim)))["images"]
    ```
    """
    generator = gan.ema_generator
    conditional = gan.num_classes is not None
    z_spec = tf.TensorSpec([None, gan.latent_dim], tf.float32, name="z")
    label_spec = tf.TensorSpec([None], tf.int32, name="labels")

    def to_uint8(images):
        images = tf.cast(images, tf.float32)
        return {"images": tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0, 255), tf.uint8)}

    def generate(z, labels=None, truncation_psi=None):
        inputs = [z, labels] if conditional else z
        options = {} if truncation_psi is None else {"truncation_psi": truncation_psi}
        return to_uint8(generator(inputs, training=False, **options))

    archive = keras.export.ExportArchive()
    archive.track(generator)
    psi_spec = tf.TensorSpec([], tf.float32, name="truncation_psi")
    if conditional:
        archive.add_endpoint("serving_default", lambda z, labels: generate(z, labels),
                             input_signature=[z_spec, label_spec])
    else:
        archive.add_endpoint("serving_default", lambda z: generate(z),
                             input_signature=[z_spec])
    if supports_truncation(generator):
        if conditional:
            archive.add_endpoint("truncated", generate,
                                 input_signature=[z_spec, label_spec, psi_spec])
        else:
            archive.add_endpoint("truncated", lambda z, truncation_psi: generate(
                z, truncation_psi=truncation_psi), input_signature=[z_spec, psi_spec])
    metadata = {
        "latent_dim": tf.constant(gan.latent_dim, tf.int32),
        "num_classes": tf.constant(gan.num_classes or 0, tf.int32),
    }
    archive.add_endpoint("metadata", lambda: metadata, input_signature=[])
    with atomic_path(path) as partial:
        archive.write_out(partial, verbose=False)


def supports_truncation(generator):
    """Whether `generator`'s call takes `truncation_psi` (StyleGAN2's does)."""
    return "truncation_psi" in inspect.signature(generator.call).parameters


class ExportedGenerator:
    """A generator written by `export_generator`, loaded with TensorFlow alone.

    Args:
        path: The SavedModel folder.

    Attributes:
        latent_dim: Size of z.
        num_classes: Number of classes, or None when unconditional.
        truncatable: Whether the export has the `truncated` signature, so
            that `sample` takes a `truncation_psi`.

    Raises:
        ValueError: If `path` holds no SavedModel with a `serving_default`
            signature taking `z` (and, when conditional, a `metadata`
            signature).

    Example:

    ```python
    generator = ExportedGenerator("out/generator")
    images = generator.sample(tf.random.normal((4, generator.latent_dim)))  # uint8
    ```
    """

    def __init__(self, path):
        path = os.fspath(path)
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ValueError(
                f"{path} is not a SavedModel folder (no saved_model.pb); export one "
                "with keras_dagan.export_generator(gan, path)."
            )
        module = tf.saved_model.load(path)
        if "serving_default" not in module.signatures:
            raise ValueError(f"{path} has no serving_default signature.")
        self._serve = module.signatures["serving_default"]
        inputs = self._serve.structured_input_signature[1]
        self.latent_dim = int(inputs["z"].shape[-1])
        self.num_classes = None
        if "labels" in inputs:
            if "metadata" not in module.signatures:
                raise ValueError(
                    f"{path} is conditional but has no metadata signature giving num_classes."
                )
            self.num_classes = int(module.signatures["metadata"]()["num_classes"])
        self._truncated = module.signatures.get("truncated")
        self.truncatable = self._truncated is not None
        self.path = path

    def sample(self, z, labels=None, truncation_psi=1.0):
        """uint8 images (N, H, W, C) for z (N, latent_dim) [and int32 labels
        (N,)], truncated toward the average w by `truncation_psi` (needs a
        `truncatable` export unless it is 1.0)."""
        inputs = {"z": tf.convert_to_tensor(z, tf.float32)}
        if self.num_classes is not None:
            inputs["labels"] = tf.convert_to_tensor(labels, tf.int32)
        if truncation_psi == 1.0:
            return self._serve(**inputs)["images"]
        if not self.truncatable:
            raise ValueError(
                f"truncation_psi={truncation_psi}: the generator in {self.path} was exported "
                "without a truncated signature (only StyleGAN2 generators have one); use 1.0."
            )
        return self._truncated(truncation_psi=tf.constant(truncation_psi, tf.float32),
                               **inputs)["images"]
