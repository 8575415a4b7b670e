"""`GAN`: a Keras model whose `train_step` is the DiffAugment update.

The update of Zhao et al. (2020), Figure 4: the discriminator learns from
T(x) and T(G(z)); the generator learns from D(T(G(z))), with its gradient
flowing back through T. `augment_mode` reproduces the paper's ablations.
With `dag`, D has one head per DAG transformation (Tran et al., 2020) and
both losses sum over the heads.
"""

import keras
import tensorflow as tf
from keras import ops

from keras_dagan.augment.adaptive import AdaptiveAugment
from keras_dagan.augment.base import BaseAugmentation
from keras_dagan.models.dag import DAG, DAGDiscriminator
from keras_dagan.models.ema import EMASchedule
from keras_dagan.models.losses import discriminator_loss, generator_loss, validate_loss
from keras_dagan.models.regularization import (
    LazyRegularizer,
    check_path_length_generator,
    nan_to_num,
    path_lengths,
    r1_penalty,
    run_when,
)
from keras_dagan.regularizers import AdaptivePseudoAugmentation, ConsistencyRegularization, LeCam

# Which of the three paths each mode augments: (D real, D fake, G fake).
AUGMENT_MODES = {
    "both": (True, True, True),
    "real_only": (True, False, False),
    "d_only": (True, True, False),
    "none": (False, False, False),
}


