"""GAN models: the training model, its losses and reference architectures."""

from keras_dagan.models.dag import DAG, DAGDiscriminator, dag_discriminator
from keras_dagan.models.dag_transforms import TRANSFORM_GROUPS, TRANSFORM_NAMES
from keras_dagan.models.dcgan import dcgan_discriminator, dcgan_generator
from keras_dagan.models.ema import EMASchedule
from keras_dagan.models.gan import AUGMENT_MODES, GAN
from keras_dagan.models.losses import LOSSES, discriminator_loss, generator_loss
from keras_dagan.models.resnet import (
    ClassProjection,
    ConditionalBatchNorm,
    GlobalSumPooling2D,
    resnet_discriminator,
    resnet_generator,
)
from keras_dagan.models.stylegan2 import (
    MappingNetwork,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    SynthesisNetwork,
    stylegan2_discriminator,
    stylegan2_generator,
)

__all__ = [
    "AUGMENT_MODES",
    "ClassProjection",
    "ConditionalBatchNorm",
    "DAG",
    "DAGDiscriminator",
    "EMASchedule",
    "GAN",
    "GlobalSumPooling2D",
    "LOSSES",
    "MappingNetwork",
    "StyleGAN2Discriminator",
    "StyleGAN2Generator",
    "SynthesisNetwork",
    "TRANSFORM_GROUPS",
    "TRANSFORM_NAMES",
    "dag_discriminator",
    "dcgan_discriminator",
    "dcgan_generator",
    "discriminator_loss",
    "generator_loss",
    "resnet_discriminator",
    "resnet_generator",
    "stylegan2_discriminator",
    "stylegan2_generator",
]
