"""A DCGAN with its own `train_step`, trained with DiffAugment.

DiffAugment (Zhao et al., 2020) applies one differentiable augmentation T
on all three paths of a GAN step:

- D on reals: D(T(x));
- D on fakes: D(T(G(z)));
- G's update: D(T(G(z'))), so G's gradient flows back through T.

Here T is `keras_dagan.augment.DiffAugment` with the paper's CIFAR policy
("color,translation,cutout"), fresh draws on each path. The images are in
[-1, 1] (G ends in tanh), the layer's default `value_range`. The step runs on
TensorFlow, torch and JAX (see `adversarial.AdversarialModel`).

It trains on the 5,000 CIFAR-10 images shipped in `data/` (offline). Run
from the repository root:

    python examples/dcgan_diffaugment.py --steps=300
    KERAS_BACKEND=jax python examples/dcgan_diffaugment.py --steps=300
    KERAS_BACKEND=torch python examples/dcgan_diffaugment.py --steps=300

It writes `history.json` (every step's g_loss and d_loss) and `samples.png`
to `--out_dir`.
"""

import keras
from keras import ops

import adversarial
from keras_dagan.augment import DiffAugment

VALUE_RANGE = (-1, 1)


class DCGAN(adversarial.AdversarialModel):
    """G and D with DiffAugment on D's real, D's fake and G's fake path.

    Args:
        augment: The `DiffAugment` layer.
        **kwargs: `AdversarialModel`'s arguments.
    """

    def __init__(self, augment, **kwargs):
        super().__init__(**kwargs)
        self.augment = augment

    def adversarial_losses(self, real_images):
        batch_size = ops.shape(real_images)[0]

        def d_of_augmented(images):
            return self.discriminator(self.augment(images, training=True), training=True)

        real_logits = d_of_augmented(real_images)
        # D's fakes and G's fakes are separate batches, as in an alternating
        # step; here both losses are taken at the same weights.
        d_fake_logits = d_of_augmented(self.generator(self.latents(batch_size), training=True))
        g_fake_logits = d_of_augmented(self.generator(self.latents(batch_size), training=True))
        d_loss, _ = adversarial.logistic_losses(real_logits, d_fake_logits)
        _, g_loss = adversarial.logistic_losses(real_logits, g_fake_logits)
        return {"g_loss": g_loss, "d_loss": d_loss}, {}


def build(width=32, policy="color,translation,cutout", seed=0):
    """A `DCGAN` compiled with Adam, ready for `fit`."""
    return adversarial.compiled(DCGAN, DiffAugment(policy, seed=seed), "tanh", width=width,
                                seed=seed)


def main(argv=None):
    parser = adversarial.argument_parser(__doc__, "runs/dcgan_diffaugment")
    parser.add_argument("--policy", default="color,translation,cutout",
                        help="DiffAugment policy, comma-separated")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    model = build(policy=args.policy)
    adversarial.train(model, args.steps, args.batch_size, args.out_dir, VALUE_RANGE)


if __name__ == "__main__":
    main()
