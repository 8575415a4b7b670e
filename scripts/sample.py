"""Draws samples from an exported generator into a PNG grid (and .npz).

    python scripts/sample.py --generator=runs/quickstart/generator --num=64 --out=grid.png
    python scripts/sample.py --generator=... --num=10000 --npz=samples.npz

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
    if not os.path.exists(os.path.join(FLAGS.generator, "saved_model.pb")):
        fail(f"--generator={FLAGS.generator} is not a SavedModel folder (no saved_model.pb).")
    import numpy as np
    import tensorflow as tf

    from keras_dagan.files import atomic_path, image_grid, write_png

    module = tf.saved_model.load(FLAGS.generator)
    serve = module.signatures["serving_default"]
    inputs = serve.structured_input_signature[1]
    latent_dim = int(inputs["z"].shape[-1])
    conditional = "labels" in inputs
    num_classes = int(module.signatures["metadata"]()["num_classes"]) if conditional else 0
    if FLAGS.label is not None and not 0 <= FLAGS.label < max(num_classes, 1):
        fail(f"--label={FLAGS.label}: the generator has {num_classes} classes "
             f"(0..{num_classes - 1})" if conditional else "--label needs a conditional generator.")
    rng = np.random.default_rng(FLAGS.seed)
    z = rng.standard_normal((FLAGS.num, latent_dim)).astype("float32")
    labels = None
    if conditional:
        labels = (np.full(FLAGS.num, FLAGS.label) if FLAGS.label is not None
                  else np.arange(FLAGS.num) % num_classes).astype("int32")
    chunks = []
    for start in range(0, FLAGS.num, FLAGS.batch_size):
        batch = {"z": tf.constant(z[start:start + FLAGS.batch_size])}
        if conditional:
            batch["labels"] = tf.constant(labels[start:start + FLAGS.batch_size])
        chunks.append(serve(**batch)["images"].numpy())
    images = np.concatenate(chunks)
    if FLAGS.out:
        columns = FLAGS.columns or int(np.ceil(np.sqrt(FLAGS.num)))
        write_png(FLAGS.out, image_grid(images, columns))
    if FLAGS.npz:
        with atomic_path(FLAGS.npz) as partial:
            with open(partial, "wb") as file:
                np.savez(file, images=images, **({"labels": labels} if conditional else {}))
    print(f"{FLAGS.num} samples of {images.shape[1:]} from {FLAGS.generator}: "
          + ", ".join(p for p in (FLAGS.out, FLAGS.npz) if p))


if __name__ == "__main__":
    app.run(main)
