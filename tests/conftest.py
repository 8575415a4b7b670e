"""Test setup shared by the whole suite."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    # Two logical CPUs, so MirroredStrategy tests run real replicas. This must
    # happen before TensorFlow initialises its devices.
    _cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        _cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
