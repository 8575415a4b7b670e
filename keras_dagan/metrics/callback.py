"""`FIDCallback`: scores the EMA generator every N training steps."""

import numpy as np

from keras_dagan.cluster import computed_by_chief
from keras_dagan.metrics.evaluation import image_array, score_images
from keras_dagan.periodic import PeriodicCallback
from keras_dagan.samples import generated_batches


class FIDCallback(PeriodicCallback):
    """Every `every_n_steps` steps, scores `num_samples` EMA-generator samples.

    FID against `real_statistics` always, IS when the extractor has logits,
    KID when `kid=True`, and with `diagnostics` (a
    `keras_dagan.diagnostics.Diagnostics`) memorization, leakage (one
    "leakage/<family>" entry per family), precision, recall, density and
    coverage. The values are added to the batch logs of the step
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
        diagnostics: A `Diagnostics` to run on the same samples, or None.

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
                 batch_size=250, is_splits=10, kid=False, seed=0, verbose=False,
                 diagnostics=None):
        super().__init__(every_n_steps)
        self.real_statistics = real_statistics
        self.extractor = extractor
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.is_splits = is_splits
        self.kid = kid
        self.seed = seed
        self.verbose = verbose
        self.diagnostics = diagnostics
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
        if self.diagnostics is not None:
            # The diagnostics need the samples themselves, not only features.
            images = image_array(batches, self.num_samples)
            batches = np.array_split(images, -(-len(images) // self.batch_size))
        scores = score_images(self.extractor, self.real_statistics, batches, self.num_samples,
                              is_splits=self.is_splits, kid=self.kid)
        scores.pop("num_samples")
        if self.diagnostics is not None:
            scores.update(scalar_logs(self.diagnostics(images)))
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


def scalar_logs(scores):
    """Flattens scores into scalar log entries: "leakage" becomes one
    "leakage/<family>" entry per family, and families without a usable
    detector (None) are left out.

    Example:

    ```python
    scalar_logs({"fid": 30.0, "leakage": {"cutout": 0.1, "rotation": None}})
    # {"fid": 30.0, "leakage/cutout": 0.1}
    ```
    """
    logs = {}
    for name, value in scores.items():
        if isinstance(value, dict):
            logs.update({f"{name}/{family}": share for family, share in value.items()
                         if share is not None})
        elif value is not None:
            logs[name] = value
    return logs
