"""Input pipelines that turn tfds datasets or image folders into batches of
real images for GAN training, and the subsets of the data they keep."""

from keras_dagan.data.pipeline import (
    class_names,
    load_dataset,
    load_image_folder,
    load_tfds,
    prepare_dataset,
    subset_members,
)

__all__ = ["class_names", "load_dataset", "load_image_folder", "load_tfds", "prepare_dataset", "subset_members"]
