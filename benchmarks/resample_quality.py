"""Accuracy and speed of ADA's geometric resampling, against the reference's.

ADA runs all of its geometric transforms as one resampling. The reference
(stylegan2-ada) anti-aliases it by filtering: it upsamples the image 2x
with the sym6 wavelet lowpass, samples bilinearly on a 2x output grid, and
lowpasses and decimates that grid back, with the same filter. The scheme is
measured with sym6 and with the symmetric CDF 9/7 pair, each with its
samples placed at the filter's centre of mass (its best alignment). keras_dagan
instead band-limits each image in its cosine transform to the frequencies
its map can represent (`keras_dagan.augment.band_limit`), then upsamples 2x
(Lanczos-3) and samples bilinearly once per output pixel
(`keras_dagan.augment.affine_resample`).

Accuracy: the test images are random cosine series (exactly band-limited,
reflect-symmetric like the padding both methods use), with a 1/f or a white
spectrum. For such an image the ideal output of an affine map is known in
closed form: every plane wave moves to its new frequency, and the waves
whose new frequency lies beyond the Nyquist limit are removed (they are
what a resampler aliases). The table gives the RMS error against that ideal,
relative to the image RMS, over ADA's "bg" transforms at p = 1, overall and
split by whether the map shrinks the image along some direction.

Speed: forward, and forward + backward, of each resampler under XLA
(`jit_compile=True`, as the GAN runs augmentation), in one run.

Run: python benchmarks/resample_quality.py [--draws 96] [--size 32]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_dagan.augment import AdaptiveAugment, affine_resample  # noqa: E402
from keras_dagan.augment.resample import (  # noqa: E402
    _sample_bilinear,
    reflect_coordinates,
)

class FilterPair:
    """A lowpass pair for 2x up- and downsampling: `up` sums to 2 (the gain
    of zero insertion), `down` to 1.

    A filtered sample effectively lies at the filter's centre of mass,
    which for a filter that is not symmetric is not its middle tap: samples
    are placed there, the scheme's best alignment.
    """

    def __init__(self, name, up, down):
        self.name = name
        self.up, self.down = np.asarray(up, "float64"), np.asarray(down, "float64")
        self.up_centre = float(np.sum(np.arange(len(up)) * self.up) / np.sum(self.up))
        self.down_centre = float(np.sum(np.arange(len(down)) * self.down))
        self.up_offset = int(np.floor(self.up_centre))

    def upsampling(self, size):
        """(2 * size, size): sample j = sum_i up[j + offset - 2i] x[i], at
        input position (j + offset - up_centre) / 2; borders reflected."""
        matrix = np.zeros((2 * size, size))
        for j in range(2 * size):
            for i in range(-len(self.up), size + len(self.up)):
                tap = j + self.up_offset - 2 * i
                if 0 <= tap < len(self.up):
                    matrix[j, reflect_coordinates(i, size)] += self.up[tap]
        return matrix.astype("float32")

    def grid(self, size):
        """Output positions of the 2x grid s that the downsampling reads."""
        return (np.arange(2 * size + len(self.down) - 2) - self.down_centre) / 2

    def downsampling(self, size):
        """(size, len(grid)): output pixel i = sum_t down[t] s[2i + t]."""
        matrix = np.zeros((size, len(self.grid(size))))
        for i in range(size):
            matrix[i, 2 * i : 2 * i + len(self.down)] = self.down
        return matrix.astype("float32")


# The reference's filter: the Daubechies symlet of order 6 (PyWavelets'
# "sym6" decomposition lowpass), used for both directions. It is not
# symmetric: its centre of mass is tap 5.10, not 5.5.
_SYM6 = np.array([
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057,
    -0.048311742585633, 0.4910559419267466, 0.787641141030194,
    0.3379294217276218, -0.07263752278646252, -0.021060292512300564,
    0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
])
SYM6 = FilterPair("sym6", 2 * _SYM6 / _SYM6.sum(), _SYM6 / _SYM6.sum())
# The symmetric CDF 9/7 pair (JPEG 2000's lossy wavelet; ITU-T T.800): the
# same scheme with linear-phase filters.
CDF97 = FilterPair(
    "CDF 9/7",
    up=[-0.091271763114250, -0.057543526228500, 0.591271763114250,
        1.115087052457000, 0.591271763114250, -0.057543526228500,
        -0.091271763114250],
    down=[0.026748757410810, -0.016864118442875, -0.078223266528990,
          0.266864118442875, 0.602949018236360, 0.266864118442875,
          -0.078223266528990, -0.016864118442875, 0.026748757410810],
)


def reference_resample(images, inverse_matrices, filters):
    """The reference's scheme (2x up, bilinear on a 2x output grid, 2x
    down), channels_last, square images.

    Like the reference, the input is padded by reflection (by size - 1, the
    reference's largest margin) before upsampling: with a filter that is
    not symmetric, the upsampled image of a reflected input is not itself
    reflected. Only positions beyond that padding are folded.
    """
    _, size, _, _ = images.shape
    margin = size - 1
    padded_size = size + 2 * margin
    padding = reflect_coordinates(np.arange(-margin, size + margin), size)
    padded = ops.take(ops.take(images, padding, axis=1), padding, axis=2)
    upsampling = filters.upsampling(padded_size)
    upsampled = ops.einsum("jh,nhwc->njwc", upsampling, padded)
    upsampled = ops.einsum("jw,nhwc->nhjc", upsampling, upsampled)

    positions = (filters.grid(size) - (size - 1) / 2).astype("float32")
    y, x = positions[None, :, None], positions[None, None, :]
    m = ops.cast(inverse_matrices, "float32")

    def upsampled_index(row):
        source = (m[:, row, 0, None, None] * x + m[:, row, 1, None, None] * y
                  + m[:, row, 2, None, None])
        padded_position = reflect_coordinates(source + (size - 1) / 2 + margin, padded_size)
        return 2 * padded_position + filters.up_centre - filters.up_offset

    samples = _sample_bilinear(upsampled, upsampled_index(1), upsampled_index(0))
    downsampling = filters.downsampling(size)
    outputs = ops.einsum("ih,nhwc->niwc", downsampling, samples)
    return ops.einsum("iw,nhwc->nhic", downsampling, outputs)


def cosine_images(rng, count, size, exponent):
    """Random cosine series: image[y, x] = sum a_kl cos(u_k x) cos(v_l y),
    u_k = pi k / (size - 1), amplitudes ~ N(0, 1) / (1 + |(k, l)|)^exponent."""
    k = np.arange(size)
    amplitudes = rng.normal(size=(count, size, size))
    amplitudes /= (1.0 + np.hypot(k[:, None], k[None, :])) ** exponent
    basis = np.cos(np.pi * np.outer(k, k) / (size - 1))  # [frequency, pixel]
    images = np.einsum("nlk,ly,kx->nyx", amplitudes, basis, basis)
    return amplitudes, images


def ideal_resample(amplitudes, matrices, size):
    """The band-limited result of each map, in closed form."""
    centre = (size - 1) / 2
    ys, xs = np.meshgrid(np.arange(size) - centre, np.arange(size) - centre, indexing="ij")
    u = np.pi * np.arange(size) / (size - 1)
    outputs = np.zeros((len(matrices), size, size))
    for n, matrix in enumerate(matrices):
        (a, b, tx), (c, d, ty) = matrix[0], matrix[1]
        source_x = a * xs + b * ys + tx + centre
        source_y = c * xs + d * ys + ty + centre
        for sign in (1, -1):
            # cos(u x) cos(v y) = [cos(u x + v y) + cos(u x - v y)] / 2.
            wave_u, wave_v = u[None, :], sign * u[:, None]  # [l (y), k (x)]
            out_x = a * wave_u + c * wave_v
            out_y = b * wave_u + d * wave_v
            kept = (np.abs(out_x) <= np.pi + 1e-9) & (np.abs(out_y) <= np.pi + 1e-9)
            weights = amplitudes[n] * kept / 2
            phase = (wave_u[..., None, None] * source_x + wave_v[..., None, None] * source_y)
            outputs[n] += np.einsum("lk,lkyx->yx", weights, np.cos(phase))
    return outputs


def accuracy(args, methods):
    rng = np.random.default_rng(0)
    layer = AdaptiveAugment("bg", p=1.0, seed=0)
    probe = np.zeros((args.draws, args.size, args.size, 1), "float32")
    transformation = layer.get_random_transformation(probe, seed=3)
    matrices = ops.convert_to_numpy(transformation["geometric"]["matrix"]).astype("float64")
    # The inverse map stretches some direction: the image shrinks along it.
    shrinks = np.linalg.svd(matrices[:, :2, :2], compute_uv=False)[:, 0] > 1 + 1e-6
    print(f"Accuracy: {args.draws} draws of ADA 'bg' at p = 1, {args.size}x{args.size}; "
          f"{shrinks.mean():.0%} shrink the image along some direction.")
    print("RMS error against ideal band-limited resampling, relative to the image RMS")
    print(f"{'spectrum':<10}{'method':<48}{'all':>8}{'shrinking':>11}{'other':>8}")
    for exponent, spectrum in [(1.0, "1/f"), (0.0, "white")]:
        amplitudes, images = cosine_images(rng, args.draws, args.size, exponent)
        ideal = ideal_resample(amplitudes, matrices, args.size)
        scale = images.std()
        batch = images[..., None].astype("float32")
        for name, resample in methods.items():
            out = ops.convert_to_numpy(resample(batch, matrices.astype("float32")))[..., 0]

            def error(selection):
                return np.sqrt(np.mean((out[selection] - ideal[selection]) ** 2)) / scale

            print(f"{spectrum:<10}{name:<48}{error(slice(None)):>8.4f}"
                  f"{error(shrinks):>11.4f}{error(~shrinks):>8.4f}")


def speed(args, methods):
    shape = (args.batch, args.size, args.size, 3)
    images = tf.random.uniform(shape)
    layer = AdaptiveAugment("bg", p=1.0, seed=0)
    matrices = layer.get_random_transformation(images, seed=1)["geometric"]["matrix"]

    def steps(resample):
        forward = tf.function(lambda x: resample(x, matrices), jit_compile=True)

        @tf.function(jit_compile=True)
        def forward_backward(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(tf.square(resample(x, matrices)))
            return tape.gradient(loss, x)

        return {"forward": forward, "forward + backward": forward_backward}

    timed = {name: steps(resample) for name, resample in methods.items()}
    results = {name: {kind: [] for kind in kinds} for name, kinds in timed.items()}
    for name, kinds in timed.items():
        for step in kinds.values():
            step(images)
    for _ in range(args.rounds):
        for name, kinds in timed.items():
            for kind, step in kinds.items():
                start = time.perf_counter()
                for _ in range(args.iterations):
                    result = step(images)
                result.numpy()
                elapsed = (time.perf_counter() - start) / args.iterations * 1000
                results[name][kind].append(elapsed)
    first = next(iter(results))
    print(f"\nSpeed under XLA, {shape}, ms (median of {args.rounds} interleaved rounds) "
          f"and ratio to '{first}'")
    print(f"{'method':<48}{'forward':>10}{'ratio':>8}{'fwd+bwd':>10}{'ratio':>8}")
    for name, kinds in results.items():
        medians = [np.median(kinds[kind]) for kind in ("forward", "forward + backward")]
        base = [np.median(results[first][kind]) for kind in ("forward", "forward + backward")]
        print(f"{name:<48}{medians[0]:>10.2f}{medians[0] / base[0]:>7.2f}x"
              f"{medians[1]:>10.2f}{medians[1] / base[1]:>7.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=96)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores\n")
    methods = {
        "keras_dagan (band limit, 2x Lanczos, bilinear)": affine_resample,
        "keras_dagan, antialias=False": lambda x, m: affine_resample(x, m, antialias=False),
        "reference scheme, sym6 (the reference's)": lambda x, m: reference_resample(x, m, SYM6),
        "reference scheme, CDF 9/7 (symmetric)": lambda x, m: reference_resample(x, m, CDF97),
    }
    accuracy(args, methods)
    speed(args, methods)


if __name__ == "__main__":
    main()
