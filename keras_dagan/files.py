"""Writing files so that no reader ever sees half of one."""

import contextlib
import os
import secrets
import shutil

import numpy as np


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path next to `path` and renames it there on success.

    Whatever the block writes at the yielded path (a file, or a folder such as
    a SavedModel) replaces `path` only when the block finishes without an
    exception; on an exception it is deleted and `path` is left as it was.
    The temporary name keeps the extension of `path`, because some writers
    (`keras.Model.save`) insist on it.

    Args:
        path: The final file or folder path. Its parent folders are created.

    Example:

    ```python
    with atomic_path("model.keras") as partial:
        model.save(partial)
    ```
    """
    path = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(path)
    stem, extension = os.path.splitext(name)
    os.makedirs(directory, exist_ok=True)
    partial = os.path.join(directory, f".{stem}.partial-{secrets.token_hex(4)}{extension}")
    try:
        yield partial
    except BaseException:
        _remove(partial)
        raise
    if os.path.isdir(partial) and os.path.isdir(path):
        # os.replace cannot replace a non-empty folder: move the old one aside.
        old = os.path.join(directory, f".{stem}.old-{secrets.token_hex(4)}")
        os.replace(path, old)
        os.replace(partial, path)
        shutil.rmtree(old)
    else:
        os.replace(partial, path)


def _remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.remove(path)


def image_grid(images, columns):
    """Tiles a batch of images (N, H, W, C) into one (rows*H, columns*W, C)
    image, filling missing cells with black (0 for uint8, -1 for floats in
    [-1, 1])."""
    images = np.asarray(images)
    count, height, width, channels = images.shape
    rows = -(-count // columns)
    black = 0 if images.dtype == np.uint8 else -1
    padded = np.full((rows * columns, height, width, channels), black, images.dtype)
    padded[:count] = images
    grid = padded.reshape(rows, columns, height, width, channels)
    return grid.transpose(0, 2, 1, 3, 4).reshape(rows * height, columns * width, channels)


def as_uint8(images):
    """uint8 images as they are; float images in [-1, 1] mapped to uint8 (clipped)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.clip(np.round((images.astype("float32") + 1) * 127.5), 0, 255).astype("uint8")


def write_png(path, image):
    """Writes one image, uint8 or float in [-1, 1] (clipped), as a PNG, atomically.

    Args:
        path: Destination file.
        image: Array (H, W, C) with C = 1, 3 or 4.
    """
    import tensorflow as tf

    encoded = tf.io.encode_png(as_uint8(image)).numpy()
    with atomic_path(path) as partial:
        with open(partial, "wb") as file:
            file.write(encoded)
