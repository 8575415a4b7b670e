"""Speed of DiffAugment and of the ADA pipeline, forward + backward.

DiffAugment("color,translation,cutout") is compared, in one run and on the
same inputs, with:
  - keras_dagan: `keras_dagan.augment.DiffAugment`;
  - gather/scatter: a straightforward TensorFlow port of the reference
    implementation (tf.gather_nd over a full index grid for translation,
    tf.scatter_nd for the cutout mask, three separate colour passes);
  - stock Keras: the nearest chain of stock Keras layers (RandomBrightness,
    RandomSaturation, RandomContrast, RandomTranslation, RandomErasing),
    which clip values and use ImageProjectiveTransform.

AdaptiveAugment("bgc") at p = 1 (every transform fires), forward + backward,
forward only, and forward only with antialias=False, is compared with the
stock Keras chain of the keras.io `gan_ada` example: RandomFlip,
RandomTranslation, RandomRotation, RandomZoom (four resamplings) and
RandomColorJitter.

Both run in graph mode (`tf.function`) and under XLA (`jit_compile=True`);
the script prints milliseconds per step and ratios, and a "best" row with
each candidate in its faster mode (the stock layers do not compile under
XLA). Our layers are called as a user calls them, `layer(x, training=True)`:
in a graph-mode step they compile their own `transform_images` with XLA.

The "graph" table measures that self-compiling path at 64x32x32x3 against
the original DiffAugment_tf.py functions (mit-han-lab/data-efficient-gans),
imported from the path given with --reference_diffaugment (not shipped with
this project), and AdaptiveAugment("bgc") at p = 1 in a plain `tf.function`
against its time under XLA: every candidate in both modes, interleaved in
each round.

Run: python benchmarks/augment_speed.py
     [--reference_diffaugment=path/to/DiffAugment_tf.py] [--tables=graph]
"""

import argparse
import importlib.util
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_dagan.augment import AdaptiveAugment, DiffAugment  # noqa: E402


