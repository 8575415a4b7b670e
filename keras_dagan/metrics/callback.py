"""`FIDCallback`: scores the EMA generator every N training steps."""

from keras_dagan.cluster import computed_by_chief
from keras_dagan.metrics.evaluation import score_images
from keras_dagan.periodic import PeriodicCallback
from keras_dagan.samples import generated_batches


class FIDCallback(PeriodicCallback):
    """Every `every_n_steps` steps, scores `num_samples` EMA-generator samples.

    FID against `real_statistics` always, IS when the extractor has logits,
    KID when `kid=True`. The values are added to the batch logs of the step
    they were taken at and to every later epoch's logs, so they reach
    `History` and, when this callback comes before `keras.callbacks.TensorBoard`
    in the callback list, TensorBoard. The noise is fixed (`seed`), so
    successive scores differ only because the generator changed. Steps count
    on from the GAN's `train_steps` (see `PeriodicCallback`), so they
    continue across resumed runs. On a `MultiWorkerMirroredStrategy` cluster
    the chief alone evaluates and the other workers receive its scores (see
    `keras_dagan.cluster.computed_by_chief`).

    Args:
        real_statistics: `FeatureStatistics` of the real data, from the same
            extractor (see `reference_statistics`); None on the workers of a
            cluster other than the chief, which never evaluate.
        extractor: The feature extractor.
        every_n_steps: Evaluation period in training steps.
        num_samples: Generated images per evaluation.
        batch_size: Images generated (and extracted) at once.
        is_splits: Inception-score splits; 0 skips IS.
        kid: Whether to compute KID too.
        seed: Seed of the fixed noise.
        verbose: If True, print a line with the scores at each evaluation.

    Attributes:
        history: One dict per evaluation: "step" and the scores.

    Example:

    ```python
    fid = FIDCallback(real_statistics, cifar10_extractor(), every_n_steps=1000)
    history = gan.fit(dataset, steps_per_epoch=1000, epochs=10, callbacks=[fid])
    history.history["fid"]
    ```
    """

    def __init__(self, real_statistics, extractor, every_n_steps, num_samples=5000,
                 batch_size=250, is_splits=10, kid=False, seed=0, verbose=False):
        super().__init__(every_n_steps)
        self.real_statistics = real_statistics
        self.extractor = extractor
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.is_splits = is_splits
        self.kid = kid
        self.seed = seed
        self.verbose = verbose
        self.latest = {}
        self.history = []

    def evaluate(self):
        """Scores the model's EMA generator now and returns the scores."""
        gan = self.model
        generator = gan.ema_generator

        def sample(z, labels):
            inputs = z if labels is None else [z, labels]
            return generator(inputs, training=False)

        batches = generated_batches(sample, gan.latent_dim, self.num_samples, self.batch_size,
                                    num_classes=gan.num_classes, seed=self.seed)
        scores = score_images(self.extractor, self.real_statistics, batches, self.num_samples,
                              is_splits=self.is_splits, kid=self.kid)
        scores.pop("num_samples")
        return scores

    def on_period(self, step, logs):
        # On a cluster only the chief pays for the evaluation; every worker
        # logs its scores, so their BestCheckpoint callbacks agree.
        self.latest = computed_by_chief(getattr(self.model, "distribute_strategy", None),
                                        self.evaluate)
        self.history.append({"step": step, **self.latest})
        if self.verbose:
            scores = ", ".join(f"{name} {value:.4g}" for name, value in self.latest.items())
            print(f"\nstep {step}: {scores}", flush=True)
        if logs is not None:
            logs.update(self.latest)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.latest)
