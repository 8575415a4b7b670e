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
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags, logging  # noqa: E402

# Data
flags.DEFINE_string("dataset", "cifar10", "A tfds name (cifar10, cifar100, ...) or folder:PATH, "
                    "an image folder (class subfolders give labels) or a .tar/.zip of one.")
flags.DEFINE_string("data_dir", None, "tfds data_dir.")
flags.DEFINE_float("data_fraction", 1.0, "Share of the training data to train on, in (0, 1]; "
                   "0.1 is the papers' 10 %% setting (a deterministic subset, see --subset).")
flags.DEFINE_enum("subset", "stratified", ["stratified", "reference", "first"],
                  "Which examples --data_fraction keeps: stratified (that share of each class, "
                  "seed 0), reference (DiffAugment-biggan-cifar's np.random.choice with seed 0 "
                  "over the original CIFAR order; tfds datasets with ids) or first (the first "
                  "examples in tfds order, as DiffAugment-stylegan2).")
flags.DEFINE_integer("resolution", 32, "Image size; the data is resized to it.")
flags.DEFINE_bool("flip", True, "Randomly flip the real images left-right (as the papers do).")
# Model
flags.DEFINE_enum("arch", "dcgan", ["dcgan", "biggan", "stylegan2"], "Architecture: dcgan "
                  "(32, 64), biggan (the ResNet of the paper's CIFAR experiments, 32) or "
                  "stylegan2 (StyleGAN2-ADA's networks, 32 to 1024).")
flags.DEFINE_integer("width", None, "Channel width of dcgan and biggan; default: the "
                     "architecture's.")
# StyleGAN2 (--arch=stylegan2), named as stylegan2-ada-pytorch names them.
flags.DEFINE_integer("channel_base", 16384, "StyleGAN2: channels per resolution are "
                     "min(channel_base // resolution, channel_max) (stylegan2-ada-pytorch: "
                     "fmaps * 32768; the TensorFlow StyleGAN2's fmap_base is half of it).")
flags.DEFINE_integer("channel_max", 512, "StyleGAN2: most channels of any layer.")
flags.DEFINE_integer("mapping_layers", 8, "StyleGAN2: layers of the mapping network.")
flags.DEFINE_integer("mbstd_group_size", 4, "StyleGAN2: group size of D's minibatch "
                     "standard deviation.")
flags.DEFINE_enum("d_architecture", "resnet", ["resnet", "orig", "skip"],
                  "StyleGAN2: discriminator architecture (the reference cifar config: orig).")
flags.DEFINE_integer("num_fp16_res", 0, "StyleGAN2: how many of the highest resolutions "
                     "compute in float16 (stylegan2-ada-pytorch: 4).")
flags.DEFINE_float("conv_clamp", None, "StyleGAN2: clamp of the convolution outputs, for "
                   "float16 layers (stylegan2-ada-pytorch: 256).")
flags.DEFINE_float("style_mixing", 0.9, "StyleGAN2: probability of style mixing in training.")
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
flags.DEFINE_bool("r1_through_augment", True,
                  "R1 gradient with respect to the reals x through the augmentation (ADA, "
                  "DiffAugment-stylegan2's ns_DiffAugment_r1); --nor1_through_augment: with "
                  "respect to the augmented reals (ns_r1_DiffAugment, its CIFAR/FFHQ runs).")
flags.DEFINE_integer("r1_interval", 0, "Lazy R1: apply it every this many D updates, with "
                     "gamma times the interval, as its own optimizer step (StyleGAN2: 16); 0: "
                     "in every D update's loss.")
flags.DEFINE_float("pl_weight", 0.0, "StyleGAN2 path length regularization weight (its "
                   "paper configs: 2; 0: off).")
flags.DEFINE_integer("pl_interval", 0, "Lazy G regularization: path length every this many G "
                     "updates (StyleGAN2: 4); with an interval the G optimizer's rate and "
                     "betas are corrected as the reference does, also with --pl_weight=0; "
                     "0: no lazy G regularization (then --pl_weight must be 0).")
flags.DEFINE_bool("zero_nonfinite_gradients", False, "Replace NaN gradients by 0 and infinite "
                  "ones by +-1e5 before each update, as stylegan2-ada-pytorch does for its "
                  "float16 layers; a non-finite loss still stops the run.")
