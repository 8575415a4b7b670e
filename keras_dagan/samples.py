"""Samples of a generator from fixed noise: batches, grids, and a callback
that writes grids as PNG files and TensorBoard images."""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_dagan.files import image_grid, write_png
from keras_dagan.periodic import PeriodicCallback


def generated_batches(sample, latent_dim, num_samples, batch_size, num_classes=None, seed=0,
                      label=None):
    """Yields `num_samples` generated images in batches, from fixed noise.

    The same `seed` gives the same z (and labels) on every call, so scores
    and grids taken during training differ only because the generator
    changed.

    Args:
        sample: Callable `(z, labels) -> images`; labels is None when
            unconditional.
        latent_dim: Size of z.
        num_samples: Total images.
        batch_size: Images per call of `sample`.
        num_classes: For a conditional generator: labels cycle evenly over
            the classes (0, 1, ..., K-1, 0, ...). None otherwise.
        seed: Seed of z.
        label: With `num_classes`, one class for every sample instead.

    Example:

    ```python
    batches = generated_batches(lambda z, y: gan.ema_generator(z), 128, 5000, 250)
    ```
    """
    rng = np.random.default_rng(seed)
    for start in range(0, num_samples, batch_size):
        count = min(batch_size, num_samples - start)
        z = rng.standard_normal((count, latent_dim)).astype("float32")
        labels = None
        if num_classes is not None:
            labels = np.arange(start, start + count) % num_classes if label is None else np.full(count, label)
            labels = tf.constant(labels.astype("int32"))
        yield sample(tf.constant(z), labels)


def sample_grid(generator, latent_dim, num_samples=64, num_classes=None, seed=0):
    """Generates `num_samples` images from fixed noise and tiles them.

    Args:
        generator: Callable on z, or on [z, labels] when `num_classes` is set,
            returning images in [-1, 1].
        latent_dim: Size of z.
        num_samples: Images in the grid (a square number fills it).
        num_classes: For a conditional generator: labels 0, 1, ... cycle so
            that each row shows the classes in order.
        seed: Seed of the noise.

    Returns:
        A float32 (rows*H, columns*W, C) grid in [-1, 1].

    Example:

    ```python
    write_png("grid.png", sample_grid(gan.ema_generator, 128))
    ```
    """

    def sample(z, labels):
        return generator(z if labels is None else [z, labels], training=False)

    (images,) = generated_batches(sample, latent_dim, num_samples, num_samples, num_classes, seed)
    images = keras.ops.convert_to_numpy(images).astype("float32")
    columns = num_classes if num_classes is not None and num_classes <= 16 else int(np.ceil(np.sqrt(num_samples)))
    return image_grid(images, columns)


class SampleGrid(PeriodicCallback):
    """Every `every_n_steps` steps, and at the last step of training, writes
    a grid of EMA-generator samples.

    The grid goes to `directory/step-NNNNNNNN.png` and, when `log_dir` is
    given, to TensorBoard as the image "samples". The noise is fixed, so
    successive grids show how the same z evolve. When training ends on a
    step that is not a multiple of `every_n_steps`, that step gets a grid
    too, so every run shows where it ended.

    Args:
        directory: Folder of the PNG files.
        every_n_steps: Period in training steps (see `PeriodicCallback`).
        num_samples: Images per grid.
        log_dir: TensorBoard log folder, or None.
        seed: Seed of the fixed noise.

    Example:

    ```python
    gan.fit(data, steps_per_epoch=1000, callbacks=[SampleGrid("run/samples", 500)])
    ```
    """

    def __init__(self, directory, every_n_steps, num_samples=64, log_dir=None, seed=0):
        super().__init__(every_n_steps)
        self.directory = os.fspath(directory)
        self.num_samples = num_samples
        self.seed = seed
        self._writer = tf.summary.create_file_writer(log_dir) if log_dir else None
        self._last_written = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._last_written = self.step

    def on_train_end(self, logs=None):
        if self.step != self._last_written:
            self.on_period(self.step, logs)

    def on_period(self, step, logs):
        self._last_written = step
        grid = sample_grid(self.model.ema_generator, self.model.latent_dim, self.num_samples,
                           self.model.num_classes, self.seed)
        write_png(os.path.join(self.directory, f"step-{step:08d}.png"), grid)
        if self._writer is not None:
            # Keras's TensorBoard callback switches recording off between its
            # update_freq steps; a grid is always worth recording.
            with self._writer.as_default(), tf.summary.record_if(True):
                tf.summary.image("samples", (grid[None] + 1) / 2, step=step)
            self._writer.flush()
