"""The regularizers of GAN training, each a named piece that `keras_dagan.GAN`
calls: the R1 penalty, lazy regularization (a regularizer applied every N
updates as an optimizer step of its own), StyleGAN2's path length
regularization, and `lazy_adam`, Adam corrected for lazy regularization.

Lazy regularization (Karras et al., "Analyzing and Improving the Image
Quality of StyleGAN", 2020, appendix B; stylegan2-ada-pytorch
`training/training_loop.py` and `training/loss.py`): on updates 0, N, 2N,
... of a network, after its main update, the optimizer makes an extra step
on the regularization loss alone, multiplied by N so that it weighs on
average as much as applying it every update. The optimizer then makes
N + 1 steps per N updates, which `lazy_adam` compensates (`mb_ratio`).
"""

import math

import keras
import tensorflow as tf


def r1_penalty(real, views_fn, logits_fn, through_augment=True):
    """The R1 penalty of Mescheder et al. (2018): ||grad D||^2 per real sample.

    The gradient is that of the sum of D's logits on view 0 of the real
    views, taken with respect to the reals `real` (through `views_fn`, the
    augmentation: StyleGAN2-ADA's R1) or, with `through_augment=False`,
    with respect to the views themselves (D alone at the augmented points).

    Args:
        real: (N, H, W, C) real images.
        views_fn: Maps `real` to the (V, N, H, W, C) stack of views D
            scores (the augmented reals, and with DAG their transforms).
        logits_fn: Maps the (1, N, H, W, C) stack of view 0 to D's logits.
        through_augment: Whether the gradient is taken with respect to
            `real` (True) or to view 0 (False).

    Returns:
        `(penalty, views, logits)`: the float32 (N,) penalty, the views and
        view 0's logits, so that the caller's loss can reuse them.

    Example:

    ```python
    penalty, _, logits = r1_penalty(x, lambda x: x[None], lambda v: D(v[0])[None])
    loss = tf.reduce_mean(penalty) * gamma / 2
    ```
    """
    with tf.GradientTape() as tape:
        tape.watch(real)
        views = views_fn(real)
        if not through_augment:
            tape.watch(views)
        logits = logits_fn(views[:1])
        total = tf.reduce_sum(logits)
    if through_augment:
        gradient = tape.gradient(total, real)
    else:
        gradient = tape.gradient(total, views)[0]
    gradient = tf.cast(gradient, "float32")
    return tf.reduce_sum(tf.square(gradient), axis=[1, 2, 3]), views, logits


def path_lengths(generator, z, labels, noise_fn):
    """StyleGAN2's path lengths ||J_w^T y||, per sample, with their images.

    With ws = `generator.training_ws(z, labels)` (style mixing included)
    and images = `generator.synthesis(ws, training=True)`, y a random
    image y ~ N(0, I) / sqrt(H * W) (`noise_fn(shape)`), the gradient g of
    sum(images * y) with respect to ws (N, num_ws, w_dim) gives the length
    sqrt(mean over the num_ws of the sum over w_dim of g^2), as
    stylegan2-ada-pytorch's `StyleGAN2Loss` (phase Greg). The result stays
    differentiable with respect to G's weights (double backpropagation).

    Args:
        generator: A generator with `training_ws(z, labels)` and
            `synthesis(ws, training=True)` (`keras_dagan.models.stylegan2`).
        z: (N, latent_dim) latents.
        labels: (N,) int labels, or None.
        noise_fn: Maps the images' static shape (a `TensorShape`) to
            standard normal draws of the images' shape.

    Returns:
        The float32 (N,) path lengths.
    """
    ws = generator.training_ws(z, labels)
    with tf.GradientTape() as tape:
        tape.watch(ws)
        images = generator.synthesis(ws, training=True)
        height, width = images.shape[1], images.shape[2]
        noise = noise_fn(images.shape) / math.sqrt(height * width)
        total = tf.reduce_sum(tf.cast(images, "float32") * noise)
    gradient = tf.cast(tape.gradient(total, ws), "float32")
    return tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(gradient), axis=2), axis=1))


def check_path_length_generator(generator):
    """Raises a ValueError naming the fix when `generator` cannot be path
    length regularized (it lacks `training_ws` or `synthesis`)."""
    missing = [name for name in ("training_ws", "synthesis") if not hasattr(generator, name)]
    if missing:
        raise ValueError(
            f"pl_weight > 0 (path length regularization) needs a generator with "
            f"training_ws(z, labels) and synthesis(ws, training=True), such as "
            f"keras_dagan.models.stylegan2_generator; {generator.name!r} "
            f"({type(generator).__name__}) has no {' and no '.join(missing)}. Use such a "
            "generator or set pl_weight=0."
        )


class LazyRegularizer:
    """The schedule and weight of a regularizer applied every `interval`
    updates of its network (None: every update, within the main loss).

    Args:
        weight: The loss weight of the regularizer's penalty (gamma / 2 for
            R1, `pl_weight` for path length).
        interval: Updates between two applications, an integer >= 1, or
            None for every update in the same loss as the main update.
        name: The argument's name, for error messages.
    """

    def __init__(self, weight, interval=None, name="interval"):
        if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int)
                                     or interval < 1):
            raise ValueError(
                f"{name} must be an integer >= 1 (updates between two regularization steps) "
                f"or None; got {interval!r}."
            )
        self.weight = float(weight)
        self.interval = interval

    @property
    def lazy(self):
        """Whether it is applied as an optimizer step of its own."""
        return self.interval is not None

    @property
    def step_weight(self):
        """Weight of the penalty in the regularization step: `weight`
        multiplied by the interval, as the reference's `gain`."""
        return self.weight * (self.interval or 1)

    def due(self, update):
        """Whether update number `update` (0-based, a scalar tensor) is one
        of 0, interval, 2 * interval, ... (reference `batch_idx % interval
        == 0`)."""
        return tf.equal(tf.math.floormod(update, self.interval), 0)


