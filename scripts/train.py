"""Trains a data-efficient GAN from the command line.

    python scripts/train.py --flagfile=configs/quickstart.cfg
    python scripts/train.py --flagfile=configs/cifar10_10pct_biggan_diffaugment.cfg

Everything lands in --out_dir: TensorBoard logs (logs/), PNG sample grids
(samples/), checkpoints (checkpoints/) and, at the end, the exported
generator (generator/, a SavedModel; see keras_dagan.export_generator).
Running the same command again with the same --out_dir resumes from the last
checkpoint. The last line printed is a JSON summary.
"""

import json
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags, logging  # noqa: E402

# Data
flags.DEFINE_string("dataset", "cifar10", "A tfds name (cifar10, cifar100, ...) or folder:PATH, "
                    "an image folder (class subfolders give labels) or a .tar/.zip of one.")
flags.DEFINE_string("data_dir", None, "tfds data_dir.")
flags.DEFINE_float("data_fraction", 1.0, "Share of each class to train on, in (0, 1]; 0.1 is the "
                   "papers' 10 %% setting (deterministic, class-stratified).")
flags.DEFINE_integer("resolution", 32, "Image size; the data is resized to it.")
flags.DEFINE_bool("flip", True, "Randomly flip the real images left-right (as the papers do).")
# Model
flags.DEFINE_enum("arch", "dcgan", ["dcgan", "biggan"], "Architecture: dcgan (32, 64) or "
                  "biggan (the ResNet of the paper's CIFAR experiments, 32).")
flags.DEFINE_integer("width", None, "Channel width; default: the architecture's.")
flags.DEFINE_integer("latent_dim", 128, "Size of z.")
flags.DEFINE_bool("conditional", False, "Class-conditional G and D (needs labels).")
# Augmentation and loss
flags.DEFINE_enum("augment", "diffaugment", ["none", "diffaugment", "ada"],
                  "Augmentation of D's inputs: DiffAugment's policy, or ADA's adaptive pipeline.")
flags.DEFINE_string("policy", "color,translation,cutout", "DiffAugment policy.")
flags.DEFINE_string("ada_preset", "bgc", "ADA pipeline preset: bg, bgc, bgcf, bgcfn, bgcfnc.")
flags.DEFINE_float("ada_target", 0.6, "ADA's target for r_t = E[sign(D(real))].")
flags.DEFINE_float("ada_kimg", 500, "ADA speed: thousands of images for p to go from 0 to 1.")
flags.DEFINE_integer("ada_interval", 4, "ADA: steps between p updates.")
flags.DEFINE_float("ada_p", None, "A fixed ADA probability instead of the controller (ablations).")
flags.DEFINE_boolean("ada_antialias", True,
                     "ADA: band-limit each sample before its geometric resampling; "
                     "--noada_antialias is faster on a CPU at large sizes and lets shrinking alias.")
flags.DEFINE_enum("augment_mode", "both", ["both", "real_only", "d_only", "none"],
                  "Which paths are augmented (the paper's ablation).")
flags.DEFINE_list("dag", [], "DAG transformations, one D head each (e.g. rotation,cropping; "
                  "groups rotation, flipping, cropping, translation, cutout or single names); "
                  "empty: no DAG.")
flags.DEFINE_float("dag_weight", 1.0, "DAG weight lambda of the transformation heads.")
flags.DEFINE_enum("loss", "hinge", ["hinge", "non_saturating", "wasserstein"], "GAN loss.")
flags.DEFINE_float("r1_gamma", 0.0, "R1 penalty weight (0: off).")
flags.DEFINE_integer("d_steps", 1, "D updates per G update.")
# Optimisation
flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_integer("steps", 10_000, "Total training steps (G updates).")
flags.DEFINE_float("lr_g", 2e-4, "Generator learning rate.")
flags.DEFINE_float("lr_d", 2e-4, "Discriminator learning rate.")
flags.DEFINE_float("beta_1", 0.0, "Adam beta_1.")
flags.DEFINE_float("beta_2", 0.999, "Adam beta_2.")
flags.DEFINE_float("ema_decay", 0.999, "Generator EMA decay (0: off).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored"],
                  "default: one device; mirrored: tf.distribute.MirroredStrategy on all GPUs.")
flags.DEFINE_enum("mixed_precision", "none", ["none", "mixed_float16", "mixed_bfloat16"],
                  "Keras mixed-precision policy.")
flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA.")
# Output
flags.DEFINE_string("out_dir", None, "Output folder (logs, samples, checkpoints, generator).")
flags.DEFINE_integer("checkpoint_every", 1000, "Checkpoint period in steps; --steps must be "
                     "a multiple of it.")
flags.DEFINE_integer("sample_every", 1000, "Sample-grid period in steps (0: never).")
flags.DEFINE_integer("eval_every", 0, "FID period in steps (0: no evaluation).")
flags.DEFINE_integer("num_eval_samples", 10_000, "Generated images per FID evaluation.")
flags.DEFINE_enum("extractor", "inception", ["inception", "cifar10"],
                  "FID features when --classifier_path is not given: TF-GAN's Inception "
                  "(--inception_path or the TF-Hub cache) or the shipped CIFAR-10 classifier.")