# Regularizers beyond augmentation (keras_dagan.regularizers)
flags.DEFINE_float("lecam_weight", 0.0, "LeCam regularization weight (0: off; google/lecam-gan's "
                   "BigGAN scripts: 0.3).")
flags.DEFINE_float("lecam_ema_decay", 0.99, "LeCam: decay of the EMAs of D's mean logits, in "
                   "[0, 1) (the reference's BigGAN code: 0.9, its StyleGAN2 code: 0.99).")
flags.DEFINE_integer("lecam_start", 0, "LeCam: train steps during which the EMAs copy D's means "
                     "and the penalty is off (BigGAN code: 1000; 0: zero-debiased EMAs, as its "
                     "StyleGAN2 code).")
flags.DEFINE_bool("apa", False, "Adaptive pseudo augmentation (DeceiveD): with probability p, "
                  "generated images replace D's reals, labelled real.")
flags.DEFINE_float("apa_target", 0.6, "APA's target for r_t = E[sign(D(real))].")
flags.DEFINE_float("apa_kimg", 500, "APA speed: thousands of images for p to go from 0 to 1.")
flags.DEFINE_integer("apa_interval", 4, "APA: steps between p updates.")
flags.DEFINE_float("apa_p", None, "A fixed APA probability instead of the controller.")
flags.DEFINE_bool("apa_separate_controller", False, "With --augment=ada: give APA its own p and "
                  "controller instead of sharing ADA's (DeceiveD's --with-dataaug shares).")
flags.DEFINE_float("cr_weight_real", 0.0, "Consistency regularization weight on reals (CR; the "
                   "DiffAugment-cr scripts: 10; 0: off).")
flags.DEFINE_float("cr_weight_fake", 0.0, "Consistency regularization weight on D's fakes (bCR: "
                   "10; 0: off).")
flags.DEFINE_string("cr_augment", "", "CR's transform T of the view v D scores, as the "
                    "DiffAugment BigGAN code's --CR_augment: \"flip,\" or not, then a DiffAugment "
                    "policy (its default: flip,translation); empty: the partner is the image "
                    "before augmentation (the DiffAugment-cr 10 %% and 20 %% scripts).")
flags.DEFINE_integer("d_steps", 1, "D updates per G update; each gets its own --batch_size reals.")
# Optimisation
flags.DEFINE_integer("batch_size", 64, "Global batch of one D update (a step reads "
                     "--d_steps times as many reals) and of the G update.")
flags.DEFINE_integer("steps", 10_000, "Total training steps (G updates).")
flags.DEFINE_float("lr_g", 2e-4, "Generator learning rate.")
flags.DEFINE_float("lr_d", 2e-4, "Discriminator learning rate.")
flags.DEFINE_float("beta_1", 0.0, "Adam beta_1.")
flags.DEFINE_float("beta_2", 0.999, "Adam beta_2.")
flags.DEFINE_float("adam_epsilon", 1e-7, "Adam epsilon (Keras's default; StyleGAN2: 1e-8).")
flags.DEFINE_float("ema_decay", 0.999, "Generator EMA decay (0: off, unless --ema_kimg).")
flags.DEFINE_integer("ema_start", 0, "G updates during which the EMA copies G (BigGAN's "
                     "--ema_start; its DiffAugment scripts use 1000).")
flags.DEFINE_float("ema_kimg", None, "EMA half-life in thousands of generated images, "
                   "replacing --ema_decay (StyleGAN2-ADA).")
flags.DEFINE_float("ema_rampup", None, "With --ema_kimg: cap the half-life at this share of "
                   "the images generated so far (StyleGAN2-ADA; 0.05).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker", "tpu"],
                  "default: one device; mirrored: tf.distribute.MirroredStrategy on all GPUs; "
                  "multi_worker: MultiWorkerMirroredStrategy over the cluster of TF_CONFIG "
                  "(run the same command on every worker; see scripts/launch_local_cluster.py); "
                  "tpu: TPUStrategy on --tpu.")
flags.DEFINE_string("tpu", None, "With --strategy=tpu: the TPU's name or grpc:// address "
                    "(TPUClusterResolver's tpu; local on a TPU VM).")
