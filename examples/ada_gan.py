"""A small GAN trained with adaptive discriminator augmentation (ADA).

Follows the plan of the keras.io example "Data-efficient GANs with Adaptive
Discriminator Augmentation" (gan_ada.py), with `keras_dagan`'s
`AdaptiveAugment` as the augmenter:

- the images are in [0, 1] (G ends in a sigmoid), so the augmenter gets
  `value_range=(0, 1)`;
- D sees augmented reals and augmented fakes, and G's loss is computed on
  augmented fakes, so G's gradient flows through the augmentation;
- after each step the controller moves the augmentation probability p
  towards keeping r_t = E[sign(D(augmented reals))] at the target 0.6:
  `augmenter.update(real_logits)` on TensorFlow and torch, and
  `augmenter.stateless_update(values, real_logits)` inside JAX's stateless
  `train_step(self, state, data)`.

It trains on the 5,000 CIFAR-10 images shipped in `data/` (offline) and
logs the losses and p every step. Run from the repository root:

    python examples/ada_gan.py --steps=300
    KERAS_BACKEND=jax python examples/ada_gan.py --steps=300
    KERAS_BACKEND=torch python examples/ada_gan.py --steps=300

It writes `history.json` (every step's g_loss, d_loss and p) and
`samples.png` to `--out_dir`. The paper's controller speed (500 kimg for p
to move by 1) suits runs of millions of images; this short run defaults to
a faster one.
"""

import keras
from keras import ops

import adversarial
from keras_dagan.augment import AdaptiveAugment

VALUE_RANGE = (0, 1)


class ADAGAN(adversarial.AdversarialModel):
    """G and D with an `AdaptiveAugment` in front of D on every path.

    Args:
        augmenter: The `AdaptiveAugment` whose p the controller adapts.
        **kwargs: `AdversarialModel`'s arguments.
    """

    def __init__(self, augmenter, **kwargs):
        super().__init__(**kwargs)
        self.augmenter = augmenter

    def adversarial_losses(self, real_images):
        batch_size = ops.shape(real_images)[0]
        fake_images = self.generator(self.latents(batch_size), training=True)
        real_logits = self.discriminator(self.augmenter(real_images, training=True), training=True)
        fake_logits = self.discriminator(self.augmenter(fake_images, training=True), training=True)
        d_loss, g_loss = adversarial.logistic_losses(real_logits, fake_logits)
        return {"g_loss": g_loss, "d_loss": d_loss}, {"real_logits": real_logits}

    def after_step(self, outputs, logs):
        p = self.augmenter.update(outputs["real_logits"])
        return dict(logs, p=p)

    def stateless_after_step(self, non_trainable_values, outputs, logs):
        values = self.values_of(self.augmenter, non_trainable_values)
        values = self.augmenter.stateless_update(values, outputs["real_logits"])
        p = next(value for variable, value in zip(self.augmenter.non_trainable_variables, values)
                 if variable is self.augmenter.p)
        return self.with_values(self.augmenter, values, non_trainable_values), dict(logs, p=p)


def build(width=32, target=0.6, speed_kimg=20.0, initial_p=0.0, seed=0):
    """An `ADAGAN` compiled with Adam, ready for `fit`."""
    augmenter = AdaptiveAugment(
        "bgc", p=initial_p, target=target, speed_kimg=speed_kimg, value_range=VALUE_RANGE,
        seed=seed)
    return adversarial.compiled(ADAGAN, augmenter, "sigmoid", width=width, seed=seed)


def main(argv=None):
    parser = adversarial.argument_parser(__doc__, "runs/ada_gan")
    parser.add_argument("--target", type=float, default=0.6, help="ADA's target for r_t")
    parser.add_argument("--speed_kimg", type=float, default=20.0,
                        help="thousands of images over which p can move by 1")
    parser.add_argument("--initial_p", type=float, default=0.0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    model = build(target=args.target, speed_kimg=args.speed_kimg, initial_p=args.initial_p)
    adversarial.train(model, args.steps, args.batch_size, args.out_dir, VALUE_RANGE)


if __name__ == "__main__":
    main()
