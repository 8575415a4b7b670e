"""Feature extractors: the classifiers whose activations FID, IS and KID compare.

An extractor is called on a batch of float32 images in [-1, 1], (N, H, W, C),
and returns a dict with "features" (N, D), the activations FID and KID use,
and, when it has them, "logits" (N, K) for the Inception score. Its `name`
identifies it in cache file names.
"""

import hashlib
import os
import tempfile

import keras
import tensorflow as tf

from keras_dagan.metrics.cifar_classifier import (
    CIFAR10_CLASSIFIER_PATH,
    FEATURE_LAYER,
    LOGITS_LAYER,
)

# TF-GAN's Inception module and its outputs (tfgan.eval.INCEPTION_TFHUB,
# INCEPTION_FINAL_POOL, INCEPTION_OUTPUT, INCEPTION_DEFAULT_IMAGE_SIZE);
# repeated here because TF-GAN's inception module imports tensorflow_hub,
# which needs pkg_resources.
INCEPTION_HANDLE = "https://tfhub.dev/tensorflow/tfgan/eval/inception/1"
INCEPTION_FEATURES = "pool_3"
INCEPTION_LOGITS = "logits"
INCEPTION_SIZE = 299


def inception_cache_path():
    """Where TF-Hub caches the Inception module: $TFHUB_CACHE_DIR (or
    <tmp>/tfhub_modules) / sha1(handle)."""
    cache = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "tfhub_modules")
    return os.path.join(cache, hashlib.sha1(INCEPTION_HANDLE.encode("utf8")).hexdigest())


def _as_unit_range_float(images):
    images = tf.convert_to_tensor(images)
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 127.5 - 1.0
    return tf.cast(images, tf.float32)