flags.DEFINE_integer("join_timeout", 300, "With --strategy=multi_worker: seconds a worker waits "
                     "for the others to join before it fails.")
flags.DEFINE_enum("mixed_precision", "none", ["none", "mixed_float16", "mixed_bfloat16"],
                  "Keras mixed-precision policy.")
flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA.")
# Output
flags.DEFINE_string("out_dir", None, "Output folder (logs, samples, checkpoints, generator).")
flags.DEFINE_integer("checkpoint_every", 1000, "Checkpoint period in steps; the run also "
                     "ends with a checkpoint at --steps.")
flags.DEFINE_integer("sample_every", 1000, "Sample-grid period in steps, plus a grid at the last "
                     "step (0: never).")
flags.DEFINE_integer("eval_every", 0, "FID period in steps (0: no evaluation).")
flags.DEFINE_string("fid_reference", "train", "Real statistics FID compares to: train (the "
                    "whole training split or folder, also with --data_fraction), test (tfds's "
                    "test split, as the BigGAN and StyleGAN2 CIFAR references) or "
                    "folder:PATH.")
flags.DEFINE_enum("export", "best", ["best", "last"], "Which generator to export: best (the "
                  "checkpoint of the lowest FID, with --eval_every; else the last) or last.")
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

RESOLUTIONS = {"dcgan": (32, 64), "biggan": (32,), "stylegan2": (32, 64, 128, 256, 512, 1024)}
STYLEGAN2_FLAGS = ("channel_base", "channel_max", "mapping_layers", "mbstd_group_size",
                   "d_architecture", "num_fp16_res", "conv_clamp", "style_mixing")
# The flags that define the model and the data of a run: a resumed run must
# keep them (the manifest checks it). Learning rates, schedules, outputs and
# devices may change, e.g. to lower the learning rates after a divergence.
DEFINING_FLAGS = (
    "dataset", "data_fraction", "subset", "resolution", "flip", "batch_size", "d_steps", "seed",
    "arch", "width", "latent_dim", "conditional", "augment", "ada_preset", "dag",
    "mixed_precision", "channel_base", "channel_max", "mapping_layers", "mbstd_group_size",
    "d_architecture", "num_fp16_res", "conv_clamp",
)


def fail(message, status=2):
    """Stops with a one-line error and exit status 2 (1 for a failed run)."""
    print(f"train.py: error: {message}", file=sys.stderr, flush=True)
    sys.exit(status)


def parse_flags(argv):
    """absl's parser, with a parse error as one line and exit status 2."""
    try:
        return FLAGS(argv)
    except flags.Error as error:
        fail(str(error))


def check_flags():
    """Stops with a one-line error on any bad flag."""
    check_settings()
    check_components()