def run_when(due, phase, *args):
    """Runs the replica function `phase(*args)` when `due` (a boolean scalar,
    the same on every replica), else nothing; returns its float32 scalar
    result, or 0 when it did not run.

    A phase that applies an optimizer step or updates variables synchronizes
    the replicas (`merge_call`), which TensorFlow forbids inside a `tf.cond`
    taken in a replica's context. Under a strategy of several replicas that
    synchronizes through `merge_call` (MirroredStrategy outside XLA on
    GPUs), the condition is therefore taken in the cross-replica context:
    one `merge_call` leaves the replicas, `tf.cond` chooses, and the chosen
    branch re-enters every replica with `call_for_each_replica`, where the
    phase synchronizes as it would outside a condition. Otherwise a plain
    `tf.cond` does. Either way a phase not due runs nothing at all: no
    optimizer step, no random draw.

    Args:
        due: Boolean scalar tensor.
        phase: Function of `args` returning a float32 scalar tensor.
        *args: Tensors, each replica's own.
    """
    context = tf.distribute.get_replica_context()
    zero = lambda *_: tf.zeros((), "float32")  # noqa: E731
    if (context is None or context.num_replicas_in_sync == 1
            or tf.__internal__.distribute.strategy_supports_no_merge_call()):
        return tf.cond(due, lambda: phase(*args), zero)

    def cross_replica(strategy, *grouped):
        call = strategy.extended.call_for_each_replica
        return tf.cond(due, lambda: call(phase, args=grouped), lambda: call(zero, args=grouped))

    return context.merge_call(cross_replica, args=args)


def lazy_adam(learning_rate, beta_1=0.0, beta_2=0.99, epsilon=1e-8, interval=None, **kwargs):
    """Keras Adam with StyleGAN2's correction for lazy regularization.

    With a regularizer applied every `interval` updates as a step of its
    own, the optimizer makes interval + 1 steps per `interval` updates.
    stylegan2-ada-pytorch (`training_loop.py`) keeps the optimizer's
    dynamics per update by scaling its hyper-parameters with
    mb_ratio = interval / (interval + 1):

        learning_rate' = learning_rate * mb_ratio
        beta_1' = beta_1 ** mb_ratio,   beta_2' = beta_2 ** mb_ratio

    so interval + 1 steps of the corrected Adam move about as far, and
    forget as fast, as `interval` steps of the uncorrected one. With
    `interval=None` (no lazy regularization) it is plain Adam.
    The defaults are StyleGAN2's (beta_1=0, beta_2=0.99, epsilon=1e-8).

    Args:
        learning_rate: A float.
        beta_1, beta_2, epsilon: Adam's hyper-parameters before correction.
        interval: The lazy regularization interval of the network this
            optimizer trains (`r1_interval` for D, `pl_interval` for G when
            path length regularization is on), or None.
        **kwargs: Other `keras.optimizers.Adam` arguments.

    Example:

    ```python
    # StyleGAN2-ADA paper256: lr 0.0025, R1 every 16 D updates.
    d_optimizer = lazy_adam(0.0025, interval=16)  # lr 0.0025 * 16/17, beta_2 0.99 ** (16/17)
    gan = keras_dagan.GAN(G, D, 512, loss="non_saturating", r1_gamma=1.0, r1_interval=16)
    gan.compile(d_optimizer=d_optimizer, g_optimizer=lazy_adam(0.0025, interval=4))
    ```
    """
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
        raise ValueError(
            f"lazy_adam takes a float learning_rate (it scales it by interval / (interval + "
            f"1)); got {learning_rate!r}."
        )
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int)
                                 or interval < 1):
        raise ValueError(f"interval must be an integer >= 1 or None; got {interval!r}.")
    ratio = mb_ratio(interval)
    return keras.optimizers.Adam(
        learning_rate=learning_rate * ratio,
        beta_1=beta_1**ratio,
        beta_2=beta_2**ratio,
        epsilon=epsilon,
        **kwargs,
    )


def mb_ratio(interval):
    """interval / (interval + 1), the share of an optimizer's steps that are
    main updates when a lazy regularizer takes every `interval`-th update a
    step of its own (1.0 for `interval=None`); see `lazy_adam`."""
    return 1.0 if interval is None else interval / (interval + 1)


def nan_to_num(gradient):
    """`gradient` with NaN replaced by 0, +inf by 1e5 and -inf by -1e5, as
    stylegan2-ada-pytorch does to every gradient before its optimizer step
    (`misc.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5)`)."""
    if gradient is None:
        return None
    gradient = tf.where(tf.math.is_nan(gradient), tf.zeros_like(gradient), gradient)
    # 1e5, or the largest finite value of float16 gradients.
    limit = tf.cast(min(1e5, gradient.dtype.max), gradient.dtype)
    return tf.where(tf.math.is_inf(gradient), tf.sign(gradient) * limit, gradient)


__all__ = [
    "LazyRegularizer",
    "check_path_length_generator",
    "lazy_adam",
    "mb_ratio",
    "nan_to_num",
    "path_lengths",
    "r1_penalty",
    "run_when",
]
