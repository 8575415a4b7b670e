"""Regularizers of the discriminator beyond augmentation, each a small
object `keras_dagan.GAN` calls at a named point of its D update: LeCam
regularization, adaptive pseudo augmentation (APA) and consistency
regularization (CR, bCR). R1 and path length live in
`keras_dagan.models.regularization`."""

from keras_dagan.regularizers.apa import AdaptivePseudoAugmentation
from keras_dagan.regularizers.consistency import ConsistencyAugment, ConsistencyRegularization
from keras_dagan.regularizers.lecam import LeCam

__all__ = ["AdaptivePseudoAugmentation", "ConsistencyAugment", "ConsistencyRegularization",
           "LeCam"]
