"""keras_dagan: data-efficient GAN training for Keras 3.

DiffAugment, ADA and DAG for training GANs on little data.
"""

from keras_dagan import augment
from keras_dagan.augment import DiffAugment

__version__ = "0.1.0"
