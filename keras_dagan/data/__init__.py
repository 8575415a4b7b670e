"""Input pipelines that turn tfds datasets or image folders into batches of
real images for GAN training."""

from keras_dagan.data.pipeline import (
    load_dataset,
    load_image_folder,
    load_tfds,
    prepare_dataset,
)

__all__ = ["load_dataset", "load_image_folder", "load_tfds", "prepare_dataset"]