def check_settings():
    """Checks the flags that need no TensorFlow (a multi-worker strategy
    must be made before TensorFlow starts)."""
    if not 0 < FLAGS.data_fraction <= 1:
        fail(f"--data_fraction={FLAGS.data_fraction} is outside (0, 1]; use e.g. 0.1 for 10 %.")
    if FLAGS.resolution not in RESOLUTIONS[FLAGS.arch]:
        fail(f"--resolution={FLAGS.resolution}: --arch={FLAGS.arch} makes "
             f"{', '.join(map(str, RESOLUTIONS[FLAGS.arch]))} pixel images; pick one of those"
             f"{'' if FLAGS.arch == 'stylegan2' else ' or --arch=stylegan2 (32 to 1024)'}.")
    if FLAGS.arch == "stylegan2":
        if FLAGS["width"].present:
            fail("--width sets dcgan and biggan widths; StyleGAN2's are --channel_base and "
                 "--channel_max.")
    else:
        given = [f"--{name}" for name in STYLEGAN2_FLAGS if FLAGS[name].present]
        if given:
            fail(f"{', '.join(given)}: only --arch=stylegan2 takes "
                 f"{'these' if len(given) > 1 else 'it'}; got --arch={FLAGS.arch}.")
        if FLAGS.pl_weight:
            fail(f"--pl_weight={FLAGS.pl_weight}: path length regularization needs "
                 "--arch=stylegan2 (a generator with a mapping and a synthesis network).")
    if FLAGS.pl_weight and not FLAGS.pl_interval:
        fail(f"--pl_weight={FLAGS.pl_weight} needs --pl_interval >= 1: path length is a lazy "
             "regularizer (StyleGAN2: --pl_interval=4).")
    for name in ("batch_size", "steps", "checkpoint_every", "d_steps", "latent_dim"):
        if getattr(FLAGS, name) < 1:
            fail(f"--{name}={getattr(FLAGS, name)} must be at least 1.")
    for name in ("sample_every", "eval_every", "seed", "ema_start", "r1_interval", "pl_interval"):
        if getattr(FLAGS, name) < 0:
            fail(f"--{name}={getattr(FLAGS, name)} must be >= 0"
                 f"{' (0 turns it off)' if name.endswith('every') else ''}.")
    if FLAGS.strategy == "tpu" and not FLAGS.tpu:
        fail("--strategy=tpu needs --tpu=NAME, the TPU's name or grpc:// address (local on a "
             "TPU VM).")
    if FLAGS.tpu and FLAGS.strategy != "tpu":
        fail(f"--tpu={FLAGS.tpu} is only for --strategy=tpu; got --strategy={FLAGS.strategy}.")
    if FLAGS.join_timeout < 1:
        fail(f"--join_timeout={FLAGS.join_timeout} must be at least 1 (seconds).")
    if FLAGS.eval_every and FLAGS.classifier_path and not FLAGS.classifier_layer:
        fail("--classifier_path needs --classifier_layer=NAME, its feature layer.")
    if FLAGS.fid_reference not in ("train", "test") and not FLAGS.fid_reference.startswith("folder:"):
        fail(f"--fid_reference={FLAGS.fid_reference}: use train, test or folder:PATH.")
    if FLAGS.eval_every and FLAGS.fid_reference == "test" and FLAGS.dataset.startswith("folder:"):
        fail(f"--fid_reference=test: --dataset={FLAGS.dataset} is a folder, which has no test "
             "split; pass --fid_reference=folder:PATH of held-out images, or train.")
    if FLAGS.augment == "ada" and FLAGS.ada_p is not None and not 0 <= FLAGS.ada_p <= 1:
        fail(f"--ada_p={FLAGS.ada_p} is outside [0, 1].")
    for name, spec in (("dataset", FLAGS.dataset),
                       ("fid_reference", FLAGS.fid_reference if FLAGS.eval_every else "")):
        if spec.startswith("folder:") and not os.path.exists(spec[len("folder:"):]):
            fail(f"--{name}={spec}: no such folder or archive.")


def check_components():
    """Builds the augmentation, DAG and EMA schedule once: each checks its
    own arguments, so any bad value is reported before work starts."""
    try:
        augmentation()
    except ValueError as error:
        fail(f"--augment={FLAGS.augment}: {error}")
    try:
        dag()
    except ValueError as error:
        fail(f"--dag={','.join(FLAGS.dag)} --dag_weight={FLAGS.dag_weight}: {error}")
    try:
        from keras_dagan.models import EMASchedule

        EMASchedule(FLAGS.ema_decay, FLAGS.ema_start, FLAGS.ema_kimg, FLAGS.ema_rampup)
    except ValueError as error:
        fail(str(error).replace("ema_", "--ema_"))
    try:
        regularizers()
    except ValueError as error:
        fail(re.sub(r"\b(lecam_\w+|apa_\w+|cr_\w+)\b", r"--\1", str(error)))


