"""Draws samples from an exported generator into a PNG grid (and .npz).

    python scripts/sample.py --generator=runs/quickstart/generator --num=64 --out=grid.png
    python scripts/sample.py --generator=... --num=10000 --npz=samples.npz
    python scripts/sample.py --generator=runs/lowshot/generator --truncation_psi=0.7 --out=grid.png

`--generator` is a SavedModel written by keras_dagan.export_generator. Only
TensorFlow is needed to read it. A conditional generator gets labels
0, 1, 2, ... in turn (or all `--label`).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("generator", None, "SavedModel folder of the exported generator.")
flags.DEFINE_integer("num", 64, "Number of samples.", lower_bound=1)
flags.DEFINE_string("out", None, "PNG grid to write.")
flags.DEFINE_string("npz", None, "Also write the raw uint8 samples (and labels) to this .npz.")
flags.DEFINE_integer("label", None, "Class of every sample (conditional generators).")
flags.DEFINE_integer("columns", None, "Grid columns; default: about sqrt(num).")
flags.DEFINE_integer("seed", 0, "Seed of z.")
flags.DEFINE_float("truncation_psi", 1.0, "Truncation toward the average w (StyleGAN2 "
                   "generators): 1 none, 0 the average image; 0.5 to 0.7 trade variety for "
                   "quality.")
flags.DEFINE_integer("batch_size", 250, "Samples per generator call.", lower_bound=1)
flags.mark_flag_as_required("generator")
FLAGS = flags.FLAGS


def fail(message):
    print(f"sample.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv):
    del argv
    if not FLAGS.out and not FLAGS.npz:
        fail("nothing to write: pass --out=grid.png and/or --npz=samples.npz.")
    import numpy as np

    from keras_dagan.export import ExportedGenerator
    from keras_dagan.files import atomic_path, image_grid, write_png
    from keras_dagan.samples import generated_batches

    try:
        generator = ExportedGenerator(FLAGS.generator)
    except ValueError as error:
        fail(f"--generator={error}")
    if FLAGS.truncation_psi != 1.0 and not generator.truncatable:
        fail(f"--truncation_psi={FLAGS.truncation_psi}: {FLAGS.generator} has no truncated "
             "signature (only StyleGAN2 generators truncate); drop the flag.")
    num_classes = generator.num_classes
    if FLAGS.label is not None and (num_classes is None or not 0 <= FLAGS.label < num_classes):
        fail(f"--label={FLAGS.label}: the generator has {num_classes} classes "
             f"(0..{num_classes - 1})" if num_classes else "--label needs a conditional generator.")
    used_labels = []

    def sample(z, labels):
        if labels is not None:
            used_labels.append(labels.numpy())
        return generator.sample(z, labels, truncation_psi=FLAGS.truncation_psi)

    batches = generated_batches(sample, generator.latent_dim, FLAGS.num, FLAGS.batch_size,
                                num_classes, FLAGS.seed, FLAGS.label)
    images = np.concatenate([batch.numpy() for batch in batches])
    if FLAGS.out:
        columns = FLAGS.columns or int(np.ceil(np.sqrt(FLAGS.num)))
        write_png(FLAGS.out, image_grid(images, columns))
    if FLAGS.npz:
        with atomic_path(FLAGS.npz) as partial:
            with open(partial, "wb") as file:
                labels = {"labels": np.concatenate(used_labels)} if used_labels else {}
                np.savez(file, images=images, **labels)
    print(f"{FLAGS.num} samples of {images.shape[1:]} from {FLAGS.generator}: "
          + ", ".join(p for p in (FLAGS.out, FLAGS.npz) if p))


if __name__ == "__main__":
    app.run(main)
