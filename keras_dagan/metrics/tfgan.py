"""TF-GAN's evaluation functions, importable on TensorFlow >= 2.16.

`import tensorflow_gan` fails on TensorFlow >= 2.16: its package `__init__`
imports the estimator and training modules, which subclass `tf.estimator`
classes that TensorFlow no longer has. The evaluation module
`tensorflow_gan/python/eval/classifier_metrics.py` needs none of that. This
module imports it with the package `__init__` files skipped: it puts
bare placeholder modules for `tensorflow_gan`, `tensorflow_gan.python` and
`tensorflow_gan.python.eval` (pointing at the real package folders) into `sys.modules` for the duration
of the import, then removes them again, so that a later
`import tensorflow_gan` elsewhere behaves exactly as it would without us.

Everything keras_dagan needs from TF-GAN goes through `classifier_metrics`
below.
"""

import importlib
import importlib.util
import os
import sys
import types

_PACKAGES = ("tensorflow_gan", "tensorflow_gan.python", "tensorflow_gan.python.eval")
_MODULE = "tensorflow_gan.python.eval.classifier_metrics"


def _import_classifier_metrics():
    if _MODULE in sys.modules:
        return sys.modules[_MODULE]
    spec = importlib.util.find_spec(_PACKAGES[0])
    if spec is None:
        raise ImportError(
            "keras_dagan.metrics needs tensorflow-gan; install it with "
            "`pip install tensorflow-gan==2.1.0`."
        )
    root = spec.submodule_search_locations[0]
    placed = []
    for name in _PACKAGES:
        if name not in sys.modules:
            placeholder = types.ModuleType(name)
            placeholder.__path__ = [os.path.join(root, *name.split(".")[1:])]
            sys.modules[name] = placeholder
            placed.append(name)
    try:
        return importlib.import_module(_MODULE)
    finally:
        for name in placed:
            del sys.modules[name]


classifier_metrics = _import_classifier_metrics()
