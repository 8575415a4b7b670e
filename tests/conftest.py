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

    import pytest

    @pytest.fixture
    def mirrored_strategy():
        """A MirroredStrategy over the two logical CPUs.

        It reduces through one device instead of CPU collectives: with
        collectives, a second MirroredStrategy in the same process can reuse
        the first one's collective instance keys and abort with "Shape
        mismatch in the collective instance".
        """
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(
            devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