def gather_scatter_diffaugment(x, translation_ratio=0.125, cutout_ratio=0.5):
    """The reference DiffAugment, ported op for op to TensorFlow."""
    batch, height, width, _ = x.shape
    rand = lambda: tf.random.uniform([batch, 1, 1, 1])  # noqa: E731
    x = x + (rand() - 0.5)
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    x = (x - mean) * (rand() * 2) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = (x - mean) * (rand() + 0.5) + mean

    shift_h, shift_w = int(height * translation_ratio + 0.5), int(width * translation_ratio + 0.5)
    dy = tf.random.uniform([batch, 1, 1], -shift_h, shift_h + 1, dtype=tf.int32)
    dx = tf.random.uniform([batch, 1, 1], -shift_w, shift_w + 1, dtype=tf.int32)
    grid_b, grid_y, grid_x = tf.meshgrid(
        tf.range(batch), tf.range(height), tf.range(width), indexing="ij"
    )
    grid_y = tf.clip_by_value(grid_y + dy + 1, 0, height + 1)
    grid_x = tf.clip_by_value(grid_x + dx + 1, 0, width + 1)
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    x = tf.gather_nd(padded, tf.stack([grid_b, grid_y, grid_x], axis=-1))

    cut_h, cut_w = int(height * cutout_ratio + 0.5), int(width * cutout_ratio + 0.5)
    oy = tf.random.uniform([batch, 1, 1], 0, height + (1 - cut_h % 2), dtype=tf.int32)
    ox = tf.random.uniform([batch, 1, 1], 0, width + (1 - cut_w % 2), dtype=tf.int32)
    grid_b, grid_y, grid_x = tf.meshgrid(
        tf.range(batch), tf.range(cut_h), tf.range(cut_w), indexing="ij"
    )
    grid_y = tf.clip_by_value(grid_y + oy - cut_h // 2, 0, height - 1)
    grid_x = tf.clip_by_value(grid_x + ox - cut_w // 2, 0, width - 1)
    mask = 1.0 - tf.scatter_nd(
        tf.stack([grid_b, grid_y, grid_x], axis=-1),
        tf.ones([batch, cut_h, cut_w]),
        [batch, height, width],
    )
    return x * mask[..., None]


def stock_keras_chain():
    layers = [
        keras.layers.RandomBrightness(0.5, value_range=(-1, 1)),
        keras.layers.RandomSaturation(0.5, value_range=(-1, 1)),
        keras.layers.RandomContrast(0.5, value_range=(-1, 1)),
        keras.layers.RandomTranslation(0.125, 0.125, fill_mode="constant"),
        keras.layers.RandomErasing(factor=1.0, scale=(0.25, 0.25), value_range=(-1, 1)),
    ]

    def augment(x):
        for layer in layers:
            x = layer(x, training=True)
        return x

    return augment


def stock_ada_chain():
    """The keras.io `gan_ada` example's augmenter, with a colour jitter in
    place of ADA's colour transforms (images in [-1, 1])."""
    layers = [
        keras.layers.RandomFlip("horizontal"),
        keras.layers.RandomTranslation(0.125, 0.125, interpolation="nearest"),
        keras.layers.RandomRotation(0.125),
        keras.layers.RandomZoom((-0.25, 0.0), (-0.25, 0.0)),
        keras.layers.RandomColorJitter(
            value_range=(-1, 1), brightness_factor=0.2, contrast_factor=0.5,
            saturation_factor=(0.25, 0.75), hue_factor=0.5,
        ),
    ]

    def augment(x):
        for layer in layers:
            x = layer(x, training=True)
        return x

    return augment


def forward_backward(augment, jit_compile, notes):
    """A compiled step returning d sum(augment(x)^2)/dx, or only the forward
    pass (noted in `notes`) where the augmentation has no input gradient."""

    @tf.function(jit_compile=jit_compile)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = augment(x)
            loss = tf.reduce_sum(y * y)
        gradient = tape.gradient(loss, x)
        if gradient is None:
            notes.add("no gradient with respect to the images: forward pass only")
            return y
        return gradient

    return step


def time_steps(step, x, iterations):
    step(x).numpy()  # trace and compile
    step(x).numpy()
    start = time.perf_counter()
    for _ in range(iterations):
        result = step(x)
    result.numpy()
    return (time.perf_counter() - start) / iterations * 1000


def compare(title, candidates, shapes, rounds):
    """Prints one table: each candidate's median ms per step in graph mode,
    under XLA and in its faster mode, and every other candidate's time over
    the first's."""
    names = list(candidates)
    ratio_names = [n.split()[0].split("/")[0] + "/ours" for n in names[1:]]
    print(f"\n{title}")
    print(f"{'shape':<18}{'mode':<7}" + "".join(f"{n:>22}" for n in names)
          + "".join(f"{n:>{max(18, len(n) + 2)}}" for n in ratio_names))
    for shape, iterations in shapes:
        x = tf.random.uniform(shape, -1, 1)
        fastest = {}
        for mode, jit in [("graph", False), ("XLA", True)]:
            steps, notes = {}, {name: set() for name in candidates}
            for name, fn in candidates.items():
                try:
                    step = forward_backward(fn, jit, notes[name])
                    step(x).numpy()
                    steps[name] = step
                except Exception as error:  # report, e.g. no XLA kernel
                    first_line = (str(error).strip().splitlines() or [""])[0]
                    steps[name] = f"{type(error).__name__}: {first_line[:160]}"
            times = {name: [] for name in candidates}
            for _ in range(rounds):
                for name, step in steps.items():
                    if callable(step):
                        times[name].append(time_steps(step, x, iterations))
            median = {n: float(np.median(t)) if t else None for n, t in times.items()}
            for name, value in median.items():
                if value is not None and value < fastest.get(name, (np.inf,))[0]:
                    fastest[name] = (value, mode)
            print_row(shape, mode, names, ratio_names, median)
            for name, step in steps.items():
                for note in sorted(notes[name]) + ([] if callable(step) else [step]):
                    print(f"    {name} under {mode}: {note}")
        # Each candidate in its faster mode: the stock layers only run in
        # graph mode, ours under XLA, as a GAN runs them.
        print_row(shape, "best", names, ratio_names,
                  {n: fastest[n][0] if n in fastest else None for n in names})
        print("    best modes: " + ", ".join(f"{n} {m}" for n, (_, m) in fastest.items()))


def load_reference_diffaugment(path):
    """The `DiffAugment` function of the original DiffAugment_tf.py at `path`."""
    spec = importlib.util.spec_from_file_location("reference_diffaugment", path)
    if spec is None or not os.path.isfile(path):
        raise SystemExit(f"--reference_diffaugment: no Python file at {path!r}.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DiffAugment


def compare_modes(title, candidates, shape, iterations, rounds):
    """Times every candidate in graph mode and under XLA, all interleaved in
    each round; returns {(name, mode): median ms} and prints them."""
    x = tf.random.uniform(shape, -1, 1)
    steps = {}
    for name, fn in candidates.items():
        for mode, jit in [("graph", False), ("XLA", True)]:
            steps[name, mode] = forward_backward(fn, jit, set())
            steps[name, mode](x).numpy()
    times = {key: [] for key in steps}
    for _ in range(rounds):
        for key, step in steps.items():
            times[key].append(time_steps(step, x, iterations))
    median = {key: float(np.median(t)) for key, t in times.items()}
    print(f"\n{title}, {shape}")
    print(f"{'candidate':<48}{'graph':>10}{'XLA':>10}{'graph/XLA':>12}")
    for name in candidates:
        graph, xla = median[name, "graph"], median[name, "XLA"]
        print(f"{name:<48}{graph:>10.2f}{xla:>10.2f}{graph / xla:>11.2f}x")
    return median


def graph_mode_table(reference_path, rounds):
    """The graph-mode rows: our layers called in a plain `tf.function`
    against the reference functions there, and against their own XLA time."""
    shape, iterations = (64, 32, 32, 3), 30
    policy = "color,translation,cutout"
    diffaugment = DiffAugment(policy)
    ada = AdaptiveAugment("bgc", p=1.0)
    layer_name = f'DiffAugment("{policy}") layer'
    ada_name = 'AdaptiveAugment("bgc"), p = 1'
    reference_name = "DiffAugment_tf.py reference"
    candidates = {
        layer_name: lambda x: diffaugment(x, training=True),
        "gather/scatter port": gather_scatter_diffaugment,
        ada_name: lambda x: ada(x, training=True),
    }
    if reference_path:
        reference = load_reference_diffaugment(reference_path)
        candidates[reference_name] = lambda x: reference(x, policy=policy)
    median = compare_modes("Graph mode and XLA, forward + backward, ms per step",
                           candidates, shape, iterations, rounds)
    print("Targets:")
    if reference_path:
        for mode, target in [("graph", 1.5), ("XLA", 1.0)]:
            ratio = median[reference_name, mode] / median[layer_name, mode]
            print(f"  DiffAugment layer vs reference, {mode}: {ratio:.2f}x faster "
                  f"(target >= {target}x: {'met' if ratio >= target else 'NOT met'})")
    else:
        print("  (give --reference_diffaugment for the rows against the reference)")
    ratio = median[ada_name, "graph"] / median[ada_name, "XLA"]
    print(f"  AdaptiveAugment graph / XLA: {ratio:.2f}x "
          f"(target <= 1.3x: {'met' if ratio <= 1.3 else 'NOT met'})")


def print_row(shape, mode, names, ratio_names, median):
    """One table row: ms per step and each candidate's time over the first's."""
    ours = names[0]
    cells = "".join(
        f"{median[n]:>22.2f}" if median[n] is not None else f"{'fails':>22}" for n in names
    )

    def ratio(name):
        if median[name] is None or median[ours] is None:
            return "n/a"
        return f"{median[name] / median[ours]:.2f}x"

    print(f"{str(shape):<18}{mode:<7}{cells}" + "".join(
        f"{ratio(n):>{max(18, len(r) + 2)}}" for n, r in zip(names[1:], ratio_names)))


def diffaugment_table(shapes, rounds):
    """DiffAugment against the port and the stock Keras chain."""
    diffaugment = DiffAugment("color,translation,cutout")
    compare(
        'DiffAugment("color,translation,cutout")',
        {
            "keras_dagan": lambda x: diffaugment(x, training=True),
            "gather/scatter": gather_scatter_diffaugment,
            "stock Keras": stock_keras_chain(),
        },
        shapes, rounds,
    )


def ada_table(shapes, rounds):
    """ADA "bgc" at p = 1 against the keras.io gan_ada example's layers."""
    ada = AdaptiveAugment("bgc", p=1.0)
    unfiltered = AdaptiveAugment("bgc", p=1.0, antialias=False)
    compare(
        'ADA "bgc" at p = 1',
        {
            # Forward only, like for like with the stock layers, which have
            # no gradient: the ratio columns compare forward passes.
            "keras_dagan forward": lambda x: tf.stop_gradient(ada(x, training=True)),
            # The stock layers do not anti-alias either.
            "no-antialias forward": lambda x: tf.stop_gradient(unfiltered(x, training=True)),
            "stock Keras": stock_ada_chain(),
            "forward+backward": lambda x: ada(x, training=True),
        },
        shapes, rounds,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved timing rounds; the median is reported")
    parser.add_argument("--reference_diffaugment", default=None,
                        help="path to the original DiffAugment_tf.py, for the "
                             "graph table's rows against the reference")
    parser.add_argument("--tables", default="graph,diffaugment,ada",
                        help="comma-separated tables to run: graph, diffaugment, ada")
    args = parser.parse_args()
    tables = {name.strip() for name in args.tables.split(",")}
    unknown = tables - {"graph", "diffaugment", "ada"}
    if unknown:
        parser.error(f"unknown --tables {sorted(unknown)}; valid: graph, diffaugment, ada")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{os.cpu_count()} CPU cores; forward+backward ms per step (median of "
          f"{args.rounds} interleaved rounds)")
    if "graph" in tables:
        graph_mode_table(args.reference_diffaugment, args.rounds)
    shapes = [((64, 32, 32, 3), 30), ((16, 256, 256, 3), 5)]
    if "diffaugment" in tables:
        diffaugment_table(shapes, args.rounds)
    if "ada" in tables:
        ada_table(shapes, args.rounds)


if __name__ == "__main__":
    main()
