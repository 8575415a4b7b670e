"""keras_dagan: data-efficient GAN training for Keras 3.

DiffAugment, ADA and DAG for training GANs on little data.
"""

from keras_dagan import augment, data, models, regularizers
from keras_dagan.augment import DiffAugment
from keras_dagan.export import export_generator
from keras_dagan.models import GAN

__version__ = "0.1.0"