class InceptionExtractor:
    """TF-GAN's Inception network ('tfgan/eval/inception/1'), loaded from disk.

    The standard FID/IS network. Images are resized bilinearly to 299x299 and
    passed in [-1, 1]; "features" are the 2048 pool_3 activations (FID, KID),
    "logits" the 1008 logits (IS). Grayscale images are repeated to 3
    channels.

    Training machines are often offline, so nothing is downloaded: get the
    module once on a machine with internet (https://tfhub.dev/tensorflow/
    tfgan/eval/inception/1, now served by Kaggle Models as
    tensorflow/tfgan/tf2/eval-inception), unpack the archive into a folder
    holding `saved_model.pb` and `variables/`, and pass that folder.

    Args:
        path: That folder. None looks in the TF-Hub cache
            (`inception_cache_path()`), where `tensorflow_hub` puts it.

    Example:

    ```python
    extractor = InceptionExtractor("/data/models/tfgan_inception")
    outputs = extractor(images)  # {"features": (N, 2048), "logits": (N, 1008)}
    ```
    """

    name = "inception"
    has_logits = True

    def __init__(self, path=None):
        path = os.fspath(path) if path is not None else inception_cache_path()
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise FileNotFoundError(
                f"No Inception SavedModel (saved_model.pb) in {path!r}. On a "
                f"machine with internet, download {INCEPTION_HANDLE}"
                "?tf-hub-format=compressed (or tensorflow/tfgan/tf2/eval-inception "
                "from Kaggle Models), unpack it into a folder and pass that folder "
                "as inception_path (--inception_path=DIR), or set TFHUB_CACHE_DIR "
                "to a TF-Hub cache holding it. Offline, use the shipped CIFAR-10 "
                "classifier (cifar10_extractor()) or your own .keras classifier "
                "(KerasClassifierExtractor)."
            )
        self.path = path
        self._module = tf.saved_model.load(path)

    @tf.function
    def _run(self, images):
        images = _as_unit_range_float(images)
        if images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)
        images = tf.image.resize(images, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear")
        outputs = self._module(images)
        features = outputs[INCEPTION_FEATURES]
        return {
            "features": tf.reshape(features, (tf.shape(features)[0], -1)),
            "logits": outputs[INCEPTION_LOGITS],
        }

    def __call__(self, images):
        return self._run(images)


class KerasClassifierExtractor:
    """Any Keras classifier as the feature extractor: a "classifier FID".

    For offline use and for domain data that Inception knows little about.
    The model receives float32 images in [-1, 1] at the data's resolution
    (nothing is resized; a model with a fixed input size must match it).
    Scores are comparable only between runs that use the same classifier.

    Args:
        model: A `keras.Model`, or the path of one saved as `.keras`.
        feature_layer: Name of the layer whose output is the feature vector
            (flattened).
        logits_layer: Name of the layer giving class logits, for IS; None if
            the model has none.
        name: Name used in cache file names; defaults to the file name or
            the model's name.

    Example:

    ```python
    extractor = KerasClassifierExtractor("my_classifier.keras",
                                         feature_layer="pool", logits_layer="logits")
    ```
    """

    def __init__(self, model, feature_layer, logits_layer=None, name=None):
        if isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
            if not os.path.isfile(path) or not path.endswith(".keras"):
                raise FileNotFoundError(
                    f"No .keras classifier at {path!r}; pass the path of a model "
                    "saved with model.save('name.keras')."
                )
            name = name or os.path.splitext(os.path.basename(path))[0]
            model = keras.saving.load_model(path, compile=False)
        layers = {layer.name for layer in model.layers}
        for flag, layer in (("feature_layer", feature_layer), ("logits_layer", logits_layer)):
            if layer is not None and layer not in layers:
                raise ValueError(
                    f"{flag}={layer!r} is not a layer of model {model.name!r}; "
                    f"its layers are {sorted(layers)}."
                )
        outputs = {"features": model.get_layer(feature_layer).output}
        if logits_layer is not None:
            outputs["logits"] = model.get_layer(logits_layer).output
        self.name = name or model.name
        self.has_logits = logits_layer is not None
        self.input_shape = tuple(model.inputs[0].shape[1:])
        self._model = keras.Model(model.inputs, outputs)

    @tf.function
    def _run(self, images):
        outputs = self._model(_as_unit_range_float(images), training=False)
        features = outputs["features"]
        outputs["features"] = tf.reshape(features, (tf.shape(features)[0], -1))
        return outputs

    def __call__(self, images):
        expected = self.input_shape
        if any(want is not None and want != got for want, got in zip(expected, images.shape[1:])):
            raise ValueError(
                f"Classifier {self.name!r} takes images of shape {expected}; got "
                f"{tuple(images.shape[1:])}. Use a classifier trained at the "
                "data's resolution."
            )
        return self._run(images)


def cifar10_extractor():
    """The shipped CIFAR-10 classifier (`cifar_classifier`) as an extractor.

    An offline stand-in for Inception on 32x32 RGB data: 256 features, 10
    logits. Its FID/IS/KID are comparable only to each other, never to
    published Inception numbers.

    Example:

    ```python
    extractor = cifar10_extractor()
    ```
    """
    return KerasClassifierExtractor(
        CIFAR10_CLASSIFIER_PATH, FEATURE_LAYER, LOGITS_LAYER, name="cifar10_classifier"
    )


def make_extractor(extractor="inception", inception_path=None, classifier_path=None,
                   classifier_layer=None, classifier_logits_layer=None):
    """The extractor a command line asks for.

    `classifier_path` wins (a `KerasClassifierExtractor`, which then needs
    `classifier_layer`); otherwise an `inception_path`, or `extractor`
    "inception", gives `InceptionExtractor`, and "cifar10" the shipped
    classifier.

    Args:
        extractor: "inception" or "cifar10".
        inception_path: Folder of TF-GAN's Inception, or None for the
            TF-Hub cache.
        classifier_path: A `.keras` classifier, or None.
        classifier_layer: Its feature layer.
        classifier_logits_layer: Its logits layer, or None.

    Raises:
        ValueError: For an unknown `extractor` or a classifier without
            `classifier_layer`.
        FileNotFoundError: When the model files are missing.

    Example:

    ```python
    extractor = make_extractor("cifar10")
    ```
    """
    if classifier_path:
        if not classifier_layer:
            raise ValueError("--classifier_path needs --classifier_layer=NAME (its feature layer).")
        return KerasClassifierExtractor(classifier_path, classifier_layer, classifier_logits_layer)
    if inception_path or extractor == "inception":
        return InceptionExtractor(inception_path)
    if extractor == "cifar10":
        return cifar10_extractor()
    raise ValueError(f"extractor must be 'inception' or 'cifar10'; got {extractor!r}.")
