"""The small CIFAR-10 classifier shipped as an offline stand-in for Inception.

Inception needs a download that offline training machines cannot make. This
classifier (about 0.2 M weights, under 1 MB) is trained by
`scripts/train_classifier.py` on the CIFAR-10 training images and shipped in
the package, so that a "classifier FID" of 32x32 data works anywhere. Its
numbers are comparable only to each other, never to published FIDs.
"""

import os

import keras

CIFAR10_CLASSIFIER_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "weights", "cifar10_classifier.keras"
)
FEATURE_LAYER = "features"
LOGITS_LAYER = "logits"


def cifar_classifier(num_classes=10, widths=(32, 64, 128), feature_dim=256):
    """A VGG-style classifier of 32x32x3 images in [-1, 1].

    Three stages of two 3x3 convolutions with batch normalization and ReLU,
    each followed by 2x2 max pooling; global average pooling; a ReLU layer
    named "features" (the activations FID and KID use) and a linear layer
    named "logits" (what the Inception score uses).

    Args:
        num_classes: Number of classes.
        widths: Channels of the three stages.
        feature_dim: Width of the "features" layer.

    Returns:
        An uncompiled `keras.Model` mapping (N, 32, 32, 3) to (N, num_classes)
        logits.

    Example:

    ```python
    model = cifar_classifier()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ```
    """
    images = keras.Input((32, 32, 3), name="images")
    x = images
    for stage, width in enumerate(widths):
        for index in range(2):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False,
                                    name=f"conv{stage}_{index}")(x)
            x = keras.layers.BatchNormalization(name=f"bn{stage}_{index}")(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    features = keras.layers.Dense(feature_dim, activation="relu", name=FEATURE_LAYER)(x)
    logits = keras.layers.Dense(num_classes, name=LOGITS_LAYER)(features)
    return keras.Model(images, logits, name="cifar_classifier")
