"""Consistency regularization of the discriminator: CR (Zhang et al.,
"Consistency Regularization for Generative Adversarial Networks", ICLR
2020) and its balanced form bCR (Zhao et al., "Improved Consistency
Regularization for GANs", AAAI 2021).

    weight_real * E[(D(v) - D(T(v)))^2]  +  weight_fake * E[(D(u) - D(T(u)))^2]

v is a real image as D scores it in its loss and u a generated one (bCR's
fake term; the fakes are those of D's update, without gradient to G). The
partner view is, as mit-han-lab/data-efficient-gans's BigGAN code builds it
(`G_D.forward` with `CR_augment`): with a transform T, T applied to the
view D scores (DiffAugment(x) when DiffAugment is on, so the pair is
(DiffAugment(x), T(DiffAugment(x)))); without one, the image before D's
augmentation (the pair (DiffAugment(x), x) of its 10 % and 20 % scripts,
`--CR_augment ""`). The gradient flows through both views, to D only.
"""

import numbers


def _check_weight(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(
            f"{name} must be a number >= 0 (0 disables the term; the DiffAugment-cr "
            f"scripts use 10); got {value!r}."
        )
    return float(value)


class ConsistencyRegularization:
    """CR (`weight_fake=0`) or bCR (both weights > 0) of the discriminator.

    Args:
        weight_real: Weight of the real term (the DiffAugment-cr scripts'
            `--CR 10`; bCR: 10).
        weight_fake: Weight of the fake term (bCR: 10; CR: 0).
        transform: A Keras layer T making the partner view from the view D
            scores (e.g. `DiffAugment("translation")`), or None: the
            partner is the image before D's augmentation.

    Example:

    ```python
    cr = ConsistencyRegularization(weight_real=10.0)
    per_sample = cr.weight_real * cr.penalty(D(augment(x)), D(x))
    ```
    """

    def __init__(self, weight_real=0.0, weight_fake=0.0, transform=None):
        self.weight_real = _check_weight("cr_weight_real", weight_real)
        self.weight_fake = _check_weight("cr_weight_fake", weight_fake)
        self.transform = transform

    @property
    def enabled(self):
        return self.weight_real > 0 or self.weight_fake > 0

    def weights(self):
        """(path, weight) of the enabled terms: path 0 the reals, 1 the
        fakes (the GAN's path numbers)."""
        return [(path, weight) for path, weight in ((0, self.weight_real), (1, self.weight_fake))
                if weight > 0]

    @staticmethod
    def penalty(logits, partner_logits):
        """The per-sample squared difference (D(v_i) - D(v'_i))^2, shape
        (N,): its mean is the reference's `torch.mean((D_real_aug -
        D_real) ** 2)`."""
        return (logits - partner_logits) ** 2
