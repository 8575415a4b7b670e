"""Scores an exported generator against a dataset: FID, IS and KID.

    python scripts/evaluate.py --generator=out/generator --dataset=cifar10 \
        --inception_path=/models/tfgan_inception --num_samples=10000
    python scripts/evaluate.py --generator=out/generator \
        --dataset=folder:data/cifar10/train --extractor=cifar10

With `--memorization --leakage --precision_recall` it also runs the
limited-data diagnostics of `keras_dagan.diagnostics` against the images the
GAN trained on (`--dataset` with `--data_fraction`) and held-out real images
(`--heldout`, by default a tfds dataset's test split):

    python scripts/evaluate.py --generator=out/generator --extractor=cifar10 \
        --dataset=folder:data/train --data_fraction=0.1 --heldout=folder:data/test \
        --reference=test --memorization --leakage --precision_recall

`--generator` is a SavedModel written by `keras_dagan.export_generator`
(signature `serving_default`: `z` [, `labels`] -> uint8 `images`). The
features come from Inception (`--inception_path`, or the TF-Hub cache), from
the CIFAR-10 classifier shipped with keras_dagan (`--extractor=cifar10`,
offline, comparable only to itself) or from your own `.keras` classifier
(`--classifier_path`, `--classifier_layer`). Reference statistics of the
real data are cached in `--cache_dir`, and so are the leak detectors. The
last line printed is one JSON object: {"fid": ..., "is": ..., "kid": ...,
"num_samples": ..., "reference": ...} plus "memorization", "data_copying",
"leakage", "detector_accuracy", "precision", "recall", "density" and
"coverage" when asked for.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_dagan.diagnostics import DETECTOR_STEPS, LEAK_FAMILIES, Diagnostics  # noqa: E402
from keras_dagan.export import ExportedGenerator  # noqa: E402
from keras_dagan.metrics import (  # noqa: E402
    dataset_images,
    dataset_statistics,
    generated_batches,
    image_array,
    image_features,
    make_extractor,
    score_images,
)

flags.DEFINE_string("generator", None, "SavedModel folder of the exported generator.")
flags.DEFINE_string("dataset", None, "Real data: a tfds name (cifar10) or folder:PATH.")
flags.DEFINE_string("split", "train", "tfds split of the real data.")
flags.DEFINE_float("data_fraction", 1.0, "Share of the training data the GAN trained on, in "
                   "(0, 1], picked as train.py picks it.")
flags.DEFINE_enum("subset", "stratified", ["stratified", "reference", "first"],
                  "How --data_fraction was picked (as train.py's --subset).")
flags.DEFINE_string("heldout", None, "Held-out real images: folder:PATH; default: for a tfds "
                    "--dataset, its test split.")
flags.DEFINE_enum("reference", "train", ["train", "test", "full_train"],
                  "FID's real images: train (what the GAN trained on, with --data_fraction), "
                  "test (--heldout) or full_train (the whole --split).")
flags.DEFINE_bool("memorization", False, "Report the share of samples that copy a training "
                  "image (memorization) and Meehan et al.'s C_T (data_copying).")
flags.DEFINE_bool("leakage", False, "Report the share of samples carrying each augmentation "
                  "(leak detectors trained on the training images, cached).")
flags.DEFINE_bool("precision_recall", False, "Report precision, recall (k=3), density and "
                  "coverage (k=5) against the --reference images.")
flags.DEFINE_list("leak_families", list(LEAK_FAMILIES), "Transform families --leakage checks.")
flags.DEFINE_integer("detector_steps", DETECTOR_STEPS, "Training steps of each leak detector.",
                     lower_bound=1)
flags.DEFINE_string("copies_png", None, "With --memorization: a PNG of the most-copied samples "
                    "beside their nearest training images.")
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
                    "Where reference statistics and leak detectors are cached.")
flags.DEFINE_integer("seed", 0, "Seed of the generator noise.")
flags.mark_flags_as_required(["generator", "dataset"])
FLAGS = flags.FLAGS


def fail(message):
    print(f"evaluate.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def heldout_source():
    """(dataset, split) of the held-out real images, or None."""
    if FLAGS.heldout:
        if not FLAGS.heldout.startswith("folder:"):
            fail(f"--heldout={FLAGS.heldout}: give a folder:PATH of held-out images.")
        return FLAGS.heldout, "train"
    if FLAGS.dataset.startswith("folder:"):
        return None
    return FLAGS.dataset, "test"


def check_flags(heldout):
    if not 0 < FLAGS.data_fraction <= 1:
        fail(f"--data_fraction={FLAGS.data_fraction} is outside (0, 1]; use e.g. 0.1 for 10 %.")
    unknown = sorted(set(FLAGS.leak_families) - set(LEAK_FAMILIES))
    if unknown:
        fail(f"--leak_families: unknown {', '.join(unknown)}; choose from "
             f"{', '.join(LEAK_FAMILIES)}.")
    needs = [name for name, wanted in (("--reference=test", FLAGS.reference == "test"),
                                       ("--memorization", FLAGS.memorization),
                                       ("--leakage", FLAGS.leakage)) if wanted]
    if needs and heldout is None:
        fail(f"{', '.join(needs)}: held-out real images are needed, and --dataset="
             f"{FLAGS.dataset} is a folder; pass --heldout=folder:PATH (e.g. the test images).")
    if FLAGS.copies_png and not FLAGS.memorization:
        fail("--copies_png needs --memorization.")


def main(argv):
    del argv
    heldout = heldout_source()
    check_flags(heldout)
    try:
        extractor = make_extractor(FLAGS.extractor, FLAGS.inception_path, FLAGS.classifier_path,
                                   FLAGS.classifier_layer, FLAGS.classifier_logits_layer)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    try:
        generator = ExportedGenerator(FLAGS.generator)
    except ValueError as error:
        fail(f"--generator={error}")
    training = {"dataset": FLAGS.dataset, "split": FLAGS.split, "fraction": FLAGS.data_fraction,
                "subset": FLAGS.subset}
    reference = {"train": training, "full_train": dict(training, fraction=1.0),
                 "test": heldout and {"dataset": heldout[0], "split": heldout[1]}}[FLAGS.reference]
    try:
        real_statistics = dataset_statistics(
            extractor, data_dir=FLAGS.data_dir, num_samples=FLAGS.num_real_samples or None,
            cache_dir=FLAGS.cache_dir, batch_size=FLAGS.batch_size, **reference)
    except (ValueError, RuntimeError) as error:
        fail(f"--dataset={reference['dataset']}: {error}")
    fake = generated_batches(generator.sample, generator.latent_dim, FLAGS.num_samples,
                             FLAGS.batch_size, num_classes=generator.num_classes, seed=FLAGS.seed)
    diagnose = FLAGS.memorization or FLAGS.leakage or FLAGS.precision_recall
    if diagnose:
        # The diagnostics need the samples themselves, not only their features.
        images = image_array(fake)
        diagnostics = make_diagnostics(extractor, images.shape[1:], training, heldout, reference)
        fake = np.array_split(images, -(-len(images) // FLAGS.batch_size))
    scores = score_images(extractor, real_statistics, fake, FLAGS.num_samples,
                          is_splits=FLAGS.is_splits, kid=FLAGS.kid)
    scores["num_real_samples"] = real_statistics.count
    scores["extractor"] = extractor.name
    scores["reference"] = FLAGS.reference
    if diagnose:
        try:
            scores.update(diagnostics(images, copies_png=FLAGS.copies_png))
        except ValueError as error:
            fail(str(error))
        if diagnostics.detectors:
            scores["detector_accuracy"] = diagnostics.detector_accuracies()
    print(json.dumps(scores))


def make_diagnostics(extractor, sample_shape, training, heldout, reference):
    """The `Diagnostics` the flags ask for, or a one-line error."""
    try:
        train_images = dataset_images(data_dir=FLAGS.data_dir, **training)
        heldout_images = None
        if FLAGS.memorization or FLAGS.leakage:
            heldout_images = dataset_images(heldout[0], heldout[1], data_dir=FLAGS.data_dir)
    except (ValueError, RuntimeError) as error:
        fail(f"--dataset: {error}")
    if tuple(sample_shape) != train_images.shape[1:]:
        fail(f"--generator makes images of shape {tuple(sample_shape)}, but the images of "
             f"--dataset={FLAGS.dataset} are {train_images.shape[1:]}; evaluate it on data of "
             "its resolution.")
    try:
        real_features = None
        if FLAGS.precision_recall and reference is not training:
            real_features = image_features(
                extractor, dataset_images(data_dir=FLAGS.data_dir, **reference), FLAGS.batch_size)
        return Diagnostics(
            extractor, train_images, heldout_images, memorization=FLAGS.memorization,
            leakage=FLAGS.leakage, precision_recall=FLAGS.precision_recall,
            real_features=real_features, leak_families=FLAGS.leak_families,
            detector_steps=FLAGS.detector_steps, cache_dir=FLAGS.cache_dir,
            batch_size=FLAGS.batch_size)
    except ValueError as error:
        fail(str(error))


if __name__ == "__main__":
    app.run(main)
