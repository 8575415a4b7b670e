"""Shows what DiffAugment does to a batch of images.

Draws a test pattern (or reads your own PNG/JPEG files), applies
DiffAugment several times and writes a grid: the originals in the first row,
one augmented copy per further row. Prints the policy and the per-row change.

    python scripts/augment_demo.py --out=augment_demo.png
    python scripts/augment_demo.py --images=a.png,b.jpg --policy=translation,cutout
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_dagan.augment import DiffAugment  # noqa: E402
from keras_dagan.files import image_grid, write_png  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("out", "augment_demo.png", "Where to write the PNG grid.")
flags.DEFINE_string("policy", "color,translation,cutout", "DiffAugment policy.")
flags.DEFINE_list("images", [], "Image files to augment; a test pattern if empty.")
flags.DEFINE_integer("rows", 4, "Augmented copies to show.")
flags.DEFINE_integer("seed", 0, "Seed of the augmentation.")


def test_pattern(count=6, size=64):
    """Coloured, asymmetric shapes, so every transformation is visible."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    images = []
    for index in range(count):
        hue = index / count
        image = np.stack([np.sin(6.28 * (x + hue)), np.cos(6.28 * (y - hue)), x * y * 2 - 1], -1)
        image[size // 8: size // 3, size // 8: size // 2] = [1, -1, -1]  # off-centre block
        images.append(image)
    return np.asarray(images, np.float32)


def read_images(paths):
    images = []
    for path in paths:
        try:
            image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        except tf.errors.OpError as error:
            raise app.UsageError(f"--images: cannot read {path!r}: {error.message}")
        images.append(tf.image.resize(tf.cast(image, tf.float32) / 127.5 - 1, (64, 64)))
    return np.stack(images)


def main(argv):
    del argv
    images = read_images(FLAGS.images) if FLAGS.images else test_pattern()
    try:
        augment = DiffAugment(FLAGS.policy, seed=FLAGS.seed)
    except ValueError as error:
        raise app.UsageError(f"--policy: {error}")
    rows = [images]
    for row in range(FLAGS.rows):
        augmented = np.asarray(augment(images, training=True))
        rows.append(augmented)
        print(f"row {row + 1}: mean |augmented - original| = "
              f"{np.abs(augmented - images).mean():.3f}")
    n, h, w, _ = images.shape
    write_png(FLAGS.out, image_grid(np.concatenate(rows), columns=n))
    print(f"DiffAugment({','.join(augment.policy)!r}): wrote {FLAGS.out} "
          f"({len(rows) * h}x{n * w}; first row original)")


if __name__ == "__main__":
    app.run(main)
