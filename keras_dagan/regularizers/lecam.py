"""LeCam regularization (Tseng et al., "Regularizing Generative Adversarial
Networks under Limited Data", CVPR 2021; google/lecam-gan).

The discriminator's loss gains

    weight * (E[relu(D(x) - ema_fake)^2] + E[relu(ema_real - D(G(z)))^2])

with `ema_real` and `ema_fake` exponential moving averages of D's mean
logits on the reals and the fakes it trains on (the augmented ones, as the
reference scores them), so that D's predictions stay close to their own
recent history on the other side and the LeCam divergence, rather than
the raw GAN objective, is minimised.
"""

import numbers

import keras
import tensorflow as tf


class LeCam:
    """LeCam regularization of the discriminator, with its two EMAs.

    The EMAs move once per D update, before the penalty of that update reads
    them (both references update first): e <- decay * e + (1 - decay) * m,
    m being D's mean logit over the global batch. During the first `start`
    train steps the decay is 0, so the EMAs copy the latest means, and the
    penalty is off; from train step `start` on they decay and the penalty
    applies. The EMAs are zero-debiased (divided by the moving average of
    ones, TensorFlow's `zero_debias`): with `start=0` this is the reference
    StyleGAN2 code's `assign_moving_average(..., decay=0.99,
    zero_debias=True)`; with `start > 0` the copies make the debiasing a
    no-op and the EMAs are the reference BigGAN code's `ema_losses` (decay
    0.9, `start_itr` 1000).

    Its variables are made in the current strategy's scope and hold the
    same value on every replica: each replica reduces the means over the
    global batch before it updates them.

    Args:
        weight: Weight of the penalty, >= 0 (the reference BigGAN scripts:
            0.3; its StyleGAN2 CIFAR script: 1e-6); 0 disables it.
        ema_decay: Decay of the EMAs, in [0, 1) (BigGAN code: 0.9,
            StyleGAN2 code: 0.99).
        start: Train steps (G updates) during which the EMAs copy D's
            means and the penalty is off (BigGAN code: 1000, StyleGAN2
            code: 0).

    Example:

    ```python
    lecam = LeCam(0.3, ema_decay=0.9, start=1000)
    ema_real, ema_fake = lecam.update_averages(real_logits, fake_logits, 64, train_steps)
    loss = loss + lecam.weight * lecam.penalty(real_logits, fake_logits, ema_real, ema_fake)
    ```
    """

    def __init__(self, weight, ema_decay=0.99, start=0):
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or weight < 0:
            raise ValueError(
                f"lecam_weight must be a number >= 0 (0 disables LeCam; its BigGAN scripts use "
                f"0.3); got {weight!r}."
            )
        if (isinstance(ema_decay, bool) or not isinstance(ema_decay, numbers.Real)
                or not 0 <= ema_decay < 1):
            raise ValueError(
                f"lecam_ema_decay must be in [0, 1) (the reference's BigGAN code: 0.9, its "
                f"StyleGAN2 code: 0.99); got {ema_decay!r}."
            )
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(
                f"lecam_start must be an integer >= 0 (train steps before the penalty starts; "
                f"the reference's BigGAN code: 1000); got {start!r}."
            )
        self.weight = float(weight)
        self.ema_decay = float(ema_decay)
        self.start = start

        def state(name):
            return keras.Variable(0.0, dtype="float32", trainable=False,
                                  aggregation="only_first_replica", name=name)

        self.ema_real = state("lecam_ema_real")
        self.ema_fake = state("lecam_ema_fake")
        # The moving average of ones: the EMAs' zero-debiasing divisor.
        self.ema_weight = state("lecam_ema_weight")

    @property
    def enabled(self):
        return self.weight > 0

    def named(self):
        """(name, variable) pairs of the state saved with the GAN."""
        return [("lecam_ema_real", self.ema_real), ("lecam_ema_fake", self.ema_fake),
                ("lecam_ema_weight", self.ema_weight)]

    def active(self, train_steps):
        """1.0 from train step `start` (0-based `train_steps`) on, else 0.0."""
        return tf.cast(train_steps >= self.start, "float32")

    def update_averages(self, real_logits, fake_logits, global_batch, train_steps):
        """Moves the EMAs toward D's mean logits over the global batch.

        Args:
            real_logits: (N,) this replica's logits on the reals D trains on.
            fake_logits: (N,) its logits on the fakes.
            global_batch: The number of reals over all replicas.
            train_steps: The train steps made so far (int64 scalar).

        Returns:
            The debiased (ema_real, ema_fake) after the update, without
            gradient.
        """
        count = tf.cast(global_batch, "float32")
        means = [tf.reduce_sum(tf.stop_gradient(real_logits)) / count,
                 tf.reduce_sum(tf.stop_gradient(fake_logits)) / count]
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            means = context.all_reduce("SUM", means)
        decay = tf.where(train_steps < self.start, 0.0, self.ema_decay)
        # The debiased averages are stored; their biased sums are these
        # times the moving average of ones.
        weight = decay * self.ema_weight + (1.0 - decay)
        averages = []
        for variable, mean in zip((self.ema_real, self.ema_fake), means):
            biased = decay * variable * self.ema_weight + (1.0 - decay) * mean
            averages.append(biased / weight)
            variable.assign(averages[-1])
        self.ema_weight.assign(weight)
        return tuple(averages)

    @staticmethod
    def penalty(real_logits, fake_logits, ema_real, ema_fake):
        """The per-sample LeCam penalty relu(D(x_i) - ema_fake)^2 +
        relu(ema_real - D(G(z_i)))^2, shape (N,): its sum over the global
        batch divided by the batch is the reference's sum of two means.

        Args:
            real_logits: (N,) logits on reals.
            fake_logits: (N,) logits on fakes.
            ema_real: Scalar EMA of D's mean logit on reals.
            ema_fake: Scalar EMA of D's mean logit on fakes.
        """
        return (tf.square(tf.nn.relu(real_logits - ema_fake))
                + tf.square(tf.nn.relu(ema_real - fake_logits)))
