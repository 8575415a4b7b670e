"""Grids of generated samples: as PNG files and TensorBoard images."""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_dagan.files import image_grid, write_png


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
    z = np.random.default_rng(seed).standard_normal((num_samples, latent_dim)).astype("float32")
    inputs = z
    if num_classes is not None:
        inputs = [z, (np.arange(num_samples) % num_classes).astype("int32")]
    images = keras.ops.convert_to_numpy(generator(inputs, training=False)).astype("float32")
    columns = num_classes if num_classes is not None and num_classes <= 16 else int(np.ceil(np.sqrt(num_samples)))
    return image_grid(images, columns)


class SampleGrid(keras.callbacks.Callback):
    """Every `every_n_steps` steps, writes a grid of EMA-generator samples.

    The grid goes to `directory/step-NNNNNNNN.png` and, when `log_dir` is
    given, to TensorBoard as the image "samples". The noise is fixed, so
    successive grids show how the same z evolve.

    Args:
        directory: Folder of the PNG files.
        every_n_steps: Period in training steps (counted by the generator
            optimizer's `iterations`).
        num_samples: Images per grid.
        log_dir: TensorBoard log folder, or None.
        seed: Seed of the fixed noise.

    Example:

    ```python
    gan.fit(data, steps_per_epoch=1000, callbacks=[SampleGrid("run/samples", 500)])
    ```
    """

    def __init__(self, directory, every_n_steps, num_samples=64, log_dir=None, seed=0):
        super().__init__()
        if not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"every_n_steps must be an integer >= 1; got {every_n_steps!r}.")
        self.directory = os.fspath(directory)
        self.every_n_steps = every_n_steps
        self.num_samples = num_samples
        self.seed = seed
        self._writer = tf.summary.create_file_writer(log_dir) if log_dir else None

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.g_optimizer.iterations.numpy())
        if step % self.every_n_steps:
            return
        grid = sample_grid(self.model.ema_generator, self.model.latent_dim, self.num_samples,
                           self.model.num_classes, self.seed)
        write_png(os.path.join(self.directory, f"step-{step:08d}.png"), grid)
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image("samples", (grid[None] + 1) / 2, step=step)
            self._writer.flush()
