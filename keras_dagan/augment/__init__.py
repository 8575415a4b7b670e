"""Differentiable augmentation layers for data-efficient GAN training."""

from keras_dagan.augment.adaptive import (
    PRESETS,
    TRANSFORM_NAMES,
    AdaptiveAugment,
    resolve_multipliers,
)
from keras_dagan.augment.base import BaseAugmentation
from keras_dagan.augment.color import (
    RandomBrightness,
    RandomColor,
    RandomContrast,
    RandomSaturation,
    adjust_color,
)
from keras_dagan.augment.cutout import RandomCutout, cut_out
from keras_dagan.augment.diff_augment import POLICY_NAMES, DiffAugment, parse_policy
from keras_dagan.augment.resample import affine_resample, band_limit
from keras_dagan.augment.translation import RandomTranslation, translate

__all__ = [
    "AdaptiveAugment",
    "BaseAugmentation",
    "DiffAugment",
    "POLICY_NAMES",
    "PRESETS",
    "RandomBrightness",
    "RandomColor",
    "RandomContrast",
    "RandomCutout",
    "RandomSaturation",
    "RandomTranslation",
    "TRANSFORM_NAMES",
    "affine_resample",
    "band_limit",
    "adjust_color",
    "cut_out",
    "parse_policy",
    "resolve_multipliers",
    "translate",
]
