"""ADA (Karras et al., NeurIPS 2020): the adaptive discriminator augmentation
pipeline and the controller that adapts its strength p.

Every transform of the pipeline fires independently per sample with
probability p * multiplier. The blit and geometric transforms compose into
one 3x3 matrix per sample, executed as one resampling
(`keras_dagan.augment.resample`); the colour transforms compose into one 4x4
matrix per sample, applied as one matmul; then come the image-space filter,
additive noise and cutout.
"""

import numbers

import keras
import numpy as np
from keras import ops

from keras_dagan.augment.base import BaseAugmentation, derive_seed, scaled_size
from keras_dagan.augment.cutout import cut_out
from keras_dagan.augment.resample import (
    _working_dtype,
    affine_resample,
    reflect_coordinates,
)

BLIT_TRANSFORMS = ("xflip", "rotate90", "xint")
GEOMETRIC_TRANSFORMS = ("scale", "rotate", "aniso", "xfrac")
COLOR_TRANSFORMS = ("brightness", "contrast", "lumaflip", "hue", "saturation")
TRANSFORM_NAMES = (
    BLIT_TRANSFORMS + GEOMETRIC_TRANSFORMS + COLOR_TRANSFORMS
    + ("imgfilter", "noise", "cutout")
)
PRESETS = {
    "bg": BLIT_TRANSFORMS + GEOMETRIC_TRANSFORMS,
    "bgc": BLIT_TRANSFORMS + GEOMETRIC_TRANSFORMS + COLOR_TRANSFORMS,
    "bgcf": BLIT_TRANSFORMS + GEOMETRIC_TRANSFORMS + COLOR_TRANSFORMS + ("imgfilter",),
    "bgcfn": BLIT_TRANSFORMS + GEOMETRIC_TRANSFORMS + COLOR_TRANSFORMS
    + ("imgfilter", "noise"),
    "bgcfnc": TRANSFORM_NAMES,
}

# Transform strengths of the paper (Appendix B), for images in [-1, 1].
XINT_MAX = 0.125  # integer translation, fraction of the image size
SCALE_STD = 0.2  # log2 std of isotropic scaling
ANISO_STD = 0.2  # log2 std of anisotropic scaling
XFRAC_STD = 0.125  # fractional translation, fraction of the image size
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5  # log2 std
SATURATION_STD = 1.0  # log2 std
IMGFILTER_STD = 1.0  # log2 std of each band's gain
NOISE_STD = 0.1
CUTOUT_SIZE = 0.5  # side of the cutout square, fraction of the image size

# Expected power of natural images in each filter band (a 1/f spectrum):
# the band gains are normalised so that the image's power is kept.
BAND_POWER = np.array([10.0, 1.0, 1.0, 1.0]) / 13.0
# The luma axis of RGB space, homogeneous.
_LUMA = np.array([1.0, 1.0, 1.0, 0.0]) / np.sqrt(3.0)


