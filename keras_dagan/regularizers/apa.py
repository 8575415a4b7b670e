"""Adaptive pseudo augmentation, APA (Jiang et al., "Deceive D: Adaptive
Pseudo Augmentation for GAN Training with Limited Data", NeurIPS 2021;
EndlessSora/DeceiveD).

With probability p, each real image of D's update is replaced by a
generated one, still labelled real: D is deceived in proportion to how
much it overfits. p adapts with ADA's heuristic on r_t = E[sign(D(real))]
of the images D saw as real (pseudo ones included, as the reference's
`Loss/signs/real`).
"""

import keras
import tensorflow as tf

from keras_dagan.augment.adaptive import (
    AdaptiveAugment,
    update_controller,
    validate_controller,
)


class AdaptivePseudoAugmentation:
    """APA's deception and its probability p.

    `mix` puts generated images in place of reals with probability p per
    image. p has its own controller (ADA's heuristic, `update`) unless it
    is shared: with an `AdaptiveAugment` layer whose controller runs
    (`share(augment)`), APA reads that layer's p, as DeceiveD does with
    `--with-dataaug` (one p, one controller for the deception and the
    augmentation pipeline), and `update` leaves it to the layer.

    Args:
        target: Target of r_t in [0, 1] (DeceiveD: 0.6), or None to keep p
            fixed.
        speed_kimg: Thousands of images over which p can move by 1
            (DeceiveD: 500; 100 when fine-tuning a pretrained model).
        interval: Train steps between two adjustments of p (4).
        p: Initial (or, with `target=None`, fixed) probability in [0, 1].
        separate_controller: With an `AdaptiveAugment` whose controller
            runs: False (default) shares its p; True keeps APA's own p and
            controller, both fed the same r_t.

    Example:

    ```python
    apa = AdaptivePseudoAugmentation(target=0.6, speed_kimg=500)
    shown = apa.mix(real, tf.stop_gradient(generator(z)), keras.random.uniform((n,)))
    apa.update(tf.reduce_sum(tf.sign(D(shown))), n)
    ```
    """

    def __init__(self, target=0.6, speed_kimg=500, interval=4, p=0.0,
                 separate_controller=False):
        validate_controller(p, target, speed_kimg, interval, prefix="apa_")
        if target is None and p == 0:
            raise ValueError(
                "APA with apa_target=None keeps p fixed, and apa_p=0 never replaces a real "
                "image; set apa_target (DeceiveD: 0.6) for the adaptive p, or a fixed apa_p > 0."
            )
        if not isinstance(separate_controller, bool):
            raise ValueError(
                f"apa_separate_controller must be True or False; got {separate_controller!r}."
            )
        self.target = None if target is None else float(target)
        self.speed_kimg = float(speed_kimg)
        self.interval = interval
        self.initial_p = float(p)
        self.separate_controller = separate_controller
        self.shared_with = None

        def state(name, value):
            return keras.Variable(value, dtype="float32", trainable=False,
                                  aggregation="only_first_replica", name=name)

        self._state = [("apa_p", state("apa_p", self.initial_p))] + [
            (name, state(name, 0.0))
            for name in ("apa_accumulated_signs", "apa_accumulated_images",
                         "apa_accumulated_steps")
        ]

    def share(self, augment):
        """Shares the p and controller of `augment` when it is an
        `AdaptiveAugment` with a controller and `separate_controller` is
        False; raises a ValueError if the two controllers' settings differ
        (one of them would be silently ignored)."""
        if (self.separate_controller or not isinstance(augment, AdaptiveAugment)
                or augment.target is None):
            return
        mine = (self.target, self.speed_kimg, self.interval)
        theirs = (augment.target, augment.speed_kimg, augment.interval)
        if mine != theirs:
            raise ValueError(
                f"APA shares the AdaptiveAugment's p and controller (DeceiveD's "
                f"--with-dataaug), but their settings differ: apa_target, apa_kimg, "
                f"apa_interval = {mine}, the layer's target, speed_kimg, interval = {theirs}. "
                "Make them equal, or pass apa_separate_controller=True for two controllers."
            )
        self.shared_with = augment

    @property
    def p(self):
        """The current probability (a float32 scalar variable)."""
        return self.shared_with.p if self.shared_with is not None else self._state[0][1]

    def named(self):
        """(name, variable) pairs of the state saved with the GAN (kept
        also when shared, so that a checkpoint's layout does not depend on
        it)."""
        return list(self._state)

    def mix(self, real, pseudo, uniform):
        """`real` with row i replaced by `pseudo[i]` where `uniform[i] < p`.

        Args:
            real: (N, H, W, C) real images.
            pseudo: (N, H, W, C) generated images, without gradient.
            uniform: (N,) draws in [0, 1).
        """
        replaced = uniform < tf.cast(self.p, uniform.dtype)
        return tf.where(replaced[:, None, None, None], tf.cast(pseudo, real.dtype), real)

    def update(self, sign_sum, count):
        """Feeds APA's own controller the step's sum of sign(D(real)) and
        image count over the global batch (in the cross-replica context);
        a shared p is left to its layer, a fixed one unchanged."""
        if self.shared_with is not None or self.target is None:
            return
        update_controller([variable for _, variable in self._state], sign_sum, count,
                          self.target, self.speed_kimg, self.interval)
