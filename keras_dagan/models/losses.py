"""Adversarial losses, per sample, as functions of the discriminator logits."""

from keras import ops

LOSSES = ("hinge", "non_saturating", "wasserstein")


def validate_loss(loss):
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}.")
    return loss


def discriminator_loss(loss, real_logits, fake_logits):
    """Per-sample discriminator loss, shape (N,).

    - "hinge": relu(1 - D(x)) + relu(1 + D(G(z)))
    - "non_saturating": softplus(-D(x)) + softplus(D(G(z)))
    - "wasserstein": D(G(z)) - D(x)

    Args:
        loss: One of `LOSSES`.
        real_logits: (N, 1) or (N,) logits on real images.
        fake_logits: Logits on generated images, same shape.

    Returns:
        (N,) float losses.

    Example:

    ```python
    per_sample = discriminator_loss("hinge", d_real, d_fake)
    ```
    """
    real = ops.reshape(real_logits, (-1,))
    fake = ops.reshape(fake_logits, (-1,))
    if loss == "hinge":
        return ops.relu(1.0 - real) + ops.relu(1.0 + fake)
    if loss == "non_saturating":
        return ops.softplus(-real) + ops.softplus(fake)
    if loss == "wasserstein":
        return fake - real
    return validate_loss(loss)


def generator_loss(loss, fake_logits):
    """Per-sample generator loss, shape (N,).

    - "hinge" and "wasserstein": -D(G(z))
    - "non_saturating": softplus(-D(G(z)))

    Args:
        loss: One of `LOSSES`.
        fake_logits: (N, 1) or (N,) logits on generated images.

    Returns:
        (N,) float losses.

    Example:

    ```python
    per_sample = generator_loss("non_saturating", d_fake)
    ```
    """
    fake = ops.reshape(fake_logits, (-1,))
    if loss in ("hinge", "wasserstein"):
        return -fake
    if loss == "non_saturating":
        return ops.softplus(-fake)
    return validate_loss(loss)
