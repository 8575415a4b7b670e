"""Limited-data diagnostics: memorization, data copying (C_T) and
augmentation leakage of a generator's samples, and `Diagnostics`, which
prepares them once for repeated scoring."""

from keras_dagan.diagnostics.data_copying import data_copying, kmeans, mann_whitney_z
from keras_dagan.diagnostics.diagnose import Diagnostics
from keras_dagan.diagnostics.leakage import (
    DETECTOR_STEPS,
    LEAK_FAMILIES,
    LeakageDetector,
    augmentation_leakage,
    detector_model,
    family_transform,
    train_leakage_detectors,
)
from keras_dagan.diagnostics.memorization import Memorization, memorization, write_copies_png

__all__ = [
    "DETECTOR_STEPS",
    "Diagnostics",
    "LEAK_FAMILIES",
    "LeakageDetector",
    "Memorization",
    "augmentation_leakage",
    "data_copying",
    "detector_model",
    "family_transform",
    "kmeans",
    "mann_whitney_z",
    "memorization",
    "train_leakage_detectors",
    "write_copies_png",
]
