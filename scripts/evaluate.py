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


def main(argv):
    del argv
    from keras_dagan.export import ExportedGenerator
    from keras_dagan.metrics import (
        dataset_statistics, generated_batches, make_extractor, score_images)

    try:
        extractor = make_extractor(FLAGS.extractor, FLAGS.inception_path, FLAGS.classifier_path,
                                   FLAGS.classifier_layer, FLAGS.classifier_logits_layer)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    try:
        generator = ExportedGenerator(FLAGS.generator)
    except ValueError as error:
        fail(f"--generator={error}")
    try:
        real_statistics = dataset_statistics(
            extractor, FLAGS.dataset, split=FLAGS.split, data_dir=FLAGS.data_dir,
            num_samples=FLAGS.num_real_samples or None, cache_dir=FLAGS.cache_dir,
            batch_size=FLAGS.batch_size)
    except (ValueError, RuntimeError) as error:
        fail(f"--dataset={FLAGS.dataset}: {error}")
    fake = generated_batches(generator.sample, generator.latent_dim, FLAGS.num_samples,
                             FLAGS.batch_size, num_classes=generator.num_classes, seed=FLAGS.seed)
    scores = score_images(extractor, real_statistics, fake, FLAGS.num_samples,
                          is_splits=FLAGS.is_splits, kid=FLAGS.kid)
    scores["num_real_samples"] = real_statistics.count
    scores["extractor"] = extractor.name
    print(json.dumps(scores))


if __name__ == "__main__":
    app.run(main)
