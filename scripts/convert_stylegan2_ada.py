"""Converts NVlabs/stylegan2-ada-pytorch networks to keras_dagan's StyleGAN2 (.keras files).

    # A state_dict of one network (torch alone reads it):
    python scripts/convert_stylegan2_ada.py --input=G_ema.pt --output=G_ema.keras
    # A network pickle (needs the reference repository on PYTHONPATH):
    PYTHONPATH=/path/to/stylegan2-ada-pytorch python scripts/convert_stylegan2_ada.py \\
        --input=metfaces.pkl --output=converted/          # G.keras, D.keras, G_ema.keras
    python scripts/convert_stylegan2_ada.py --input=metfaces.pkl --output=G_ema.keras \\
        --network=G_ema --export=generator/               # and a SavedModel of G_ema

`--output` ending in .keras receives one network: the state_dict's, or the
pickle's `--network` (G_ema if not given). Any other `--output` is a folder that receives
<name>.keras for each network (G or D for a state_dict). Every file appears
whole or not at all. `--export` also writes the generator as a SavedModel
that TensorFlow alone reads (keras_dagan.export_generator; scripts/sample.py
samples it). Load the .keras files with
`keras.models.load_model(path)` after `import keras_dagan`.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("input", None, "The reference state_dict (.pt) or network pickle (.pkl).")
flags.DEFINE_string("output", None,
                    "A .keras file (one network) or a folder (one .keras per network).")
flags.DEFINE_enum("network", None, ["G", "D", "G_ema"],
                  "The one network to convert from a pickle (or check a state_dict is).")
flags.DEFINE_string("mbstd_group_size", "auto",
                    "Discriminator minibatch-stddev group size: a number, or 'auto' (the "
                    "pickle's; 4 for a state_dict).")
flags.DEFINE_string("num_fp16_res", "auto",
                    "Number of highest resolutions in float16: a number, or 'auto' (the "
                    "pickle's; 0 for a state_dict).")
flags.DEFINE_string("conv_clamp", "auto",
                    "Clamp of the convolution outputs: a number, 'none', or 'auto' (the "
                    "pickle's; 256 for a state_dict).")
flags.DEFINE_string("export", None, "Also write the generator (G_ema of a pickle unless "
                    "--network names a generator) as a SavedModel in this folder.")
flags.mark_flag_as_required("input")
flags.mark_flag_as_required("output")
FLAGS = flags.FLAGS


def fail(message):
    print(f"convert_stylegan2_ada.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def number(flag, value, kind):
    if value == "auto":
        return value
    if flag == "conv_clamp" and value.lower() == "none":
        return None
    try:
        parsed = kind(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed < 0:
        extra = ", 'none'" if flag == "conv_clamp" else ""
        fail(f"--{flag}={value}: expected a non-negative number{extra} or 'auto'.")
    return parsed


class _Exportable:
    """What keras_dagan.export_generator reads of a GAN, for a bare generator."""

    def __init__(self, generator):
        self.generator = self.ema_generator = generator
        self.latent_dim = generator.latent_dim
        self.num_classes = generator.num_classes


def main(argv):
    del argv
    overrides = dict(
        mbstd_group_size=number("mbstd_group_size", FLAGS.mbstd_group_size, int),
        num_fp16_res=number("num_fp16_res", FLAGS.num_fp16_res, int),
        conv_clamp=number("conv_clamp", FLAGS.conv_clamp, float),
    )
    single = FLAGS.output.endswith(".keras")
    if not os.path.isfile(FLAGS.input):
        fail(f"--input={FLAGS.input}: no such file.")
    if not single and os.path.isfile(FLAGS.output):
        fail(f"--output={FLAGS.output}: a file that is not .keras; give a .keras file or a folder.")

    from keras_dagan.models.stylegan2_convert import load_stylegan2_ada

    try:
        loaded = load_stylegan2_ada(FLAGS.input, FLAGS.network, **overrides)
    except (ValueError, ImportError, OSError) as error:
        fail(str(error))
    if isinstance(loaded, dict):
        models = loaded
        if single:
            if "G_ema" not in models:
                fail(f"--output={FLAGS.output} takes one network and {FLAGS.input} holds "
                     f"{', '.join(models)}: pass --network or an output folder.")
            models = {"G_ema": models["G_ema"]}
    else:
        kind = "D" if type(loaded).__name__.endswith("Discriminator") else "G"
        models = {FLAGS.network or kind: loaded}

    generator = None
    if FLAGS.export:
        generators = [name for name in ("G_ema", "G") if name in models]
        if not generators:
            fail(f"--export={FLAGS.export}: {FLAGS.input} converts to a discriminator only.")
        generator = models[generators[0]]

    import numpy as np

    from keras_dagan.files import atomic_path

    written = []
    for name, model in models.items():
        path = FLAGS.output if single else os.path.join(FLAGS.output, f"{name}.keras")
        with atomic_path(path) as partial:
            model.save(partial)
        trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
        written.append(f"{name} ({type(model).__name__}, {trainable:,} trainable parameters) "
                       f"-> {path}")
    if generator is not None:
        from keras_dagan.export import export_generator

        export_generator(_Exportable(generator), FLAGS.export)
        written.append(f"generator SavedModel -> {FLAGS.export}")
    print("\n".join(written))


if __name__ == "__main__":
    app.run(main)