def regularizer_flags():
    """The GAN's LeCam, APA and CR arguments from the flags. With --apa and
    --augment=ada's controller, APA shares ADA's p and controller unless
    --apa_separate_controller; a differing --apa_* setting then stops."""
    apa = dict(apa=FLAGS.apa, apa_separate_controller=FLAGS.apa_separate_controller)
    shared = (FLAGS.apa and FLAGS.augment == "ada" and FLAGS.ada_p is None
              and not FLAGS.apa_separate_controller)
    if shared:
        if FLAGS.apa_p is not None:
            fail(f"--apa_p={FLAGS.apa_p} fixes APA's p, but with --augment=ada APA shares ADA's "
                 "adaptive p; drop --apa_p or add --apa_separate_controller.")
        for name in ("target", "kimg", "interval"):
            mine, theirs = getattr(FLAGS, f"apa_{name}"), getattr(FLAGS, f"ada_{name}")
            if FLAGS[f"apa_{name}"].present and mine != theirs:
                fail(f"--apa_{name}={mine} differs from --ada_{name}={theirs}: APA shares ADA's p "
                     "and controller (DeceiveD's --with-dataaug); give the same value or add "
                     "--apa_separate_controller.")
        apa.update(apa_target=FLAGS.ada_target, apa_kimg=FLAGS.ada_kimg,
                   apa_interval=FLAGS.ada_interval, apa_p=0.0)
    else:
        fixed = FLAGS.apa_p is not None
        apa.update(apa_target=None if fixed else FLAGS.apa_target, apa_kimg=FLAGS.apa_kimg,
                   apa_interval=FLAGS.apa_interval, apa_p=FLAGS.apa_p if fixed else 0.0)
    cr_augment = None
    if FLAGS.cr_augment:
        from keras_dagan.regularizers import ConsistencyAugment

        try:
            cr_augment = ConsistencyAugment(FLAGS.cr_augment, seed=FLAGS.seed)
        except ValueError as error:
            raise ValueError(f"cr_augment={FLAGS.cr_augment}: {error}") from None
    return dict(lecam_weight=FLAGS.lecam_weight, lecam_ema_decay=FLAGS.lecam_ema_decay,
                lecam_start=FLAGS.lecam_start, cr_weight_real=FLAGS.cr_weight_real,
                cr_weight_fake=FLAGS.cr_weight_fake, cr_augment=cr_augment, **apa)


def regularizers():
    """Builds the flags' regularizers once, so that each checks its own
    arguments (ValueError) before work starts."""
    from keras_dagan.models.gan import AUGMENT_MODES
    from keras_dagan.regularizers import (AdaptivePseudoAugmentation,
                                          ConsistencyRegularization, LeCam)

    settings = regularizer_flags()
    LeCam(settings["lecam_weight"], settings["lecam_ema_decay"], settings["lecam_start"])
    if settings["apa"]:
        AdaptivePseudoAugmentation(settings["apa_target"], settings["apa_kimg"],
                                   settings["apa_interval"], settings["apa_p"])
    consistency = ConsistencyRegularization(settings["cr_weight_real"],
                                            settings["cr_weight_fake"], settings["cr_augment"])
    if consistency.enabled:
        consistency.check_partner(augmentation(), AUGMENT_MODES[FLAGS.augment_mode])


def run_flags():
    """The script's own flags, name to value, for the manifest."""
    return {flag.name: flag.value for flag in FLAGS.get_key_flags_for_module(sys.argv[0])}


def strategy():
    """The --strategy's `tf.distribute.Strategy`; a cluster or TPU that
    cannot be set up stops the run with its reason."""
    import tensorflow as tf

    from keras_dagan.cluster import ClusterError, multi_worker_strategy, tpu_strategy

    try:
        if FLAGS.strategy == "multi_worker":
            return multi_worker_strategy(FLAGS.join_timeout)
        if FLAGS.strategy == "tpu":
            return tpu_strategy(FLAGS.tpu)
    except ClusterError as error:
        fail(f"--strategy={FLAGS.strategy}: {error}", status=1)
    if FLAGS.strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def load_training_data(initial_step):
    from keras_dagan.data import load_dataset

    dataset, _ = load_dataset(
        FLAGS.dataset, split="train", data_dir=FLAGS.data_dir, batch_size=FLAGS.batch_size,
        d_steps=FLAGS.d_steps, initial_step=initial_step, conditional=FLAGS.conditional,
        flip=FLAGS.flip, seed=FLAGS.seed, fraction=FLAGS.data_fraction, subset=FLAGS.subset,
        image_size=(FLAGS.resolution, FLAGS.resolution))
    return dataset


def number_of_classes():
    """None when unconditional, else the dataset's class count (ValueError
    if it has fewer than 2 classes)."""
    from keras_dagan.data import class_names

    if not FLAGS.conditional:
        return None
    names = class_names(FLAGS.dataset, FLAGS.data_dir)
    if len(names) < 2:
        raise ValueError(f"--conditional needs labels of at least 2 classes; the data has "
                         f"{len(names)}. Put the images in class subfolders or drop "
                         "--conditional.")
    return len(names)


