"""Scores an exported generator against a dataset: FID, IS and KID.

    python scripts/evaluate.py --generator=out/generator --dataset=cifar10 \
        --inception_path=/models/tfgan_inception --num_samples=10000
    python scripts/evaluate.py --generator=out/generator \
        --dataset=folder:data/cifar10/train --extractor=cifar10

`--generator` is a SavedModel written by `keras_dagan.export_generator`
(signature `serving_default`: `z` [, `labels`] -> uint8 `images`). The
features come from Inception (`--inception_path`, or the TF-Hub cache), from
the CIFAR-10 classifier shipped with keras_dagan (`--extractor=cifar10`,
offline, comparable only to itself) or from your own `.keras` classifier
(`--classifier_path`, `--classifier_layer`). Reference statistics of the
real data are cached in `--cache_dir`. The last line printed is one JSON
object: {"fid": ..., "is": ..., "kid": ..., "num_samples": ...}.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("generator", None, "SavedModel folder of the exported generator.")
flags.DEFINE_string("dataset", None, "Real data: a tfds name (cifar10) or folder:PATH.")
flags.DEFINE_string("split", "train", "tfds split of the real data.")
flags.DEFINE_string("data_dir", None, "tfds data_dir.")
flags.DEFINE_enum("extractor", "inception", ["inception", "cifar10"],
                  "Feature network when --classifier_path is not given.")
flags.DEFINE_string("inception_path", None, "Folder of TF-GAN's Inception SavedModel; "
                    "default: the TF-Hub cache.")
flags.DEFINE_string("classifier_path", None, "A .keras classifier to use instead of Inception.")
flags.DEFINE_string("classifier_layer", None, "Feature layer of --classifier_path.")
flags.DEFINE_string("classifier_logits_layer", None, "Logits layer of --classifier_path (for IS).")
flags.DEFINE_integer("num_samples", 10_000, "Generated images to score.", lower_bound=2)
flags.DEFINE_integer("num_real_samples", 0, "Real images for the reference statistics; "
                     "0 uses the whole split or folder.", lower_bound=0)
flags.DEFINE_integer("is_splits", 10, "Inception-score splits (0 skips IS).", lower_bound=0)
flags.DEFINE_bool("kid", True, "Also compute KID.")
flags.DEFINE_integer("batch_size", 250, "Images per batch.", lower_bound=1)
flags.DEFINE_string("cache_dir", os.path.join("~", ".cache", "keras_dagan"),
                    "Where reference statistics are cached.")
flags.DEFINE_integer("seed", 0, "Seed of the generator noise.")
flags.mark_flags_as_required(["generator", "dataset"])
FLAGS = flags.FLAGS


def fail(message):
    print(f"evaluate.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def make_extractor():
    from keras_dagan import metrics

    if FLAGS.classifier_path:
        if not FLAGS.classifier_layer:
            fail("--classifier_path needs --classifier_layer=NAME (its feature layer).")
        return metrics.KerasClassifierExtractor(
            FLAGS.classifier_path, FLAGS.classifier_layer, FLAGS.classifier_logits_layer)
    if FLAGS.inception_path or FLAGS.extractor == "inception":
        return metrics.InceptionExtractor(FLAGS.inception_path)
    return metrics.cifar10_extractor()


def load_generator(path):
    import tensorflow as tf

    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        fail(f"--generator={path} is not a SavedModel folder (no saved_model.pb); "
             "export one with keras_dagan.export_generator(gan, path).")
    module = tf.saved_model.load(path)
    if "serving_default" not in module.signatures:
        fail(f"--generator={path} has no serving_default signature.")
    serve = module.signatures["serving_default"]
    inputs = serve.structured_input_signature[1]
    latent_dim = int(inputs["z"].shape[-1])
    num_classes = None
    if "labels" in inputs:
        if "metadata" not in module.signatures:
            fail(f"--generator={path} is conditional but has no metadata "
                 "signature giving num_classes.")
        num_classes = int(module.signatures["metadata"]()["num_classes"])

    def sample(z, labels):
        outputs = serve(z=z) if labels is None else serve(z=z, labels=labels)
        return outputs["images"]

    return sample, latent_dim, num_classes


def main(argv):
    del argv
    from keras_dagan.data import load_dataset
    from keras_dagan.metrics import (
        generated_batches, reference_statistics, score_images, statistics_cache_path)

    try:
        extractor = make_extractor()
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    sample, latent_dim, num_classes = load_generator(FLAGS.generator)
    try:
        real, _ = load_dataset(FLAGS.dataset, split=FLAGS.split, data_dir=FLAGS.data_dir,
                               batch_size=FLAGS.batch_size, flip=False, repeat=False,
                               drop_remainder=False, cache=False, seed=0)
    except (ValueError, RuntimeError) as error:
        fail(f"--dataset={FLAGS.dataset}: {error}")
    num_real = FLAGS.num_real_samples or None
    cache = statistics_cache_path(os.path.expanduser(FLAGS.cache_dir), FLAGS.dataset, FLAGS.split,
                                  extractor.name, num_real or "all")
    real_statistics = reference_statistics(extractor, real, num_real, cache_path=cache)
    fake = generated_batches(sample, latent_dim, FLAGS.num_samples, FLAGS.batch_size,
                             num_classes=num_classes, seed=FLAGS.seed)
    scores = score_images(extractor, real_statistics, fake, FLAGS.num_samples,
                          is_splits=FLAGS.is_splits, kid=FLAGS.kid)
    scores["num_real_samples"] = real_statistics.count
    scores["extractor"] = extractor.name
    print(json.dumps(scores))


if __name__ == "__main__":
    app.run(main)