class GAN(keras.Model):
    """A generator and a discriminator trained adversarially with `fit`.

    Each `train_step` receives `d_steps * B` reals (the dataset's batch) and
    makes `d_steps` discriminator updates, update k on the reals of slice k
    (rows k*B to (k+1)*B), then one generator update, as the reference
    BigGAN code does (`num_D_steps`: it loads `batch_size * num_D_steps`
    reals per iteration and splits them):

    - D update: D sees augment(x_k) and augment(G(z)), with fresh z and
      fresh augmentation draws; loss `loss` plus, when `r1_gamma > 0` and
      `r1_interval` is None, the R1 penalty gamma/2 * E||grad D||^2 on the
      reals (see `r1_through_augment`).
    - Lazy R1 (`r1_interval=N`): on D updates 0, N, 2N, ... an extra D
      optimizer step on the R1 penalty alone, weighted gamma/2 * N, on the
      same reals (StyleGAN2's phase Dreg).
    - G update: D sees augment(G(z)) for fresh z; the gradient reaches G
      through the augmentation. It uses no reals.
    - Path length regularization (`pl_weight > 0`): on G updates 0, N, 2N,
      ... (N = `pl_interval`) an extra G optimizer step on StyleGAN2's path
      length penalty, weighted `pl_weight` * N (phase Greg).
    - Then the EMA generator moves toward G (see `EMASchedule`).

    - With APA (`apa=True`), before each D update the reals are replaced,
      each with probability p, by generated images (still labelled real);
      with LeCam (`lecam_weight > 0`) and CR/bCR (`cr_weight_real`,
      `cr_weight_fake`) D's loss gains their penalties; see
      `keras_dagan.regularizers`.

    R1 and path length are the pieces of `keras_dagan.models.regularization`.
    The lazy steps are extra optimizer steps, as in StyleGAN2, so an
    optimizer's `iterations` counts them; `train_steps` counts train steps
    (G updates) and sets the lazy schedules and the EMA's. Compensate the
    extra steps with `regularization.lazy_adam` (StyleGAN2's `mb_ratio`).
    A lazy step that is not due runs nothing (no optimizer step, no random
    draw), with or without XLA and under `tf.distribute.MirroredStrategy`
    (see `regularization.run_when`). The order within a train step is the
    reference's Dmain, Dreg, then Gmain, Greg (the reference starts each
    iteration with G; the sequence of updates is otherwise the same).

    With `dag` (a `keras_dagan.models.DAG`), D is a `DAGDiscriminator`:
    head 0 scores augment(x) and augment(G(z)), head k scores
    augment(T_k(x)) and augment(T_k(G(z))), and both D's and G's losses
    become L_0 + weight / K * sum_k L_k. T_k comes first and the
    augmentation after, each view with its own draws: DAG defines T_k on
    the data and generated distributions, and DiffAugment's augmentation
    belongs to the discriminator (D o augment), so head k is
    D_k(augment(T_k(x))). R1, `d_real`, `d_fake` and `r_t` concern head 0;
    `d_loss` and `g_loss` are the DAG objectives, and the logs gain each
    head's own D loss L_k as `d_loss_<head>` (`d_loss_identity`,
    `d_loss_rotate90`, ...; see `DAG.head_names`).
    The trunk runs once per path on all views together, except that with
    R1 head 0's real view runs on its own so that the penalty's double
    backpropagation covers 1 view, not K + 1.

    Every augmentation call draws fresh parameters; for
    `keras_dagan.augment` layers they come from the GAN's `seed`, and their
    `transform_images` is compiled with XLA (see their `jit_compile`), on its
    own in a graph-mode step and with the step in an XLA one, which fuses its
    elementwise passes. Batch normalization in G normalizes over each
    replica's batch unless it is
    `keras.layers.BatchNormalization(synchronized=True)`. Losses are
    averaged over the global batch, so under
    `tf.distribute.MirroredStrategy` the summed replica gradients equal the
    single-device gradient. `fit` reorders each global batch before the
    strategy splits it so that replica r's slice k is its share of global
    slice k. For `keras_dagan.augment` layers and for z, every replica draws
    the parameters of the whole global batch from the same random state and
    takes its own slice: samples are independent across replicas, and a run
    on R replicas uses the same reals and draws as one device with the same
    global batch.

    Args:
        generator: Keras model mapping z (N, latent_dim), or [z, labels] when
            conditional, to images (N, H, W, C) in [-1, 1].
        discriminator: Keras model mapping images, or [images, labels] when
            conditional, to logits (N, 1) or (N,).
        latent_dim: Size of z ~ N(0, I).
        augment: Any Keras layer applied to D's inputs (such as
            `keras_dagan.augment.DiffAugment`, with the default
            `value_range=(-1, 1)`), or None. With an
            `AdaptiveAugment` whose `target` is set, every train step feeds
            its controller the sum of sign(D(real)) of the first D update
            over the global batch, and `augment_p` (the current p) joins
            the logs.
        augment_mode: Which paths are augmented: "both" (DiffAugment: reals
            and fakes in D's update and fakes in G's), "real_only" (reals
            only: G learns the augmented distribution), "d_only" (reals and
            fakes in D's update only), or "none".
        loss: "hinge", "non_saturating" or "wasserstein".
        d_steps: Discriminator updates per generator update; each batch of
            the dataset must then hold `d_steps` times the reals of one
            D update (`keras_dagan.data` loaders: `d_steps=`).
        r1_gamma: Weight of the R1 penalty on reals; 0 disables it.
        r1_through_augment: True (default): the R1 gradient is taken with
            respect to the real images x, through the augmentation, i.e.
            the gradient of D(augment(x)): StyleGAN2-ADA's R1 and
            DiffAugment-StyleGAN2's `ns_DiffAugment_r1` (its low-shot runs).
            It penalises the function the real loss trains, D o augment.
            False: with respect to the augmented reals augment(x), the
            gradient of D alone at the augmented points:
            DiffAugment-StyleGAN2's `ns_r1_DiffAugment` (its CIFAR and FFHQ
            runs). The two agree without augmentation.
        r1_interval: None (default): R1 in every D update's loss
            (DiffAugment-StyleGAN2). An integer N: lazy R1, an optimizer
            step of its own every N D updates with gamma multiplied by N
            (StyleGAN2 and StyleGAN2-ADA: 16). The D updates are counted
            over the whole run (`train_steps * d_steps`), so a run resumed
            from a checkpoint continues the schedule. The `r1` log is then
            the mean penalty of the R1 steps of the epoch so far (0 before
            the first).
        pl_weight: Weight of StyleGAN2's path length penalty; 0 (default)
            disables it (StyleGAN2-ADA's `cifar` config), 2 in its other
            configs. It needs a generator with `training_ws` and
            `synthesis` (`keras_dagan.models.stylegan2_generator`). Logs
            `pl_penalty`, the mean (length - pl_mean)^2 of the path length
            steps of the epoch so far.
        pl_interval: G updates between two path length steps (4).
        pl_batch_shrink: The path length step generates the batch divided
            by this (2).
        pl_decay: Decay of the running mean of the path lengths, `pl_mean`
            (0.01): pl_mean += pl_decay * (mean length - pl_mean).
        zero_nonfinite_gradients: Replace NaN gradients by 0 and infinite
            ones by +-1e5 before every optimizer step, as StyleGAN2-ADA does
            (it trains its float16 layers without loss scaling; with this
            option the GAN does not wrap its optimizers in a
            `LossScaleOptimizer` under "mixed_float16" either, as that needs
            to see the infinities). A non-finite loss still shows in the
            logs, so `keras_dagan.divergence.StopOnDivergence` still stops
            training. False by default.
        ema_decay: Fixed decay of the generator's exponential moving
            average, in [0, 1); 0 disables the EMA (`ema_generator` is then
            G) unless `ema_kimg` is set.
        ema_start: G updates during which the EMA copies G before it starts
            to decay (BigGAN's `ema_start`; its DiffAugment scripts use
            1000).
        ema_kimg: EMA half-life in thousands of generated images, replacing
            `ema_decay` (StyleGAN2-ADA's `ema_kimg`), or None.
        ema_rampup: With `ema_kimg`: cap the half-life at this share of the
            images generated so far (StyleGAN2-ADA's `ema_rampup`), or None.
        num_classes: Number of classes for a class-conditional GAN; labels
            then go to G and D. None for unconditional.
        seed: Integer seed of z and label sampling, or None.
        dag: A `keras_dagan.models.DAG` to train D's transformation heads
            (the discriminator must then be a `DAGDiscriminator` with
            `dag.num_heads` heads, e.g. from `dag_discriminator`), or None.
        lecam_weight: Weight of LeCam regularization (Tseng et al., 2021):
            D's loss gains weight * (E[relu(D(x) - ema_fake)^2] +
            E[relu(ema_real - D(G(z)))^2]), the EMAs tracking D's mean
            logits on the (augmented) reals and fakes of its updates,
            head 0's with DAG. 0 (default) disables it; the reference's
            BigGAN scripts use 0.3. Logs `lecam` (the penalty, unweighted)
            and the EMAs `lecam_ema_real`, `lecam_ema_fake`.
        lecam_ema_decay: Decay of the EMAs per D update, in [0, 1): 0.99
            (the reference's StyleGAN2 code) or 0.9 (its BigGAN code).
        lecam_start: Train steps during which the EMAs copy D's means and
            the penalty is off: 0 (StyleGAN2 code, whose EMAs are instead
            zero-debiased) or 1000 (BigGAN code). See
            `keras_dagan.regularizers.LeCam`.
        apa: Adaptive pseudo augmentation (Jiang et al., 2021): with
            probability p each real image of a D update is replaced by a
            generated one, labelled real. Logs `apa_p`.
        apa_target: APA's target for r_t = E[sign(D(real))] (0.6), or None
            for a fixed p (`apa_p`).
        apa_kimg: Thousands of images over which APA's p can move by 1
            (500).
        apa_interval: Train steps between two adjustments of APA's p (4).
        apa_p: APA's initial p, or its fixed p with `apa_target=None`.
        apa_separate_controller: With an `AdaptiveAugment` whose `target`
            is set, APA shares its p and controller by default (DeceiveD's
            `--with-dataaug`; the two settings must then agree); True gives
            APA its own p and controller.
        cr_weight_real: Weight of consistency regularization on reals,
            E[(D(v) - D(v'))^2] with v the real view D scores (CR, Zhang et
            al., 2020; the DiffAugment-cr scripts: 10); 0 disables it.
        cr_weight_fake: Weight of the same term on D's fakes (bCR, Zhao et
            al., 2021: 10 with `cr_weight_real=10`); 0 disables it.
        cr_augment: The layer T making the partner view v' = T(v) of CR and
            bCR, or None (default): v' is the image before augmentation
            (the pair (DiffAugment(x), x) of the DiffAugment-cr 10 % and
            20 % scripts). See `keras_dagan.regularizers.ConsistencyRegularization`.
        **kwargs: `keras.Model` arguments such as `name`.

    Example:

    ```python
    gan = keras_dagan.GAN(generator, discriminator, latent_dim=128,
                          augment=DiffAugment("color,translation,cutout"),
                          d_steps=2, ema_decay=0.9999, ema_start=1000)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0))
    dataset = keras_dagan.data.load_tfds("cifar10", batch_size=64, d_steps=2)
    gan.fit(dataset, epochs=10, steps_per_epoch=500)
    images = gan.ema_generator(keras.random.normal((16, 128)))

    # StyleGAN2-ADA's paper256 setting: lazy R1 and path length.
    from keras_dagan.models.regularization import lazy_adam
    gan = keras_dagan.GAN(stylegan2_generator(resolution=256),
                          stylegan2_discriminator(resolution=256), latent_dim=512,
                          augment=AdaptiveAugment("bgc", target=0.6),
                          loss="non_saturating", r1_gamma=1.0, r1_interval=16,
                          pl_weight=2.0, pl_interval=4, ema_kimg=20)
    gan.compile(d_optimizer=lazy_adam(0.0025, interval=16),
                g_optimizer=lazy_adam(0.0025, interval=4))
    ```
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        augment=None,
        augment_mode="both",
        loss="hinge",
        d_steps=1,
        r1_gamma=0.0,
        r1_through_augment=True,
        r1_interval=None,
        pl_weight=0.0,
        pl_interval=4,
        pl_batch_shrink=2,
        pl_decay=0.01,
        zero_nonfinite_gradients=False,
        ema_decay=0.999,
        ema_start=0,
        ema_kimg=None,
        ema_rampup=None,
        num_classes=None,
        seed=None,
        dag=None,
        lecam_weight=0.0,
        lecam_ema_decay=0.99,
        lecam_start=0,
        apa=False,
        apa_target=0.6,
        apa_kimg=500,
        apa_interval=4,
        apa_p=0.0,
        apa_separate_controller=False,
        cr_weight_real=0.0,
        cr_weight_fake=0.0,
        cr_augment=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if augment_mode not in AUGMENT_MODES:
            raise ValueError(
                f"augment_mode must be one of {tuple(AUGMENT_MODES)}; got "
                f"{augment_mode!r}."
            )
        if isinstance(augment, BaseAugmentation) and augment.value_range != (-1.0, 1.0):
            raise ValueError(
                f"The GAN's images are in [-1, 1], but its augment layer "
                f"{augment.name!r} has value_range={augment.value_range}; build "
                "it with the default value_range=(-1, 1)."
            )
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer; got {latent_dim!r}.")
        if not isinstance(d_steps, int) or d_steps < 1:
            raise ValueError(f"d_steps must be a positive integer; got {d_steps!r}.")
        if r1_gamma < 0:
            raise ValueError(f"r1_gamma must be >= 0 (0 disables R1); got {r1_gamma}.")
        if not isinstance(r1_through_augment, bool):
            raise ValueError(
                f"r1_through_augment must be True or False; got {r1_through_augment!r}."
            )
        self.r1 = LazyRegularizer(0.5 * r1_gamma, r1_interval, "r1_interval")
        if isinstance(pl_weight, bool) or not isinstance(pl_weight, (int, float)) or pl_weight < 0:
            raise ValueError(f"pl_weight must be >= 0 (0 disables path length); got {pl_weight!r}.")
        if pl_interval is None:
            raise ValueError("pl_interval must be an integer >= 1 (G updates between two path "
                             "length steps); got None.")
        self.path_length = LazyRegularizer(pl_weight, pl_interval, "pl_interval")
        if (isinstance(pl_batch_shrink, bool) or not isinstance(pl_batch_shrink, int)
                or pl_batch_shrink < 1):
            raise ValueError(f"pl_batch_shrink must be an integer >= 1; got {pl_batch_shrink!r}.")
        if (isinstance(pl_decay, bool) or not isinstance(pl_decay, (int, float))
                or not 0 < pl_decay <= 1):
            raise ValueError(f"pl_decay must be in (0, 1]; got {pl_decay!r}.")
        if pl_weight > 0:
            check_path_length_generator(generator)
        if not isinstance(zero_nonfinite_gradients, bool):
            raise ValueError(
                f"zero_nonfinite_gradients must be True or False; got {zero_nonfinite_gradients!r}."
            )
        self.ema_schedule = EMASchedule(ema_decay, ema_start, ema_kimg, ema_rampup)
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
            raise ValueError(
                f"num_classes must be an integer >= 2, or None for an "
                f"unconditional GAN; got {num_classes!r}."
            )
        _validate_dag(dag, discriminator)
        self.lecam = _enabled(LeCam(lecam_weight, lecam_ema_decay, lecam_start))
        if not isinstance(apa, bool):
            raise ValueError(f"apa must be True or False; got {apa!r}.")
        self.apa = None
        if apa:
            self.apa = AdaptivePseudoAugmentation(apa_target, apa_kimg, apa_interval, apa_p,
                                                  apa_separate_controller)
            self.apa.share(augment)
        self.consistency = _enabled(
            ConsistencyRegularization(cr_weight_real, cr_weight_fake, cr_augment))
        if self.consistency is not None:
            self.consistency.check_partner(augment, AUGMENT_MODES[augment_mode])
        self.generator = generator
        self.discriminator = discriminator
        self.dag = dag
        self.latent_dim = latent_dim
        self.augment = augment
        self.augment_mode = augment_mode
        self.loss_name = validate_loss(loss)
        self.d_steps = d_steps
        self.r1_gamma = float(r1_gamma)
        self.r1_through_augment = r1_through_augment
        self.r1_interval = r1_interval
        self.pl_weight = float(pl_weight)
        self.pl_batch_shrink = pl_batch_shrink
        self.pl_decay = float(pl_decay)
        self.zero_nonfinite_gradients = zero_nonfinite_gradients
        self.num_classes = num_classes
        # Saved by save_own_variables under their names (not as the Model's
        # numbered weights, so that checkpoints of earlier versions load).
        self._state = _TrainingState()
        self.seed_generator = keras.random.SeedGenerator(seed)

        # Subclassed models create their weights on their first call.
        probe_labels = ops.zeros((1,), "int32")
        probe = self._generator_inputs(ops.zeros((1, latent_dim)), probe_labels)
        if not generator.built:
            generator(probe)
        if not discriminator.built:
            images = generator(probe)
            if dag is not None:
                images = ops.repeat(images[None], dag.num_heads, axis=0)
            discriminator(self._discriminator_inputs(images, probe_labels))
        if self.ema_schedule.enabled:
            self._ema_generator = keras.models.clone_model(generator)
            if not self._ema_generator.built:
                self._ema_generator(probe)
            self._ema_generator.set_weights(generator.get_weights())
            self._ema_generator.trainable = False
        else:
            self._ema_generator = None

        names = ["d_loss", "g_loss", "d_real", "d_fake", "r_t"]
        if self.r1_gamma > 0:
            names.insert(2, "r1")
        if self.pl_weight > 0:
            names.insert(2, "pl_penalty")
        if self.lecam is not None:
            names.append("lecam")
        if self.consistency is not None:
            names.extend(f"cr_{side}" for side in ("real", "fake")
                         if getattr(self.consistency, f"weight_{side}") > 0)
        if dag is not None:
            names.extend(f"d_loss_{head}" for head in dag.head_names)
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.built = True

    @property
    def ema_generator(self):
        """The generator to sample, evaluate and export: G's moving average,
        or G itself when the EMA is off (`ema_decay=0` without `ema_kimg`)."""
        return self._ema_generator if self._ema_generator is not None else self.generator

    @property
    def train_steps(self):
        """The train steps (G updates) made so far, an int64 variable saved
        with the weights; the lazy regularization and EMA schedules count
        from it. Unlike the optimizers' `iterations` it does not count the
        lazy regularization steps."""
        return self._state.train_steps

    @property
    def pl_mean(self):
        """The running mean of the path lengths (float32 variable, saved
        with the weights)."""
        return self._state.pl_mean

    @property
    def metrics(self):
        return list(self._trackers.values())

    def _generator_inputs(self, z, labels):
        return z if self.num_classes is None else [z, labels]

    def _discriminator_inputs(self, images, labels):
        return images if self.num_classes is None else [images, labels]

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Sets the two optimizers (call it under the strategy's scope).

        Under the "mixed_float16" policy each is wrapped in a
        `keras.optimizers.LossScaleOptimizer`, as `keras.Model.compile` does.

        Args:
            d_optimizer: Keras optimizer of the discriminator.
            g_optimizer: Keras optimizer of the generator.
            **kwargs: Other `keras.Model.compile` arguments (e.g.
                `jit_compile`).
        """
        super().compile(**kwargs)
        if self.zero_nonfinite_gradients:
            for optimizer in (d_optimizer, g_optimizer):
                if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                    raise ValueError(
                        "zero_nonfinite_gradients=True replaces the infinite gradients that a "
                        "LossScaleOptimizer needs to see to lower its scale; pass the inner "
                        "optimizer, or set zero_nonfinite_gradients=False."
                    )
        elif keras.config.dtype_policy().name == "mixed_float16":
            d_optimizer = _loss_scaled(d_optimizer)
            g_optimizer = _loss_scaled(g_optimizer)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Build now: variables can't be created inside a replica's step.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    # The random state is saved with the weights, so that a run resumed from
    # a checkpoint draws the same z and augmentations as one never stopped.
    # So is the training state: the step count that sets the lazy
    # regularization and EMA schedules, and the path length mean.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_generator_state"] = self.seed_generator.state.numpy()
        for name, variable in self._named_state():
            store[name] = variable.numpy()

    def load_own_variables(self, store):
        keys = set(store.keys())
        if "seed_generator_state" in keys:
            self.seed_generator.state.assign(store["seed_generator_state"][...])
        named = dict(self._named_state())
        for name, variable in named.items():
            if name in keys:
                variable.assign(store[name][...])
        self._state.missing_steps = "train_steps" not in keys
        own = {key: store[key] for key in keys - set(named) - {"seed_generator_state"}}
        super().load_own_variables(own)

    def _named_state(self):
        """(name, variable) of the training state saved beside the weights:
        the step count, pl_mean, and the regularizers' EMAs and p."""
        named = self._state.named()
        for regularizer in (self.lecam, self.apa):
            if regularizer is not None:
                named = named + regularizer.named()
        return named

    def load_weights(self, filepath, *args, **kwargs):
        """`keras.Model.load_weights`; weights saved before the GAN counted
        `train_steps` set it from the G optimizer's `iterations` (equal
        then, as those runs made no lazy regularization step)."""
        self._state.missing_steps = False
        super().load_weights(filepath, *args, **kwargs)
        if self._state.missing_steps and getattr(self, "g_optimizer", None) is not None:
            self.train_steps.assign(self.g_optimizer.iterations)

    def call(self, inputs, training=False):
        """Samples the EMA generator: `inputs` is z, or [z, labels]."""
        return self.ema_generator(inputs, training=training)

    # -- one training step ---------------------------------------------------

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`; under a strategy of R > 1 replicas with
        `d_steps > 1`, a `tf.data.Dataset` is first reordered so that the
        strategy's even split gives each replica its share of every D
        update's reals (see `interleave_for_replicas`)."""
        replicas = self.distribute_strategy.num_replicas_in_sync
        if isinstance(x, tf.data.Dataset) and replicas > 1 and self.d_steps > 1:
            # Plain TensorFlow ops: AutoGraph has nothing to convert, and its
            # conversion of this lambda was seen to pick up another function
            # of this module.
            @tf.autograph.experimental.do_not_convert
            def interleave(*element):
                return interleave_for_replicas(
                    element[0] if len(element) == 1 else element, self.d_steps, replicas)

            x = x.map(interleave)
        return super().fit(x, *args, **kwargs)

    def train_step(self, data):
        real, labels = self._unpack(data)
        local_batch = _d_step_batch(real, self.d_steps)
        step = self._replica_draws(local_batch)

        lazy_logs = {"r1": [], "pl_penalty": []}
        for index in range(self.d_steps):
            rows = slice(index * local_batch, (index + 1) * local_batch)
            reals, real_labels = real[rows], None if labels is None else labels[rows]
            # APA: generated images in place of some reals, labelled real.
            reals = self._pseudo_augment(reals, real_labels, step)
            # D: its loss, plus R1 unless lazy, LeCam and CR; then lazy R1
            # when due.
            d_logs = self._discriminator_update(reals, real_labels, step)
            if self.r1_gamma > 0 and self.r1.lazy:
                d_update = self.train_steps * self.d_steps + index
                lazy_logs["r1"].append(self._lazy_r1(reals, real_labels, d_update))
            if index == 0:
                self._adapt_augment_probability(d_logs["r_t"], local_batch)
        # G: its loss; then path length regularization when due.
        g_loss = self._generator_update(step)
        if self.pl_weight > 0:
            lazy_logs["pl_penalty"].append(self._lazy_path_length(local_batch, self.train_steps))
        self._update_ema(step.global_batch)
        self.train_steps.assign_add(1)
        return self._record(dict(d_logs, g_loss=g_loss), lazy_logs)

    def _record(self, logs, lazy_logs):
        """Updates the trackers with `logs` and with `lazy_logs`' pairs
        (value, 1.0 if this step computed it else 0.0): a lazy regularizer's
        log is the mean over the steps that computed it. Returns the
        results."""
        for name, tracker in self._trackers.items():
            if name in logs:
                tracker.update_state(logs[name])
            for value, computed in lazy_logs.get(name, ()):
                tracker.update_state(value, sample_weight=computed)
        results = {name: tracker.result() for name, tracker in self._trackers.items()}
        if isinstance(self.augment, AdaptiveAugment):
            results["augment_p"] = ops.convert_to_tensor(self.augment.p)
        if self.apa is not None:
            results["apa_p"] = ops.convert_to_tensor(self.apa.p)
        if self.lecam is not None:
            results["lecam_ema_real"] = ops.convert_to_tensor(self.lecam.ema_real)
            results["lecam_ema_fake"] = ops.convert_to_tensor(self.lecam.ema_fake)
        return results

    def _adapt_augment_probability(self, r_t, local_batch):
        """Feeds ADA's controller, and APA's own, the step's sum of
        sign(D(real)) over the global batch (the first D update's reals,
        pseudo ones included), once per train step."""
        controllers = []
        if isinstance(self.augment, AdaptiveAugment) and self.augment.target is not None:
            controllers.append(self.augment.update_probability)
        if self.apa is not None:
            controllers.append(self.apa.update)
        if not controllers:
            return
        count = tf.cast(local_batch, "float32")

        def update(strategy, sign_sum, count):
            sign_sum = strategy.reduce("SUM", sign_sum, axis=None)
            count = strategy.reduce("SUM", count, axis=None)
            for controller in controllers:
                controller(sign_sum, count)

        tf.distribute.get_replica_context().merge_call(update, args=(r_t * count, count))

    def _unpack(self, data):
        if isinstance(data, dict):
            images, labels = data["image"], data.get("label")
        elif isinstance(data, (tuple, list)):
            images, labels = data[0], (data[1] if len(data) > 1 else None)
        else:
            images, labels = data, None
        if self.num_classes is not None and labels is None:
            raise ValueError(
                "This GAN is conditional (num_classes="
                f"{self.num_classes}) but the dataset yields no labels; yield "
                "(images, labels) or {'image': ..., 'label': ...}."
            )
        if images.dtype == tf.uint8:
            raise ValueError(
                "The dataset yields uint8 images; the GAN expects floats in "
                "[-1, 1]. Use keras_dagan.data.prepare_dataset or map "
                "x / 127.5 - 1."
            )
        if labels is not None:
            labels = tf.cast(tf.reshape(labels, (-1,)), "int32")
        return images, labels

    def _sample(self, step, with_labels):
        z = step.normal(self.latent_dim)
        labels = None
        if self.num_classes is not None and with_labels:
            labels = step.integers(self.num_classes)
        return z, labels

    def _views(self, images, path, step):
        """The (num_views, N, ...) stack D scores: the images alone, or with
        DAG the images and T_1(images), ..., T_K(images); then each view is
        augmented with its own draws if `path` is augmented."""
        augmented = AUGMENT_MODES[self.augment_mode][path] and self.augment is not None
        if self.dag is None:
            # The common case, kept free of the stacking below: every op
            # here costs dispatch time in a graph-mode step.
            if augmented and isinstance(self.augment, BaseAugmentation):
                images = self.augment.apply_transformation(
                    images, step.transformation(self.augment, images))
            elif augmented:
                images = self.augment(images, training=True)
            return images[None]
        # Not compiled with XLA: TensorFlow's own rotation, resize and
        # gather kernels ran these views faster on CPU (46 vs 55 ms for
        # 10 views of 64x32x32x3, forward and backward).
        views = self.dag.transform_images(images, step.transformation(self.dag, images))
        if not augmented:
            return views
        num_views = views.shape[0]
        flat = ops.reshape(views, (-1,) + tuple(views.shape[2:]))
        if isinstance(self.augment, BaseAugmentation):
            # One draw per view, each for the global batch, so that a run on
            # R replicas still makes the draws of one device.
            draws = [step.transformation(self.augment, views[k]) for k in range(num_views)]
            transformation = tf.nest.map_structure(
                lambda *parts: ops.concatenate(parts, axis=0), *draws
            )
            flat = self.augment.apply_transformation(flat, transformation)
        else:
            flat = self.augment(flat, training=True)
        return ops.reshape(flat, (num_views, -1) + tuple(views.shape[2:]))

    def _logits(self, views, labels, heads=None):
        """(num_views, N) float32 logits; view k scored by head `heads[k]`."""
        if self.dag is None:
            logits = self.discriminator(
                self._discriminator_inputs(views[0], labels), training=True
            )
            logits = ops.reshape(logits, (1, -1))
        else:
            logits = self.discriminator(
                self._discriminator_inputs(views, labels), heads=heads, training=True
            )
        return ops.cast(logits, "float32")

    def _summed_over_heads(self, per_head, for_generator):
        """(N,) losses from (num_heads, N): head 0's, plus with DAG the
        weighted sum over the transformation heads."""
        if self.dag is None:
            return per_head[0]
        weight = self.dag.generator_weight if for_generator else self.dag.weight
        return self.dag.combine(per_head, weight)

    def _discriminator_update(self, real, labels, step):
        """D's update; with R1 (`r1_gamma > 0`) not lazy, the penalty is part
        of its loss (StyleGAN2's phase Dboth)."""
        with_r1 = self.r1_gamma > 0 and not self.r1.lazy
        z, fake_labels = self._sample(step, with_labels=True)
        fake = self.generator(self._generator_inputs(z, fake_labels), training=True)
        fake = tf.stop_gradient(fake)
        with tf.GradientTape() as tape:
            if with_r1:
                real_views, real_logits, r1 = self._real_logits_and_r1(real, labels, step)
            else:
                real_views = self._views(real, 0, step)
                real_logits = self._logits(real_views, labels)
            fake_views = self._views(fake, 1, step)
            fake_logits = self._logits(fake_views, fake_labels)
            per_head = tf.reshape(
                discriminator_loss(self.loss_name, real_logits, fake_logits),
                tf.shape(real_logits),
            )
            per_sample = self._summed_over_heads(per_head, for_generator=False)
            # Each penalty: (weight, per-sample values), head 0's with DAG.
            penalties = {}
            if with_r1:
                penalties["r1"] = (self.r1.step_weight, r1)
            if self.lecam is not None:
                penalties["lecam"] = self._lecam_penalty(real_logits[0], fake_logits[0], step)
            if self.consistency is not None:
                penalties.update(self._consistency_penalties(
                    ((real, real_views, real_logits, labels),
                     (fake, fake_views, fake_logits, fake_labels)), step))
            total = per_sample
            for weight, values in penalties.values():
                total = total + weight * values
            loss = tf.reduce_sum(total) / tf.cast(step.global_batch, "float32")
            scaled = self.d_optimizer.scale_loss(loss)
        self._apply(self.d_optimizer, tape.gradient(scaled, self.discriminator.trainable_variables),
                    self.discriminator.trainable_variables)
        logs = {
            "d_loss": tf.reduce_mean(per_sample),
            "d_real": tf.reduce_mean(real_logits[0]),
            "d_fake": tf.reduce_mean(fake_logits[0]),
            "r_t": tf.reduce_mean(tf.sign(real_logits[0])),
        }
        for name, (_, values) in penalties.items():
            logs[name] = tf.reduce_mean(values)
        if self.dag is not None:
            for index, head in enumerate(self.dag.head_names):
                logs[f"d_loss_{head}"] = tf.reduce_mean(per_head[index])
        return logs

    def _lazy_r1(self, real, labels, d_update):
        """Lazy R1 (StyleGAN2's phase Dreg): when D update `d_update`
        (0-based) is a multiple of `r1_interval`, a D optimizer step on
        gamma/2 * r1_interval * the R1 penalty of this update's reals, their
        views augmented afresh as in the D update. Returns (the penalty's
        mean, 1.0) when it ran, else (0.0, 0.0)."""

        def dreg(real, *labels):
            labels = labels[0] if labels else None
            step = self._replica_draws(tf.shape(real)[0])
            with tf.GradientTape() as tape:
                r1 = self._real_logits_and_r1(real, labels, step, head_0_only=True)[2]
                global_batch = tf.cast(step.global_batch, "float32")
                loss = self.r1.step_weight * tf.reduce_sum(r1) / global_batch
                scaled = self.d_optimizer.scale_loss(loss)
            variables = self.discriminator.trainable_variables
            self._apply(self.d_optimizer, tape.gradient(scaled, variables), variables,
                        missing_as_zero=True)
            return tf.reduce_mean(r1)

        due = self.r1.due(d_update)
        args = (real,) if labels is None else (real, labels)
        return run_when(due, dreg, *args), tf.cast(due, "float32")

    def _real_logits_and_r1(self, real, labels, step, head_0_only=False):
        """The real views, D's logits on them and the per-sample R1 penalty
        ||grad D||^2 of head 0, taken with respect to x or, without
        `r1_through_augment`, to augment(x); with `head_0_only`, no other
        head's logits."""
        r1, real_views, real_logits = r1_penalty(
            real,
            lambda images: self._views(images, 0, step),
            lambda views: self._logits(views, labels, heads=(0,)),
            self.r1_through_augment,
        )
        if self.dag is not None and not head_0_only:
            transformed = self._logits(real_views[1:], labels, heads=range(1, self.dag.num_heads))
            real_logits = ops.concatenate([real_logits, transformed], axis=0)
        return real_views, real_logits, r1

    def _pseudo_augment(self, real, labels, step):
        """APA: each real replaced with probability p by a generated image,
        made for the occasion with the reals' labels, without gradient."""
        if self.apa is None:
            return real
        z, _ = self._sample(step, with_labels=False)
        pseudo = self.generator(self._generator_inputs(z, labels), training=True)
        return self.apa.mix(real, tf.stop_gradient(pseudo), step.uniform())

    def _lecam_penalty(self, real_logits, fake_logits, step):
        """LeCam: the EMAs move toward this update's mean logits, then
        (weight once started, per-sample penalty)."""
        ema_real, ema_fake = self.lecam.update_averages(
            real_logits, fake_logits, step.global_batch, self.train_steps)
        weight = self.lecam.weight * self.lecam.active(self.train_steps)
        return weight, self.lecam.penalty(real_logits, fake_logits, ema_real, ema_fake)

    def _consistency_penalties(self, paths, step):
        """CR and bCR: {"cr_real": (weight, values), "cr_fake": ...} for the
        enabled terms; `paths` holds per path (images, views, logits,
        labels). Head 0's view v against T(v), or against the image before
        augmentation without `cr_augment`."""
        penalties = {}
        for path, weight in self.consistency.weights():
            images, views, logits, labels = paths[path]
            transform = self.consistency.transform
            if transform is None:
                partner = images
            elif isinstance(transform, BaseAugmentation):
                partner = transform.apply_transformation(
                    views[0], step.transformation(transform, views[0]))
            else:
                partner = transform(views[0], training=True)
            partner_logits = self._logits(partner[None], labels, heads=(0,))
            name = "cr_real" if path == 0 else "cr_fake"
            penalties[name] = (weight, self.consistency.penalty(logits[0], partner_logits[0]))
        return penalties

    def _generator_update(self, step):
        z, fake_labels = self._sample(step, with_labels=True)
        with tf.GradientTape() as tape:
            fake = self.generator(self._generator_inputs(z, fake_labels), training=True)
            fake_logits = self._logits(self._views(fake, 2, step), fake_labels)
            per_head = tf.reshape(
                generator_loss(self.loss_name, fake_logits), tf.shape(fake_logits)
            )
            per_sample = self._summed_over_heads(per_head, for_generator=True)
            loss = tf.reduce_sum(per_sample) / tf.cast(step.global_batch, "float32")
            scaled = self.g_optimizer.scale_loss(loss)
        variables = self.generator.trainable_variables
        self._apply(self.g_optimizer, tape.gradient(scaled, variables), variables)
        return tf.reduce_mean(per_sample)

    def _lazy_path_length(self, local_batch, g_update):
        """Path length regularization (StyleGAN2's phase Greg): when G update
        `g_update` (0-based) is a multiple of `pl_interval`, a G optimizer
        step on pl_weight * pl_interval * (length - pl_mean)^2 for fresh z,
        `pl_batch_shrink` times fewer than a batch, pl_mean first moving
        toward the mean length of the global batch (and staying
        differentiable in the step's loss, as in the reference). Returns
        (the penalty's mean, 1.0) when it ran, else (0.0, 0.0)."""
        context = tf.distribute.get_replica_context()
        if isinstance(local_batch, int) and local_batch < self.pl_batch_shrink:
            raise ValueError(
                f"Path length regularization generates batch // pl_batch_shrink samples; a "
                f"batch of {local_batch} per replica and pl_batch_shrink={self.pl_batch_shrink} "
                "leave none. Use a larger batch or a smaller pl_batch_shrink."
            )

        def greg(local_batch):
            step = self._replica_draws(local_batch // self.pl_batch_shrink)
            z, labels = self._sample(step, with_labels=True)
            global_batch = tf.cast(step.global_batch, "float32")
            with tf.GradientTape() as tape:
                lengths = path_lengths(self.generator, z, labels, step.normal_like)
                mean = tf.reduce_sum(lengths) / global_batch
                if context.num_replicas_in_sync > 1:
                    # Differentiable: the gradient of an all-sum is an all-sum.
                    mean = tf.distribute.get_replica_context().all_reduce("SUM", mean)
                pl_mean = self.pl_mean + self.pl_decay * (mean - self.pl_mean)
                penalty = tf.square(lengths - pl_mean)
                loss = self.path_length.step_weight * tf.reduce_sum(penalty) / global_batch
                scaled = self.g_optimizer.scale_loss(loss)
            variables = self.generator.trainable_variables
            self._apply(self.g_optimizer, tape.gradient(scaled, variables), variables,
                        missing_as_zero=True)
            self.pl_mean.assign(tf.stop_gradient(pl_mean))
            return tf.reduce_mean(penalty)

        due = self.path_length.due(g_update)
        return run_when(due, greg, tf.convert_to_tensor(local_batch)), tf.cast(due, "float32")

    def _replica_draws(self, local_batch):
        """`_ReplicaDraws` for `local_batch` samples per replica."""
        context = tf.distribute.get_replica_context()
        global_batch = local_batch * context.num_replicas_in_sync
        return _ReplicaDraws(context, local_batch, global_batch, self.seed_generator)

    def _apply(self, optimizer, gradients, variables, missing_as_zero=False):
        """`optimizer.apply`, the gradients first made finite with
        `zero_nonfinite_gradients`. `missing_as_zero`: variables without a
        gradient get zeros, so that the optimizer steps them too (a
        regularization step, in which the reference gives every weight a
        gradient, zero where the penalty does not depend on it: Adam's
        moments then decay and its momentum still moves the weight)."""
        if missing_as_zero:
            gradients = [tf.zeros_like(variable) if gradient is None else gradient
                         for gradient, variable in zip(gradients, variables)]
        if self.zero_nonfinite_gradients:
            gradients = [nan_to_num(gradient) for gradient in gradients]
        optimizer.apply(gradients, variables)

    def _update_ema(self, global_batch):
        if self._ema_generator is None:
            return
        trainable = {id(v) for v in self.generator.trainable_variables}
        pairs = [
            (ema.value, source.value, id(source) in trainable)
            for ema, source in zip(self._ema_generator.variables, self.generator.variables)
        ]

        def update(strategy, global_batch):
            # This step's G update is number train_steps + 1 (1-based).
            batch = strategy.experimental_local_results(global_batch)[0]
            decay = self.ema_schedule(self.train_steps + 1, batch)
            for ema, source, averaged in pairs:
                if averaged:
                    fn = lambda e, s: e.assign(decay * e + (1.0 - decay) * s)  # noqa: E731
                else:  # batch-norm statistics are copied, as StyleGAN2 does
                    fn = lambda e, s: e.assign(s)  # noqa: E731
                strategy.extended.update(ema, fn, args=(source,), group=False)

        tf.distribute.get_replica_context().merge_call(update, args=(global_batch,))


class _ReplicaDraws:
    """The random draws of one train step, made for the global batch from
    the GAN's seed generator.

    Every replica draws from the same random state for all
    `global_batch` samples and keeps the slice of its own samples, so draws
    are independent across replicas and identical to one device's.
    """

    def __init__(self, context, local_batch, global_batch, seed_generator):
        self.seed_generator = seed_generator
        self.replicas = context.num_replicas_in_sync
        self.local_batch = local_batch
        self.global_batch = global_batch
        replica = tf.cast(context.replica_id_in_sync_group, "int32")
        self.start = replica * local_batch

    def _own(self, tensor):
        if self.replicas == 1:
            return tensor
        return tensor[self.start : self.start + self.local_batch]

    def normal(self, dim):
        draws = keras.random.normal((self.global_batch, dim), seed=self.seed_generator)
        return self._own(draws)

    def normal_like(self, shape):
        """Standard normal draws of `shape` (a batch of this replica's size:
        its first dimension is ignored), drawn for the global batch."""
        draws = keras.random.normal((self.global_batch,) + tuple(shape[1:]),
                                    seed=self.seed_generator)
        return self._own(draws)

    def uniform(self):
        """(local batch,) draws uniform in [0, 1), drawn for the global batch."""
        return self._own(keras.random.uniform((self.global_batch,), seed=self.seed_generator))

    def integers(self, maxval):
        draws = keras.random.randint((self.global_batch,), 0, maxval, seed=self.seed_generator)
        return self._own(tf.cast(draws, "int32"))

    def transformation(self, layer, images):
        """The random parameters of `layer` (a `keras_dagan.augment` layer
        or a `DAG`) for this replica's `images`."""
        shape = images.shape
        if self.replicas == 1:
            stand_in = images
        else:
            # Only its batch size and static image size are read.
            stand_in = tf.zeros(tf.concat([[self.global_batch], tf.shape(images)[1:]], 0), images.dtype)
            stand_in.set_shape([None] + list(shape[1:]))
        # The GAN's stream, not the layer's: it is mirrored across replicas
        # even when the layer was made outside the strategy's scope.
        transformation = layer.get_random_transformation(
            stand_in, training=True, seed=self.seed_generator
        )
        return tf.nest.map_structure(self._own, transformation)


class _TrainingState:
    """The GAN's training state kept outside its numbered Keras weights:
    `train_steps` (int64) and `pl_mean` (float32), created in the current
    strategy's scope and the same on every replica."""

    def __init__(self):
        self.train_steps = keras.Variable(0, dtype="int64", trainable=False,
                                          aggregation="only_first_replica", name="train_steps")
        self.pl_mean = keras.Variable(0.0, dtype="float32", trainable=False,
                                      aggregation="only_first_replica", name="pl_mean")
        self.missing_steps = False

    def named(self):
        return [("train_steps", self.train_steps), ("pl_mean", self.pl_mean)]


def _validate_dag(dag, discriminator):
    if dag is None:
        if isinstance(discriminator, DAGDiscriminator):
            raise ValueError(
                f"The discriminator {discriminator.name!r} is a DAGDiscriminator "
                "but dag is None; pass dag=DAG(...) with the transforms its "
                f"{discriminator.num_heads} heads are for."
            )
        return
    if not isinstance(dag, DAG):
        raise ValueError(
            f"dag must be a keras_dagan.models.DAG or None; got {dag!r}. For "
            "example dag=DAG(['rotation', 'cropping'])."
        )
    if isinstance(discriminator, DAGDiscriminator):
        if discriminator.num_heads == dag.num_heads:
            return
        got = f"a DAGDiscriminator with {discriminator.num_heads} heads"
    else:
        got = f"{type(discriminator).__name__} {discriminator.name!r}"
    raise ValueError(
        f"dag has {dag.num_heads} heads ({', '.join(dag.head_names)}), so the "
        f"discriminator must be a DAGDiscriminator with num_heads="
        f"{dag.num_heads}; got {got}. Wrap a bundled discriminator with "
        f"dag_discriminator(discriminator, {dag.num_heads})."
    )


def _enabled(regularizer):
    """The regularizer, or None when its weights turn it off."""
    return regularizer if regularizer.enabled else None


def _loss_scaled(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def _d_step_batch(real, d_steps):
    """The reals of one D update: the batch divided by `d_steps`, checked."""
    batch = real.shape[0]
    fix = (f"batch d_steps * B reals per step, e.g. keras_dagan.data.prepare_dataset(..., "
           f"batch_size=B, d_steps={d_steps})")
    if batch is not None:
        if batch % d_steps:
            raise ValueError(
                f"A batch of {batch} reals cannot be split into d_steps={d_steps} equal D "
                f"updates; {fix}."
            )
        return batch // d_steps
    batch = tf.shape(real)[0]
    with tf.control_dependencies([tf.debugging.assert_equal(
        batch % d_steps, 0,
        message=f"The batch of reals cannot be split into d_steps={d_steps} equal D updates; "
                f"{fix}.",
    )]):
        return tf.identity(batch // d_steps)


def interleave_for_replicas(element, d_steps, replicas):
    """Reorders one global batch of `d_steps * R * B` examples so that an
    even split into R contiguous replica shares gives replica r the rows
    of every D update k's share: global rows (k, r, b) move to (r, k, b).
    Then replica r's slice k is its part of global slice k, and R replicas
    train on the same reals per D update as one device.

    Args:
        element: A batch: a tensor, or a tuple or dict of tensors that share
            their first dimension (images, labels, ...).
        d_steps: D updates per train step.
        replicas: Number of replicas the strategy splits the batch over.

    Example:

    ```python
    dataset = dataset.map(lambda images, labels: interleave_for_replicas(
        (images, labels), d_steps=4, replicas=2))
    ```
    """

    def reorder(tensor):
        batch = tensor.shape[0]
        if batch is not None and batch % (d_steps * replicas):
            raise ValueError(
                f"A global batch of {batch} reals cannot be split into d_steps={d_steps} D "
                f"updates on {replicas} replicas; make it a multiple of "
                f"{d_steps * replicas} (d_steps * replicas * the per-replica batch of one "
                "D update)."
            )
        rest = tf.shape(tensor)[1:]
        blocks = tf.reshape(tensor, tf.concat([[d_steps, replicas, -1], rest], 0))
        order = tf.concat([[1, 0], tf.range(2, tf.rank(blocks))], 0)
        reordered = tf.reshape(tf.transpose(blocks, order), tf.shape(tensor))
        reordered.set_shape(tensor.shape)
        return reordered

    return tf.nest.map_structure(reorder, element)