flags.DEFINE_string("inception_path", None, "Folder of TF-GAN's Inception SavedModel.")
flags.DEFINE_string("classifier_path", None, "A .keras classifier for a classifier-FID.")
flags.DEFINE_string("classifier_layer", None, "Feature layer of --classifier_path.")
flags.DEFINE_string("classifier_logits_layer", None, "Logits layer of --classifier_path (for IS).")
flags.DEFINE_string("cache_dir", os.path.join("~", ".cache", "keras_dagan"),
                    "Where reference statistics are cached.")
flags.DEFINE_integer("verbose", 1, "Keras progress output: 0 silent, 1 progress bar, 2 one "
                     "line per epoch.")
flags.mark_flag_as_required("out_dir")
FLAGS = flags.FLAGS

RESOLUTIONS = {"dcgan": (32, 64), "biggan": (32,)}


def fail(message):
    """Stops with a one-line error and exit status 2."""
    print(f"train.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def check_flags():
    if not 0 < FLAGS.data_fraction <= 1:
        fail(f"--data_fraction={FLAGS.data_fraction} is outside (0, 1]; use e.g. 0.1 for 10 %.")
    if FLAGS.resolution not in RESOLUTIONS[FLAGS.arch]:
        fail(f"--resolution={FLAGS.resolution}: --arch={FLAGS.arch} makes "
             f"{' or '.join(map(str, RESOLUTIONS[FLAGS.arch]))} pixel images; pick one of those"
             f"{' or --arch=dcgan' if FLAGS.arch == 'biggan' else ''}.")
    for name in ("batch_size", "steps", "checkpoint_every", "d_steps", "latent_dim"):
        if getattr(FLAGS, name) < 1:
            fail(f"--{name}={getattr(FLAGS, name)} must be at least 1.")
    for name in ("sample_every", "eval_every"):
        if getattr(FLAGS, name) < 0:
            fail(f"--{name}={getattr(FLAGS, name)} must be >= 0 (0 turns it off).")
    if FLAGS.steps % FLAGS.checkpoint_every:
        fail(f"--steps={FLAGS.steps} is not a multiple of --checkpoint_every="
             f"{FLAGS.checkpoint_every}; make it one (checkpoints end the Keras epochs).")
    if FLAGS.eval_every and FLAGS.classifier_path and not FLAGS.classifier_layer:
        fail("--classifier_path needs --classifier_layer=NAME, its feature layer.")
    if FLAGS.dag:
        from keras_dagan.models import DAG

        try:
            DAG(FLAGS.dag, weight=FLAGS.dag_weight)
        except ValueError as error:
            fail(f"--dag={','.join(FLAGS.dag)} --dag_weight={FLAGS.dag_weight}: {error}")
    if FLAGS.augment == "ada":
        if FLAGS.ada_p is not None and not 0 <= FLAGS.ada_p <= 1:
            fail(f"--ada_p={FLAGS.ada_p} is outside [0, 1].")
        try:
            adaptive_augment()
        except ValueError as error:
            fail(f"--augment=ada: {error}")
    if FLAGS.dataset.startswith("folder:") and not os.path.exists(FLAGS.dataset[len("folder:"):]):
        fail(f"--dataset={FLAGS.dataset}: no such folder or archive.")


def strategy_scope():
    import tensorflow as tf

    if FLAGS.strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def load_training_data():
    from keras_dagan.data import load_dataset

    dataset, class_names = load_dataset(
        FLAGS.dataset, split="train", data_dir=FLAGS.data_dir, batch_size=FLAGS.batch_size,
        conditional=FLAGS.conditional, flip=FLAGS.flip, seed=FLAGS.seed,
        fraction=FLAGS.data_fraction, image_size=(FLAGS.resolution, FLAGS.resolution))
    num_classes = None
    if FLAGS.conditional:
        if class_names is None:
            import tensorflow_datasets as tfds

            class_names = tfds.builder(FLAGS.dataset, data_dir=FLAGS.data_dir).info.features["label"].names
        num_classes = len(class_names)
    return dataset, num_classes


def adaptive_augment():
    from keras_dagan.augment import AdaptiveAugment

    fixed = FLAGS.ada_p is not None
    return AdaptiveAugment(FLAGS.ada_preset, p=FLAGS.ada_p if fixed else 0.0,
                           target=None if fixed else FLAGS.ada_target,
                           speed_kimg=FLAGS.ada_kimg, interval=FLAGS.ada_interval,
                           antialias=FLAGS.ada_antialias, seed=FLAGS.seed)


def build_gan(num_classes):
    import keras

    from keras_dagan import GAN, augment, models

    width = {} if FLAGS.width is None else {"width": FLAGS.width}
    if FLAGS.arch == "dcgan":
        generator = models.dcgan_generator(FLAGS.latent_dim, FLAGS.resolution, num_classes=num_classes, **width)
        discriminator = models.dcgan_discriminator(FLAGS.resolution, num_classes=num_classes, **width)
    else:
        generator = models.resnet_generator(FLAGS.latent_dim, FLAGS.resolution, num_classes=num_classes, **width)
        discriminator = models.resnet_discriminator(FLAGS.resolution, num_classes=num_classes, **width)
    dag = None
    if FLAGS.dag:
        dag = models.DAG(FLAGS.dag, weight=FLAGS.dag_weight)
        discriminator = models.dag_discriminator(discriminator, dag.num_heads)
    augmentation = None
    if FLAGS.augment == "diffaugment":
        augmentation = augment.DiffAugment(FLAGS.policy, seed=FLAGS.seed)
    elif FLAGS.augment == "ada":
        augmentation = adaptive_augment()
    gan = GAN(generator, discriminator, FLAGS.latent_dim, augment=augmentation,
              augment_mode=FLAGS.augment_mode, loss=FLAGS.loss, d_steps=FLAGS.d_steps,
              r1_gamma=FLAGS.r1_gamma, ema_decay=FLAGS.ema_decay, num_classes=num_classes,
              seed=FLAGS.seed, dag=dag)

    def adam(rate):
        return keras.optimizers.Adam(rate, beta_1=FLAGS.beta_1, beta_2=FLAGS.beta_2)

    gan.compile(d_optimizer=adam(FLAGS.lr_d), g_optimizer=adam(FLAGS.lr_g),
                jit_compile=FLAGS.jit_compile)
    return gan


def fid_callback():
    from keras_dagan import metrics

    extractor = metrics.make_extractor(FLAGS.extractor, FLAGS.inception_path, FLAGS.classifier_path,
                                       FLAGS.classifier_layer, FLAGS.classifier_logits_layer)
    # The reference is the whole training split, as in the papers, also when
    # training on a fraction of it.
    statistics = metrics.dataset_statistics(
        extractor, FLAGS.dataset, split="train", data_dir=FLAGS.data_dir,
        image_size=(FLAGS.resolution, FLAGS.resolution), cache_dir=FLAGS.cache_dir)
    return metrics.FIDCallback(statistics, extractor, FLAGS.eval_every,
                               num_samples=FLAGS.num_eval_samples, batch_size=250,
                               verbose=FLAGS.verbose > 0)


def main(argv):
    del argv
    check_flags()
    logging.set_verbosity(logging.WARNING)
    import keras

    from keras_dagan.checkpoint import TrainingCheckpoint, restore_latest
    from keras_dagan.export import export_generator
    from keras_dagan.samples import SampleGrid

    keras.utils.set_random_seed(FLAGS.seed)
    if FLAGS.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(FLAGS.mixed_precision)
    out_dir = os.path.abspath(FLAGS.out_dir)
    try:
        dataset, num_classes = load_training_data()
    except (ValueError, RuntimeError) as error:
        fail(f"--dataset={FLAGS.dataset}: {error}")
    with strategy_scope().scope():
        gan = build_gan(num_classes)
    checkpoints = os.path.join(out_dir, "checkpoints")
    step = restore_latest(gan, checkpoints)
    if step:
        print(f"Resumed from step {step}", flush=True)
        # The pipeline is deterministic given --seed: skipping the batches
        # already used puts the data where the killed run left it.
        dataset = dataset.skip(step)

    callbacks = [TrainingCheckpoint(checkpoints), keras.callbacks.TerminateOnNaN()]
    logs = os.path.join(out_dir, "logs")
    if FLAGS.sample_every:
        callbacks.append(SampleGrid(os.path.join(out_dir, "samples"), FLAGS.sample_every,
                                    log_dir=os.path.join(logs, "samples"), seed=FLAGS.seed))
    fid = None
    if FLAGS.eval_every:
        try:
            fid = fid_callback()
        except (FileNotFoundError, ValueError) as error:
            fail(str(error))
        callbacks.append(fid)
    # After the FID callback, so that its values reach the logs it writes.
    # Keras's TensorBoard records only on multiples of update_freq, epoch
    # summaries included, and our epochs end every --checkpoint_every steps.
    callbacks.append(keras.callbacks.TensorBoard(
        logs, update_freq=math.gcd(100, FLAGS.checkpoint_every)))

    interval = FLAGS.checkpoint_every
    if step < FLAGS.steps:
        gan.fit(dataset, steps_per_epoch=interval, epochs=FLAGS.steps // interval,
                initial_epoch=step // interval, callbacks=callbacks, verbose=FLAGS.verbose)
    export_generator(gan, os.path.join(out_dir, "generator"))
    summary = {"steps": FLAGS.steps, "resumed_from": step,
               "generator": os.path.join(out_dir, "generator")}
    if fid is not None:
        summary["fid"] = {entry["step"]: round(entry["fid"], 4) for entry in fid.history}
    print(json.dumps(summary))


if __name__ == "__main__":
    app.run(main)