def augmentation():
    from keras_dagan import augment

    if FLAGS.augment == "diffaugment":
        return augment.DiffAugment(FLAGS.policy, seed=FLAGS.seed)
    if FLAGS.augment == "ada":
        return adaptive_augment()
    return None


def adaptive_augment():
    from keras_dagan.augment import AdaptiveAugment

    fixed = FLAGS.ada_p is not None
    return AdaptiveAugment(FLAGS.ada_preset, p=FLAGS.ada_p if fixed else 0.0,
                           target=None if fixed else FLAGS.ada_target,
                           speed_kimg=FLAGS.ada_kimg, interval=FLAGS.ada_interval,
                           antialias=FLAGS.ada_antialias, seed=FLAGS.seed)


def dag():
    from keras_dagan.models import DAG

    return DAG(FLAGS.dag, weight=FLAGS.dag_weight) if FLAGS.dag else None


def build_gan(num_classes):
    from keras_dagan import GAN, models

    width = {} if FLAGS.width is None else {"width": FLAGS.width}
    if FLAGS.arch == "stylegan2":
        generator, discriminator = stylegan2_networks(num_classes)
    elif FLAGS.arch == "dcgan":
        generator = models.dcgan_generator(FLAGS.latent_dim, FLAGS.resolution, num_classes=num_classes, **width)
        discriminator = models.dcgan_discriminator(FLAGS.resolution, num_classes=num_classes, **width)
    else:
        generator = models.resnet_generator(FLAGS.latent_dim, FLAGS.resolution, num_classes=num_classes, **width)
        discriminator = models.resnet_discriminator(FLAGS.resolution, num_classes=num_classes, **width)
    heads = dag()
    if heads is not None:
        discriminator = models.dag_discriminator(discriminator, heads.num_heads)
    gan = GAN(generator, discriminator, FLAGS.latent_dim, augment=augmentation(),
              augment_mode=FLAGS.augment_mode, loss=FLAGS.loss, d_steps=FLAGS.d_steps,
              r1_gamma=FLAGS.r1_gamma, r1_through_augment=FLAGS.r1_through_augment,
              ema_decay=FLAGS.ema_decay, ema_start=FLAGS.ema_start, ema_kimg=FLAGS.ema_kimg,
              ema_rampup=FLAGS.ema_rampup, num_classes=num_classes, seed=FLAGS.seed, dag=heads,
              r1_interval=FLAGS.r1_interval or None, pl_weight=FLAGS.pl_weight,
              zero_nonfinite_gradients=FLAGS.zero_nonfinite_gradients,
              **({"pl_interval": FLAGS.pl_interval} if FLAGS.pl_interval else {}),
              **regularizer_flags())
    gan.compile(d_optimizer=adam("d"), g_optimizer=adam("g"), jit_compile=FLAGS.jit_compile)
    return gan


def lazy_interval(network):
    """The lazy regularization interval of "d" or "g", or None."""
    return (FLAGS.r1_interval if network == "d" else FLAGS.pl_interval) or None


def adam(network):
    """Adam for "d" or "g" with the flags' settings, corrected for its lazy
    regularization interval as StyleGAN2 does (`lazy_adam`)."""
    from keras_dagan.models.regularization import lazy_adam

    return lazy_adam(FLAGS.lr_d if network == "d" else FLAGS.lr_g, beta_1=FLAGS.beta_1,
                     beta_2=FLAGS.beta_2, epsilon=FLAGS.adam_epsilon,
                     interval=lazy_interval(network))


def stylegan2_networks(num_classes):
    from keras_dagan import models

    shared = dict(resolution=FLAGS.resolution, channel_base=FLAGS.channel_base,
                  channel_max=FLAGS.channel_max, num_classes=num_classes,
                  num_fp16_res=FLAGS.num_fp16_res, conv_clamp=FLAGS.conv_clamp)
    generator = models.stylegan2_generator(
        latent_dim=FLAGS.latent_dim, w_dim=FLAGS.latent_dim, mapping_layers=FLAGS.mapping_layers,
        style_mixing=FLAGS.style_mixing, seed=FLAGS.seed, **shared)
    discriminator = models.stylegan2_discriminator(
        architecture=FLAGS.d_architecture, mbstd_group_size=FLAGS.mbstd_group_size, **shared)
    return generator, discriminator