def _band_filters():
    """The four 1D filters that split an image into octave bands.

    Built from the Daubechies-2 (sym2) wavelet: its halfband lowpass and
    highpass (autocorrelations, so zero phase) are cascaded at three scales.
    Band 0 holds frequencies below 1/16 of the sampling rate, band 3 those
    above 1/4. The four filters sum to a unit impulse, so unit gains give
    back the image.
    """
    root3 = np.sqrt(3.0)
    lowpass = np.array([1 + root3, 3 + root3, 3 - root3, 1 - root3]) / (4 * np.sqrt(2.0))
    highpass = lowpass * (-1.0) ** np.arange(4)
    low = np.convolve(lowpass, lowpass[::-1]) / 2
    high = np.convolve(highpass, highpass[::-1]) / 2
    bank = np.eye(4, 1)
    for band in range(1, 4):
        stretched = np.zeros((4, 2 * bank.shape[1] - 1))
        stretched[:, ::2] = bank
        bank = np.stack([np.convolve(row, low) for row in stretched])
        centre = bank.shape[1] // 2
        bank[band, centre - len(high) // 2 : centre + len(high) // 2 + 1] += high
    return bank


BAND_FILTERS = _band_filters()


def band_filter_matrices(size):
    """(4, size, size) matrices applying each band filter along one axis of
    `size` pixels, the image reflected about its edge pixels."""
    radius = BAND_FILTERS.shape[1] // 2
    matrices = np.zeros((4, size, size))
    for output in range(size):
        sources = reflect_coordinates(np.arange(output - radius, output + radius + 1), size)
        for tap, source in enumerate(sources):
            matrices[:, output, source] += BAND_FILTERS[:, tap]
    return matrices


def _validate_multiplier(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(
            f"The probability multiplier of {name!r} must be a number >= 0 "
            f"(0 disables it, 1 is the reference); got {value!r}."
        )


def resolve_multipliers(preset, multipliers):
    """The probability multiplier of every enabled transform.

    Args:
        preset: One of `PRESETS` ("bg", "bgc", "bgcf", "bgcfn", "bgcfnc"),
            each of whose transforms gets multiplier 1, or None for none.
        multipliers: None or a dict {name: multiplier} that overrides or
            adds transforms; 0 disables one.

    Returns:
        A dict {name: multiplier} of the transforms with multiplier > 0, in
        pipeline order.

    Raises:
        ValueError: for an unknown preset or transform name, a bad
            multiplier, or nothing enabled.

    Example:

    ```python
    resolve_multipliers("bg", {"rotate": 0, "brightness": 0.5})
    # {"xflip": 1.0, "rotate90": 1.0, "xint": 1.0, "scale": 1.0,
    #  "aniso": 1.0, "xfrac": 1.0, "brightness": 0.5}
    ```
    """
    if preset is not None and preset not in PRESETS:
        raise ValueError(
            f"Unknown ADA preset {preset!r}; valid presets are "
            f"{', '.join(PRESETS)}, or None with `multipliers` naming the "
            "transforms to enable."
        )
    if multipliers is not None and not isinstance(multipliers, dict):
        raise ValueError(
            "multipliers must be a dict such as {'xflip': 1, 'rotate': 0}; got "
            f"{multipliers!r}."
        )
    multipliers = dict(multipliers or {})
    unknown = [name for name in multipliers if name not in TRANSFORM_NAMES]
    if unknown:
        raise ValueError(
            f"Unknown ADA transform name(s) {unknown} in multipliers; valid "
            f"names are {', '.join(TRANSFORM_NAMES)}."
        )
    for name, value in multipliers.items():
        _validate_multiplier(name, value)
    resolved = {name: 1.0 for name in PRESETS.get(preset, ())}
    resolved.update({name: float(value) for name, value in multipliers.items()})
    enabled = {name: resolved[name] for name in TRANSFORM_NAMES if resolved.get(name, 0) > 0}
    if not enabled:
        raise ValueError(
            f"preset={preset!r} with multipliers={multipliers!r} enables no "
            "transform; pick a preset or give some transform a multiplier > 0."
        )
    return enabled


def _matrix(rows):
    """Stacks rows of (N,) tensors and Python numbers into (N, R, C)."""
    reference = next(e for row in rows for e in row if not isinstance(e, numbers.Number))
    filled = [
        [ops.full_like(reference, e) if isinstance(e, numbers.Number) else e for e in row]
        for row in rows
    ]
    return ops.stack([ops.stack(row, axis=-1) for row in filled], axis=-2)


def _translate2d(tx, ty):
    return _matrix([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def _scale2d(sx, sy):
    return _matrix([[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]])


def _rotate2d(cos, sin):
    return _matrix([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])


def _luma_rotation(theta):
    """Rotation of homogeneous RGB space by `theta` about the luma axis."""
    v = _LUMA[:3]
    cos, sin = ops.cos(theta), ops.sin(theta)
    rows = []
    for i in range(3):
        row = []
        for j in range(3):
            # Rodrigues' formula: v v^T (1 - cos) + I cos + [v]_x sin.
            cross = {(0, 1): -v[2], (0, 2): v[1], (1, 0): v[2], (1, 2): -v[0],
                     (2, 0): -v[1], (2, 1): v[0]}.get((i, j), 0.0)
            row.append(v[i] * v[j] * (1 - cos) + (cos if i == j else 0.0) + cross * sin)
        rows.append(row + [0.0])
    return _matrix(rows + [[0.0, 0.0, 0.0, 1.0]])


def _constant(array, like):
    return ops.broadcast_to(
        ops.convert_to_tensor(np.asarray(array, "float32")),
        (ops.shape(like)[0],) + np.shape(array),
    )


def _sum_over_replicas(*values):
    """Sums `values` over the replicas when called in a `tf.distribute`
    replica context with several replicas; returns them unchanged anywhere
    else (other backends, one replica, the cross-replica context)."""
    if keras.backend.backend() != "tensorflow":
        return values
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return values
    return tuple(context.all_reduce("SUM", list(values)))



def validate_controller(p, target, speed_kimg, interval, prefix=""):
    """Raises a ValueError naming the argument (with `prefix`, e.g. "apa_")
    when the settings of ADA's overfitting controller are invalid: `p` in
    [0, 1], `target` in [0, 1] or None (p fixed), `speed_kimg` > 0 and
    `interval` a positive integer.

    Args:
        p: Initial probability.
        target: Target of r_t = E[sign(D(real))], or None.
        speed_kimg: Thousands of images over which p can move by 1.
        interval: Controller calls between two adjustments of p.
        prefix: Prefix of the argument names in the messages.

    Example:

    ```python
    validate_controller(0.0, 0.6, 500, 4, prefix="apa_")
    ```
    """
    for name, value, valid, rule in [
        ("p", p, lambda v: 0 <= v <= 1, "in [0, 1]"),
        ("speed_kimg" if not prefix else "kimg", speed_kimg, lambda v: v > 0,
         "> 0 (500 in the paper)"),
    ]:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not valid(value):
            raise ValueError(f"{prefix}{name} must be a number {rule}; got {value!r}.")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, numbers.Real)
        or not 0 <= target <= 1
    ):
        raise ValueError(
            f"{prefix}target must be a number in [0, 1] (0.6 in the paper), or None "
            f"to keep p fixed; got {target!r}."
        )
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ValueError(
            f"{prefix}interval must be a positive integer (4 in the paper); got {interval!r}."
        )


def update_controller(state, sign_sum, count, target, speed_kimg, interval):
    """One call of ADA's overfitting controller on its state variables.

    Adds `sign_sum` and `count` to the accumulators; on every
    `interval`-th call, with r_t = accumulated signs / accumulated images,
    sets p <- clip(p + sign(r_t - target) * images / (speed_kimg * 1000),
    0, 1) and resets the accumulators. `AdaptiveAugment` (ADA's p) and
    `keras_dagan.regularizers.AdaptivePseudoAugmentation` (APA's p, which
    EndlessSora/DeceiveD adapts with the same heuristic) both run it.
    Graph- and XLA-safe: no Python branching on values.

    Args:
        state: The float32 scalar variables (p, accumulated signs,
            accumulated images, accumulated calls).
        sign_sum: Scalar, the sum of sign(D(real)) over the batch.
        count: Scalar, the number of real images in the batch.
        target: Target of r_t, a float in [0, 1].
        speed_kimg: Thousands of images over which p can move by 1.
        interval: Calls between two adjustments of p.

    Returns:
        The new p, a float32 scalar tensor.

    Example:

    ```python
    state = (p, signs, images, calls)  # four float32 scalar variables
    update_controller(state, ops.sum(ops.sign(logits)), 64, 0.6, 500, 4)
    ```
    """
    p_variable, signs_variable, images_variable, steps_variable = state
    # Tensors, not the variables: JAX's where cannot take a variable.
    p = ops.convert_to_tensor(p_variable)
    signs = ops.convert_to_tensor(signs_variable) + ops.cast(sign_sum, "float32")
    images = ops.convert_to_tensor(images_variable) + ops.cast(count, "float32")
    steps = ops.convert_to_tensor(steps_variable) + 1.0
    due = steps >= interval
    r_t = signs / ops.maximum(images, 1.0)
    adjustment = ops.sign(r_t - target) * images / (speed_kimg * 1000.0)
    p_variable.assign(ops.where(due, ops.clip(p + adjustment, 0.0, 1.0), p))
    signs_variable.assign(ops.where(due, 0.0, signs))
    images_variable.assign(ops.where(due, 0.0, images))
    steps_variable.assign(ops.where(due, 0.0, steps))
    return ops.convert_to_tensor(p_variable)


class _Draws:
    """Hands out one independent (N,) draw per call, so the pipeline's draws
    are all distinct even with one integer seed."""

    def __init__(self, layer, images, seed):
        self.layer = layer
        self.images = images
        self.seed = seed
        self.count = 0

    def _next_seed(self):
        self.count += 1
        if self.seed is None or isinstance(self.seed, keras.random.SeedGenerator):
            return self.seed
        return derive_seed(self.seed, self.count)

    def uniform(self):
        return self.layer.draw_uniform(self.images, 1, self._next_seed())[0]

    def normal(self, sample_shape=()):
        return self.layer.draw_normal(self.images, 1, self._next_seed(), sample_shape)[0]


@keras.saving.register_keras_serializable(package="keras_dagan")
class AdaptiveAugment(BaseAugmentation):
    """ADA's augmentation pipeline with an adaptive probability p.

    Per sample, each enabled transform fires with probability
    p * multiplier, with the paper's strengths (for images in [-1, 1]):

    Strengths are those for images in [-1, 1]; with another `value_range`
    the layer acts exactly as on the images mapped to [-1, 1] and back
    (brightness and noise scale with the range; contrast, lumaflip, hue and
    saturation pivot on its middle; cutout fills with it).

    | transform | what it does when it fires |
    | --- | --- |
    | xflip | mirror left-right with probability 1/2 |
    | rotate90 | rotate by k * 90 degrees, k uniform in 0..3 |
    | xint | translate by whole pixels, up to 1/8 of the size per axis |
    | scale | scale isotropically by 2^N(0, 0.2) |
    | rotate | rotate by U(-180, 180) degrees; see below |
    | aniso | scale x by s and y by 1/s, s = 2^N(0, 0.2) |
    | xfrac | translate by N(0, 1/8) of the size per axis |
    | brightness | add N(0, 0.2) |
    | contrast | multiply by 2^N(0, 0.5) |
    | lumaflip | reflect the colour about the plane orthogonal to the luma axis, with probability 1/2 |
    | hue | rotate the colour about the luma axis by U(-180, 180) degrees |
    | saturation | scale the colour's distance from the luma axis by 2^N(0, 1) |
    | imgfilter | amplify each of 4 octave bands (each on its own gate) by 2^N(0, 1), keeping the expected power |
    | noise | add Gaussian noise of std abs(N(0, 1)) * 0.1 |
    | cutout | zero a square of half the image size, centre uniform |

    Rotation is a pre- and a post-rotation around the anisotropic scaling,
    each firing with probability 1 - sqrt(1 - p), so P(any rotation) = p.
    The blit and geometric transforms compose into one matrix per sample
    and run as one resampling (each image band-limited to what its map can
    represent, so shrinking and turning do not alias; then 2x Lanczos-3
    upsampling and bilinear sampling; borders reflected: see
    `keras_dagan.augment.resample`); the colour transforms compose into one
    4x4 matrix per sample. Single-channel images skip hue and saturation;
    colour transforms need 1 or 3 channels. Samples no transform of a stage
    fired on pass through that stage untouched, so p = 0 returns the input
    bitwise.

    p is the layer's non-trainable variable `p`, saved with its weights.
    With `target` set, `update(real_logits)` (or `update_probability` with
    the sums, or `stateless_update` in a JAX train step) implements ADA's
    controller:
    every `interval` calls it compares r_t = E[sign(D(real))] over those
    calls with `target` and moves p by the number of images seen divided by
    `speed_kimg * 1000`, up or down; unlike the reference, p is kept in
    [0, 1]. The accumulated statistics are variables too, so a resumed run
    continues where it stopped.

    Args:
        preset: Which transforms to enable: "bg" (blit, geometric), "bgc"
            (+ colour, the default and the paper's choice), "bgcf" (+ image
            filter), "bgcfn" (+ noise), "bgcfnc" (+ cutout), or None to
            enable only those in `multipliers`.
        p: Initial augmentation probability in [0, 1].
        target: Target value of r_t in [0, 1] (0.6 in the paper), or None
            to keep p fixed.
        speed_kimg: Thousands of images over which p can move by 1 (500 in
            the paper).
        interval: Number of controller calls (`update`,
            `update_probability` or `stateless_update`) between adjustments
            of p (4 in the paper).
        multipliers: Optional dict {transform name: probability multiplier}
            overriding the preset: 0 disables a transform, other values
            scale its probability.
        antialias: Whether the geometric resampling removes the frequencies
            each sample's map would alias (the reference does, by 2x
            supersampling). Turning it off is faster, and lets shrinking
            and rotated samples alias.
        value_range: (low, high) range of the pixel values; defaults to
            (-1, 1), the GAN convention (and the reference's). Use (0, 1)
            for images in [0, 1].
        seed: Integer seed for reproducible draws, or None.
        data_format: "channels_last" or "channels_first"; defaults to
            `keras.config.image_data_format()`.
        jit_compile: On TensorFlow, compile the transformation with XLA
            when called outside XLA (see `BaseAugmentation`); False opts out.
        **kwargs: Base layer arguments such as `name`.

    Example:

    ```python
    augment = AdaptiveAugment("bgc", p=0.0, target=0.6)
    # In each training step:
    real_logits = discriminator(augment(real_images, training=True))
    augment.update(real_logits)
    ```
    """

    def __init__(
        self,
        preset="bgc",
        p=0.0,
        target=0.6,
        speed_kimg=500,
        interval=4,
        multipliers=None,
        antialias=True,
        value_range=(-1, 1),
        seed=None,
        data_format=None,
        jit_compile=True,
        **kwargs,
    ):
        self.multipliers = resolve_multipliers(preset, multipliers)
        validate_controller(p, target, speed_kimg, interval)
        if not isinstance(antialias, bool):
            raise ValueError(
                "antialias must be True (band-limit each sample before "
                f"resampling) or False (skip it, faster); got {antialias!r}."
            )
        super().__init__(value_range=value_range, seed=seed, data_format=data_format,
                         jit_compile=jit_compile, **kwargs)
        self.preset = preset
        self.initial_p = float(p)
        self.target = None if target is None else float(target)
        self.speed_kimg = float(speed_kimg)
        self.interval = interval
        self.antialias = antialias
        self._multipliers_config = None if multipliers is None else dict(multipliers)

        def state(name, value):
            # only_first_replica: the controller may run in a replica context
            # too; every replica computes the same update from global sums.
            return self.add_weight(
                shape=(), initializer=keras.initializers.Constant(value),
                dtype="float32", trainable=False, aggregation="only_first_replica",
                name=name,
            )

        self.p = state("p", self.initial_p)
        self.accumulated_signs = state("accumulated_signs", 0.0)
        self.accumulated_images = state("accumulated_images", 0.0)
        self.accumulated_steps = state("accumulated_steps", 0.0)

    def _enabled(self, names):
        return any(name in self.multipliers for name in names)

    def _gate(self, draws, p, name):
        """(N,) bool: whether transform `name` fires on each sample."""
        return draws.uniform() < p * self.multipliers[name]

    # -- drawing ----------------------------------------------------------

    def get_random_transformation(self, images, training=True, seed=None):
        images = ops.convert_to_tensor(images)
        height, width = self.image_size(images)
        channels = images.shape[self.channel_axis]
        draws = _Draws(self, images, seed)
        p = ops.cast(ops.convert_to_tensor(self.p), "float32")
        transformation = {}
        if self._enabled(BLIT_TRANSFORMS + GEOMETRIC_TRANSFORMS):
            transformation["geometric"] = self._draw_geometric(draws, p, height, width)
        # Hue and saturation act only on colour: grey images skip them.
        color_transforms = COLOR_TRANSFORMS if channels > 1 else COLOR_TRANSFORMS[:3]
        if self._enabled(color_transforms):
            if channels not in (1, 3):
                raise ValueError(
                    f"AdaptiveAugment's colour transforms need 1 or 3 channels; "
                    f"got {channels} (shape {tuple(images.shape)}, data_format "
                    f"{self.data_format!r}). Disable them with preset='bg' or "
                    "multipliers, or check data_format."
                )
            transformation["color"] = self._draw_color(draws, p, channels)
        if "imgfilter" in self.multipliers:
            transformation["filter"] = self._draw_filter(draws, p)
        if "noise" in self.multipliers:
            sample_shape = tuple(images.shape[1:])
            sigma = ops.abs(draws.normal()) * NOISE_STD
            applied = self._gate(draws, p, "noise")
            field = draws.normal(sample_shape) * ops.reshape(sigma, (-1, 1, 1, 1))
            transformation["noise"] = {"field": field, "applied": applied}
        if "cutout" in self.multipliers:
            transformation["cutout"] = self._draw_cutout(draws, p, height, width)
        return transformation

    def _draw_geometric(self, draws, p, height, width):
        """The inverse matrix (output pixel -> input pixel) of each sample,
        composed in the reference's order."""
        matrix = _constant(np.eye(3), draws.images)
        gates = []

        def compose(factor):
            nonlocal matrix
            matrix = ops.matmul(matrix, factor)

        def gated(name, value, identity, probability=None):
            if probability is None:
                probability = p * self.multipliers[name]
            gate = draws.uniform() < probability
            gates.append(gate)
            return ops.where(gate, value, identity)

        if "xflip" in self.multipliers:
            flip = gated("xflip", ops.floor(draws.uniform() * 2), 0.0)
            compose(_scale2d(1 - 2 * flip, 1.0))
        if "rotate90" in self.multipliers:
            quarter_turns = gated("rotate90", ops.floor(draws.uniform() * 4), 0.0)
            quarter_turns = ops.cast(quarter_turns, "int32")
            # Exact cosines and sines: the turn must land on whole pixels.
            cos = ops.take(ops.convert_to_tensor(np.float32([1, 0, -1, 0])), quarter_turns)
            sin = ops.take(ops.convert_to_tensor(np.float32([0, 1, 0, -1])), quarter_turns)
            compose(_rotate2d(cos, sin))
        if "xint" in self.multipliers:
            tx, ty = ((draws.uniform() * 2 - 1) * XINT_MAX for _ in range(2))
            gate = self._gate(draws, p, "xint")
            gates.append(gate)
            tx = ops.where(gate, ops.round(tx * width), 0.0)
            ty = ops.where(gate, ops.round(ty * height), 0.0)
            compose(_translate2d(-tx, -ty))
        if "scale" in self.multipliers:
            s = gated("scale", 2.0 ** (draws.normal() * SCALE_STD), 1.0)
            compose(_scale2d(1 / s, 1 / s))
        # Pre- and post-rotation each fire with p_rot: P(either) = p * mult.
        if "rotate" in self.multipliers:
            p_rot = 1 - ops.sqrt(ops.clip(1 - p * self.multipliers["rotate"], 0, 1))

            def rotation():
                theta = gated("rotate", (draws.uniform() * 2 - 1) * np.pi, 0.0, p_rot)
                return _rotate2d(ops.cos(theta), ops.sin(theta))

            compose(rotation())
        if "aniso" in self.multipliers:
            s = gated("aniso", 2.0 ** (draws.normal() * ANISO_STD), 1.0)
            compose(_scale2d(1 / s, s))
        if "rotate" in self.multipliers:
            compose(rotation())
        if "xfrac" in self.multipliers:
            tx, ty = (draws.normal() * XFRAC_STD for _ in range(2))
            gate = self._gate(draws, p, "xfrac")
            gates.append(gate)
            compose(_translate2d(-ops.where(gate, tx, 0.0) * width,
                                 -ops.where(gate, ty, 0.0) * height))
        applied = gates[0]
        for gate in gates[1:]:
            applied = ops.logical_or(applied, gate)
        return {"matrix": matrix, "applied": applied}

    def _draw_color(self, draws, p, channels):
        """The colour matrix (input RGB1 -> output RGB1) of each sample."""
        matrix = _constant(np.eye(4), draws.images)
        gates = []
        luma = _constant(np.outer(_LUMA, _LUMA), draws.images)
        identity = _constant(np.eye(4), draws.images)

        def compose(factor):
            nonlocal matrix
            matrix = ops.matmul(factor, matrix)

        def gated(name, value, neutral):
            gate = self._gate(draws, p, name)
            gates.append(gate)
            return ops.where(gate, value, neutral)

        if "brightness" in self.multipliers:
            b = gated("brightness", draws.normal() * BRIGHTNESS_STD, 0.0)
            compose(_matrix([[1.0, 0.0, 0.0, b], [0.0, 1.0, 0.0, b],
                             [0.0, 0.0, 1.0, b], [0.0, 0.0, 0.0, 1.0]]))
        if "contrast" in self.multipliers:
            c = gated("contrast", 2.0 ** (draws.normal() * CONTRAST_STD), 1.0)
            compose(_matrix([[c, 0.0, 0.0, 0.0], [0.0, c, 0.0, 0.0],
                             [0.0, 0.0, c, 0.0], [0.0, 0.0, 0.0, 1.0]]))
        if "lumaflip" in self.multipliers:
            flip = gated("lumaflip", ops.floor(draws.uniform() * 2), 0.0)
            # Householder reflection about the plane orthogonal to luma.
            compose(identity - 2 * luma * flip[:, None, None])
        if channels > 1 and "hue" in self.multipliers:
            theta = gated("hue", (draws.uniform() * 2 - 1) * np.pi, 0.0)
            compose(_luma_rotation(theta))
        if channels > 1 and "saturation" in self.multipliers:
            s = gated("saturation", 2.0 ** (draws.normal() * SATURATION_STD), 1.0)
            compose(luma + (identity - luma) * s[:, None, None])
        applied = gates[0]
        for gate in gates[1:]:
            applied = ops.logical_or(applied, gate)
        return {"matrix": matrix, "applied": applied}

    def _draw_filter(self, draws, p):
        """Per-sample gains of the four bands, normalised as the reference."""
        gains, gates = [], []
        for _ in range(len(BAND_POWER)):
            gate = self._gate(draws, p, "imgfilter")
            gates.append(gate)
            gains.append(ops.where(gate, 2.0 ** (draws.normal() * IMGFILTER_STD), 1.0))
        gains = ops.stack(gains, axis=-1)
        power = ops.convert_to_tensor(BAND_POWER.astype("float32"))
        # Each band's amplification alone keeps the expected power at 1.
        norms = ops.sqrt(1 - power + power * gains**2)
        gains = gains / ops.prod(norms, axis=-1, keepdims=True)
        applied = ops.any(ops.stack(gates, axis=-1), axis=-1)
        return {"gains": gains, "applied": applied}

    def _draw_cutout(self, draws, p, height, width):
        u_height, u_width = draws.uniform(), draws.uniform()
        applied = self._gate(draws, p, "cutout")
        box_height, box_width = self._cutout_box(height, width)

        def centre(u, size, box):
            # The box of the reference, |(i + 0.5) / size - u| < box / 2 /
            # size, expressed as cut_out's integer centre.
            return ops.cast(ops.floor(u * size + 0.5 * (1 - box % 2)), "int32")

        return {
            "center_height": centre(u_height, height, box_height),
            "center_width": centre(u_width, width, box_width),
            "applied": applied,
        }

    @staticmethod
    def _cutout_box(height, width):
        return scaled_size(height, CUTOUT_SIZE), scaled_size(width, CUTOUT_SIZE)

    # -- applying -----------------------------------------------------------

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        images = ops.convert_to_tensor(images)
        dtype = images.dtype
        # Half-precision images run through the pipeline in float32 and are
        # rounded once at the end: the image filter's contractions sum a
        # whole row or column, which half precision cannot accumulate (TF's
        # CPU einsum keeps a bfloat16 accumulator), and the colour matrix
        # mixes channels of larger magnitude than its result. Unselected
        # samples survive the round trip bitwise.
        images = ops.cast(images, _working_dtype(dtype))

        def select(stage, transformed):
            applied = ops.reshape(transformation[stage]["applied"], (-1, 1, 1, 1))
            return ops.where(applied, transformed, images)

        if "geometric" in transformation:
            images = select("geometric", self._about_mid_value(
                lambda x: affine_resample(
                    x, transformation["geometric"]["matrix"], self.data_format,
                    antialias=self.antialias),
                images))
        if "color" in transformation:
            images = select("color", self._apply_color(images, transformation["color"]["matrix"]))
        if "filter" in transformation:
            images = select("filter", self._about_mid_value(
                lambda x: self._apply_filter(x, transformation["filter"]["gains"]), images))
        if "noise" in transformation:
            noise = ops.cast(transformation["noise"]["field"], images.dtype)
            if self.half_range != 1:
                noise = noise * self.half_range
            images = select("noise", images + noise)
        if "cutout" in transformation:
            cutout = transformation["cutout"]
            images = select("cutout", cut_out(
                images, cutout["center_height"], cutout["center_width"],
                self._cutout_box(*self.image_size(images)), self.data_format,
                fill_value=self.mid_value))
        return ops.cast(images, dtype)

    def _about_mid_value(self, linear_transform, images):
        """Applies a linear transform to the images' deviation from the
        middle of `value_range`, as it acts on images in [-1, 1] (where the
        middle is 0). A linear map commutes with the scaling of the range
        but not with its offset."""
        mid = self.mid_value
        if mid == 0:
            return linear_transform(images)
        return linear_transform(images - mid) + mid

    def _apply_color(self, images, matrix):
        matrix = ops.cast(matrix, images.dtype)
        if self.value_range != (-1.0, 1.0):
            matrix = self._in_value_range(matrix)
        channels = images.shape[self.channel_axis]
        if channels == 1:
            # A grey pixel is (x, x, x): its output is the mean of the
            # three output channels.
            gain = ops.sum(matrix[:, :3, :3], axis=(1, 2)) / 3
            offset = ops.mean(matrix[:, :3, 3], axis=1)
            return images * ops.reshape(gain, (-1, 1, 1, 1)) + ops.reshape(offset, (-1, 1, 1, 1))
        linear, offset = matrix[:, :3, :3], matrix[:, :3, 3]
        # Three products with the input channels, added: elementwise
        # arithmetic that XLA fuses with the selection around it, where a
        # per-sample 3x3 matmul (or a reduction) runs as its own slow pass.
        if self.data_format == "channels_first":
            mixed = sum(images[:, d : d + 1] * linear[:, :, d, None, None] for d in range(3))
            return mixed + offset[:, :, None, None]
        mixed = sum(images[..., d : d + 1] * linear[:, None, None, :, d] for d in range(3))
        return mixed + offset[:, None, None, :]

    def _in_value_range(self, matrix):
        """The colour matrix for [-1, 1] conjugated to act on `value_range`.

        With x = w * u + m (u in [-1, 1], m the mid-value, w the half
        range) and y_u = L u + o, y = w * y_u + m = L x + (w * o + m -
        L m): the linear part stays, the offset changes.
        """
        linear, offset = matrix[:, :3, :3], matrix[:, :3, 3]
        offset = (offset * self.half_range + self.mid_value
                  - ops.sum(linear, axis=-1) * self.mid_value)
        top = ops.concatenate([linear, offset[:, :, None]], axis=-1)
        return ops.concatenate([top, matrix[:, 3:]], axis=1)

    def _apply_filter(self, images, gains):
        height, width = self.image_size(images)
        gains = ops.cast(gains, images.dtype)

        def per_sample(size):
            bands = band_filter_matrices(size).astype("float32")
            bands = ops.cast(ops.convert_to_tensor(bands), images.dtype)
            return ops.einsum("nb,bij->nij", gains, bands)

        rows, cols = per_sample(height), per_sample(width)
        if self.data_format == "channels_first":
            images = ops.einsum("nij,ncjw->nciw", rows, images)
            return ops.einsum("nkl,ncil->ncik", cols, images)
        images = ops.einsum("nij,njwc->niwc", rows, images)
        return ops.einsum("nkl,nilc->nikc", cols, images)

    # -- the controller -------------------------------------------------------

    def update_probability(self, sign_sum, count):
        """Feeds one training step's overfitting statistics to the controller.

        Adds `sign_sum` = sum of sign(D(real)) over the step's (global) batch
        and `count` = its number of images to the accumulators; on every
        `interval`-th call, with r_t = accumulated signs / accumulated
        images, sets

            p <- clip(p + sign(r_t - target) * images / (speed_kimg * 1000), 0, 1)

        (the reference's batch * interval is the images accumulated) and
        resets the accumulators. Graph- and XLA-safe: no Python branching on
        values. Call it once per step from one place: under
        `tf.distribute` from the cross-replica context with globally summed
        values (in a replica context the first replica's values are kept).
        With `target=None` it changes nothing. `update(real_logits)` computes
        both sums, over the replicas too; `stateless_update` is its stateless
        form.

        Args:
            sign_sum: Scalar, the sum of sign(D(real)) over the batch.
            count: Scalar, the number of real images in the batch.

        Returns:
            The current p, a float32 scalar tensor.

        Example:

        ```python
        logits = discriminator(augment(real))
        augment.update_probability(ops.sum(ops.sign(logits)), ops.shape(logits)[0])
        ```
        """
        if self.target is None:
            return ops.convert_to_tensor(self.p)
        state = (self.p, self.accumulated_signs, self.accumulated_images, self.accumulated_steps)
        return update_controller(state, sign_sum, count, self.target, self.speed_kimg,
                                 self.interval)

    def update(self, real_logits):
        """Feeds the controller D's logits on one step's (augmented) reals.

        The one-call form of `update_probability`: sums sign(real_logits)
        and counts the images itself. Under `tf.distribute` (TensorFlow
        backend) it may be called in the replica context, as a `train_step`
        run by `fit` is: it sums both over the replicas before updating, so
        every replica moves p by the global batch's statistics. Under JAX,
        where a traced `train_step` cannot change variables, use
        `stateless_update`.

        Args:
            real_logits: D's logits on the step's reals, shape (N,) or
                (N, 1).

        Returns:
            The current p, a float32 scalar tensor.

        Example:

        ```python
        real_logits = discriminator(augment(real_images, training=True))
        augment.update(real_logits)
        ```
        """
        real_logits = ops.convert_to_tensor(real_logits)
        if len(real_logits.shape) not in (1, 2) or (
            len(real_logits.shape) == 2 and real_logits.shape[1] not in (1, None)
        ):
            raise ValueError(
                "update expects one logit per real image, shape (N,) or (N, 1); "
                f"got shape {tuple(real_logits.shape)}. For a discriminator "
                "with several outputs per image, pick the real/fake logit, or "
                "call update_probability(sign_sum, count) with your own sums."
            )
        sign_sum = ops.sum(ops.sign(ops.cast(real_logits, "float32")))
        count = ops.cast(ops.shape(real_logits)[0], "float32")
        sign_sum, count = _sum_over_replicas(sign_sum, count)
        return self.update_probability(sign_sum, count)

    def stateless_update(self, non_trainable_variables, real_logits):
        """`update` for stateless training steps such as JAX's.

        Runs the controller on the given values of the layer's
        non-trainable variables instead of the variables themselves, which
        it leaves unchanged, in the style of `stateless_call`.

        Args:
            non_trainable_variables: Values of
                `self.non_trainable_variables`, in that order (as
                `stateless_call` takes and returns them).
            real_logits: D's logits on the step's reals, shape (N,) or
                (N, 1).

        Returns:
            The new values of `self.non_trainable_variables`, in order.

        Example:

        ```python
        # In a JAX train_step(self, state, data), with `ada` the values of
        # augment.non_trainable_variables:
        augmented, ada = augment.stateless_call([], ada, real_images, training=True)
        real_logits, d_state = discriminator.stateless_call(d_train, d_state, augmented)
        ada = augment.stateless_update(ada, real_logits)
        ```
        """
        variables = self.non_trainable_variables
        if len(non_trainable_variables) != len(variables):
            raise ValueError(
                f"stateless_update expects {len(variables)} values, one per "
                "variable of layer.non_trainable_variables "
                f"({', '.join(v.name for v in variables)}), in that order; got "
                f"{len(non_trainable_variables)}."
            )
        with keras.StatelessScope(state_mapping=list(zip(variables, non_trainable_variables))) as scope:
            self.update(real_logits)
        updated = [scope.get_current_value(variable) for variable in variables]
        return [
            value if new is None else new
            for value, new in zip(non_trainable_variables, updated)
        ]

    def get_config(self):
        config = super().get_config()
        config.update({
            "preset": self.preset,
            "p": self.initial_p,
            "target": self.target,
            "speed_kimg": self.speed_kimg,
            "interval": self.interval,
            "multipliers": self._multipliers_config,
            "antialias": self.antialias,
        })
        return config
