"""`EMASchedule`: the decay of the generator's moving average at each step.

The two reference schedules:

- BigGAN (Brock et al.; the DiffAugment and DAG BigGAN-CIFAR code): a fixed
  decay, with the average held equal to G for the first `ema_start` steps
  (`utils.ema(..., start_itr=ema_start)`; the DiffAugment scripts use 1000).
- StyleGAN2-ADA (Karras et al.; `training/training_loop.py`): a half-life of
  `ema_kimg` thousand images, ramped up over the first images seen: the
  half-life is min(ema_kimg * 1000, images_seen * ema_rampup) and the decay
  0.5 ** (batch / half-life).
"""

from keras import ops


class EMASchedule:
    """The decay of the generator's exponential moving average, step by step.

    At G update `step` (1 for the first update), with `batch_size` images
    generated per update over all replicas, the EMA becomes
    decay * EMA + (1 - decay) * G, where decay is:

    - 0 (the EMA is a copy of G) while `step <= start`;
    - otherwise `decay`, or with `kimg` set, 0.5 ** (batch_size /
      half_life) where half_life = kimg * 1000 images, capped at
      images_seen * rampup when `rampup` is set, images_seen being the
      images generated before this update, (step - 1) * batch_size.

    So with `start=1000` the first decayed update is update 1001, as in the
    BigGAN reference (its update 1 also decays, an artifact of testing the
    iteration counter 0 for truth, and update 2 overwrites it with a copy of
    G; that update is not reproduced). With `rampup` the first update copies
    G (no images seen yet) and update 2 is the first decayed one, as in
    StyleGAN2-ADA.

    Args:
        decay: The fixed decay in [0, 1) when `kimg` is None; 0 turns the
            moving average off.
        start: Updates during which the EMA copies G; 0 (default) decays
            from the first update.
        kimg: Half-life of the EMA in thousands of images, > 0, replacing
            `decay` (StyleGAN2-ADA's `ema_kimg`; its configs use 10 to 20,
            and 500 for CIFAR), or None.
        rampup: With `kimg`: the half-life is at most this share of the
            images seen so far (StyleGAN2-ADA's `ema_rampup`, 0.05 in its
            `auto` and `cifar` configs), > 0, or None for no ramp-up.

    Example:

    ```python
    biggan = EMASchedule(decay=0.9999, start=1000)
    stylegan2_ada = EMASchedule(kimg=500, rampup=0.05)
    stylegan2_ada(step=2, batch_size=64)   # 0.5 ** (64 / 3.2) = 9.5e-7
    ```
    """

    def __init__(self, decay=0.999, start=0, kimg=None, rampup=None):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) (0 turns the EMA off); got {decay!r}.")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(
                f"ema_start must be an integer >= 0 (updates during which the EMA copies G); "
                f"got {start!r}."
            )
        if kimg is not None and (isinstance(kimg, bool) or not isinstance(kimg, (int, float))
                                 or not kimg > 0):
            raise ValueError(
                f"ema_kimg must be > 0 (the EMA half-life in thousands of images) or None; "
                f"got {kimg!r}."
            )
        if rampup is not None:
            if kimg is None:
                raise ValueError(
                    f"ema_rampup={rampup!r} ramps up the half-life set by ema_kimg; set ema_kimg "
                    "too (StyleGAN2-ADA: ema_kimg=500, ema_rampup=0.05 for CIFAR) or drop "
                    "ema_rampup."
                )
            if isinstance(rampup, bool) or not isinstance(rampup, (int, float)) or not rampup > 0:
                raise ValueError(f"ema_rampup must be > 0 or None; got {rampup!r}.")
        self.decay = float(decay)
        self.start = start
        self.kimg = None if kimg is None else float(kimg)
        self.rampup = None if rampup is None else float(rampup)

    @property
    def enabled(self):
        """Whether there is a moving average at all (not `decay=0` without
        `kimg`)."""
        return self.kimg is not None or self.decay > 0

    def __call__(self, step, batch_size):
        """The decay of G update `step` (1-based), as a float32 scalar.

        Args:
            step: The update's 1-based number, a scalar (tensor or int).
            batch_size: Images generated per update over all replicas.
        """
        step = ops.cast(step, "float32")
        batch_size = ops.cast(batch_size, "float32")
        if self.kimg is None:
            decay = ops.convert_to_tensor(self.decay, "float32")
        else:
            half_life = ops.convert_to_tensor(self.kimg * 1000.0, "float32")
            if self.rampup is not None:
                half_life = ops.minimum(half_life, (step - 1.0) * batch_size * self.rampup)
            # As the reference: max(., 1e-8) turns a zero half-life into a copy.
            decay = ops.power(0.5, batch_size / ops.maximum(half_life, 1e-8))
        return ops.where(step <= self.start, 0.0, decay)