def fid_callback(chief):
    """The FID callback; on a cluster's other workers without the real
    statistics, which only the chief, who evaluates, needs."""
    from keras_dagan import metrics

    extractor = metrics.make_extractor(FLAGS.extractor, FLAGS.inception_path, FLAGS.classifier_path,
                                       FLAGS.classifier_layer, FLAGS.classifier_logits_layer)
    # The whole split, also when training on a fraction of it: the
    # references score against all of it (BigGAN-CIFAR and
    # DiffAugment-StyleGAN2's CIFAR runs against the 10k test images).
    reference = FLAGS.fid_reference
    dataset, split = (reference, "train") if reference.startswith("folder:") else (FLAGS.dataset, reference)
    statistics = None
    if chief:
        statistics = metrics.dataset_statistics(
            extractor, dataset, split=split, data_dir=FLAGS.data_dir,
            image_size=(FLAGS.resolution, FLAGS.resolution), cache_dir=FLAGS.cache_dir)
    return metrics.FIDCallback(statistics, extractor, FLAGS.eval_every,
                               num_samples=FLAGS.num_eval_samples, batch_size=250,
                               verbose=FLAGS.verbose > 0)


def warn(line):
    print(f"train.py: warning: {line}", file=sys.stderr, flush=True)


def main(argv):
    del argv
    check_settings()
    logging.set_verbosity(logging.WARNING)
    import keras

    from keras_dagan.cluster import output_dir

    # Before anything starts TensorFlow: a multi-worker strategy must
    # configure it first.
    devices = strategy()
    if FLAGS.jit_compile:
        from keras_dagan.models.distributed_fit import check_xla_support

        try:
            check_xla_support(devices)
        except ValueError as error:
            fail(f"--jit_compile with --strategy={FLAGS.strategy}: {error} Drop --jit_compile, "
                 "or train on GPUs.")
    check_components()
    keras.utils.set_random_seed(FLAGS.seed)
    if FLAGS.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(FLAGS.mixed_precision)
    out_dir = os.path.abspath(FLAGS.out_dir)
    # On a cluster every worker trains and makes the same calls, but only
    # the chief's files are kept: the others write to temporary folders.
    with output_dir(out_dir, devices) as written:
        train(devices, out_dir, written)


