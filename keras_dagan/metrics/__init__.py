"""Sample-quality metrics: FID, IS and KID through TF-GAN, precision/recall
and density/coverage, with streaming statistics, offline feature extractors
and a training callback."""

from keras_dagan.metrics.callback import FIDCallback
from keras_dagan.metrics.cifar_classifier import CIFAR10_CLASSIFIER_PATH, cifar_classifier
from keras_dagan.metrics.evaluation import (
    dataset_images,
    dataset_statistics,
    image_array,
    image_features,
    image_statistics,
    reference_statistics,
    score_images,
    statistics_cache_path,
)
from keras_dagan.metrics.extractors import (
    InceptionExtractor,
    KerasClassifierExtractor,
    cifar10_extractor,
    inception_cache_path,
    make_extractor,
)
from keras_dagan.metrics.manifold import density_coverage, precision_recall
from keras_dagan.metrics.neighbors import kth_neighbor_distances, nearest_neighbors
from keras_dagan.metrics.scores import frechet_distance, inception_score, kernel_distance
from keras_dagan.metrics.statistics import FeatureStatistics
from keras_dagan.samples import generated_batches

__all__ = [
    "CIFAR10_CLASSIFIER_PATH",
    "FIDCallback",
    "FeatureStatistics",
    "InceptionExtractor",
    "KerasClassifierExtractor",
    "cifar10_extractor",
    "cifar_classifier",
    "dataset_images",
    "dataset_statistics",
    "density_coverage",
    "frechet_distance",
    "generated_batches",
    "image_array",
    "image_features",
    "image_statistics",
    "inception_cache_path",
    "inception_score",
    "kernel_distance",
    "kth_neighbor_distances",
    "make_extractor",
    "nearest_neighbors",
    "precision_recall",
    "reference_statistics",
    "score_images",
    "statistics_cache_path",
]