def train(devices, out_dir, written):
    """Trains under `devices`, resuming from the checkpoints of `out_dir`
    and writing the run's files (checkpoints included) to `written`."""
    import keras
    import tensorflow as tf

    from keras_dagan.checkpoint import (BestCheckpoint, CheckpointError, TrainingCheckpoint,
                                        restore_best, restore_latest, saved_steps)
    from keras_dagan.cluster import is_chief
    from keras_dagan.data import subset_members
    from keras_dagan.divergence import StopOnDivergence, is_finite_state
    from keras_dagan.export import export_generator
    from keras_dagan.manifest import check_manifest, write_manifest
    from keras_dagan.models.distributed_fit import fit_distributed
    from keras_dagan.models.regularization import mb_ratio
    from keras_dagan.periodic import StopAtStep
    from keras_dagan.samples import SampleGrid

    checkpoints = os.path.join(written, "checkpoints")
    settings = run_flags()
    replicas = devices.num_replicas_in_sync
    if FLAGS.batch_size % replicas:
        fail(f"--batch_size={FLAGS.batch_size} does not split evenly over {replicas} replicas; "
             f"make it a multiple of {replicas}.")
    try:
        members = subset_members(FLAGS.dataset, "train", FLAGS.data_dir, FLAGS.data_fraction,
                                 FLAGS.subset)
        num_classes = number_of_classes()
    except (ValueError, RuntimeError) as error:
        fail(f"--dataset={FLAGS.dataset}: {error}")
    try:
        check_manifest(out_dir, settings, DEFINING_FLAGS, members)
        with devices.scope():
            gan = build_gan(num_classes)
        # Every worker resumes from the chief's checkpoints.
        step = restore_latest(gan, os.path.join(out_dir, "checkpoints"), warn=warn)
        # Checkpoints hold the optimizers' learning rates; a resumed run
        # trains with the ones it is given.
        gan.d_optimizer.learning_rate = FLAGS.lr_d * mb_ratio(lazy_interval("d"))
        gan.g_optimizer.learning_rate = FLAGS.lr_g * mb_ratio(lazy_interval("g"))
        # The input order is a function of --seed and the position, so the
        # data resumes where the checkpoint left it without replaying it.
        dataset = load_training_data(initial_step=step)
    except (ValueError, CheckpointError) as error:
        fail(str(error))
    write_manifest(written, settings, seed=FLAGS.seed, data_members=members)
    if step:
        print(f"Resumed from step {step}", flush=True)

    interval = FLAGS.checkpoint_every
    divergence = StopOnDivergence()
    callbacks = [StopAtStep(FLAGS.steps), divergence, TrainingCheckpoint(checkpoints, interval)]
    logs = os.path.join(written, "logs")
    chief = is_chief(devices)
    # Grids are only looked at, so only the chief, whose files are kept,
    # draws them.
    if FLAGS.sample_every and chief:
        callbacks.append(SampleGrid(os.path.join(written, "samples"), FLAGS.sample_every,
                                    log_dir=os.path.join(logs, "samples"), seed=FLAGS.seed))
    fid = best = None
    if FLAGS.eval_every:
        try:
            fid = fid_callback(chief)
        except (FileNotFoundError, ValueError, RuntimeError) as error:
            fail(str(error))
        best = BestCheckpoint(checkpoints)
        callbacks += [fid, best]
    # Last, so that the FID and best FID reach the logs it writes. Keras's
    # TensorBoard records only on multiples of update_freq, epoch summaries
    # included, and our epochs end every --checkpoint_every steps.
    callbacks.append(keras.callbacks.TensorBoard(logs, update_freq=math.gcd(100, interval)))

    if step < FLAGS.steps:
        # Keras's fit fails under MultiWorkerMirroredStrategy; fit_distributed
        # is the same loop on TensorFlow's own distribution calls.
        schedule = dict(steps_per_epoch=interval, epochs=-(-FLAGS.steps // interval),
                        initial_epoch=step // interval, callbacks=callbacks, verbose=FLAGS.verbose)
        if FLAGS.strategy in ("multi_worker", "tpu"):
            try:
                fit_distributed(gan, dataset, **schedule)
            except (tf.errors.UnavailableError, tf.errors.AbortedError) as error:
                kept = saved_steps(os.path.join(out_dir, "checkpoints"))[-1:]
                # TensorFlow's message starts with "Graph execution error:"
                # and a traceback; the kind of error says what happened.
                fail(f"--strategy={FLAGS.strategy}: lost contact with another worker "
                     f"({type(error).__name__}). Relaunch every worker to resume from "
                     f"{f'step {kept[0]}' if kept else 'the start'}.", status=1)
        else:
            gan.fit(dataset, **schedule)
    if divergence.diverged is not None:
        kept = saved_steps(checkpoints)[-1:]
        fail(f"{divergence.diverged}; stopped without saving or exporting it. "
             f"{f'The last good checkpoint is step {kept[0]}' if kept else 'No checkpoint was kept'}"
             f" in {checkpoints}; lower the learning rates to continue.", status=1)

    summary = {"steps": FLAGS.steps, "resumed_from": step}
    exported = "last"
    if FLAGS.export == "best":
        try:
            found = restore_best(gan, checkpoints)
        except CheckpointError as error:
            fail(f"--export=best: {error} Export the last state with --export=last.")
        if found is not None:
            exported = f"best (step {found[0]})"
            summary.update(best_step=found[0], best_fid=round(found[1], 4))
    if not is_finite_state(gan):
        fail("the weights are not finite; not exporting them.", status=1)
    export_generator(gan, os.path.join(written, "generator"))
    summary.update(generator=os.path.join(out_dir, "generator"), exported=exported)
    if fid is not None:
        summary["fid"] = {entry["step"]: round(entry["fid"], 4) for entry in fid.history}
    print(json.dumps(summary))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
