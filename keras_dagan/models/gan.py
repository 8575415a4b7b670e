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
from keras_dagan.models.losses import discriminator_loss, generator_loss, validate_loss

# Which of the three paths each mode augments: (D real, D fake, G fake).
AUGMENT_MODES = {
    "both": (True, True, True),
    "real_only": (True, False, False),
    "d_only": (True, True, False),
    "none": (False, False, False),
}


class GAN(keras.Model):
    """A generator and a discriminator trained adversarially with `fit`.

    Each `train_step` makes `d_steps` discriminator updates and one generator
    update:

    - D update: D sees augment(x) and augment(G(z)); loss `loss` plus, when
      `r1_gamma > 0`, the R1 penalty gamma/2 * E||grad_x D(augment(x))||^2,
      the gradient taken with respect to the real images through the
      augmentation, as DiffAugment-StyleGAN2 does.
    - G update: D sees augment(G(z)); the gradient reaches G through the
      augmentation.
    - Then the EMA generator moves toward G.

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
    `transform_images` is compiled with XLA even in a graph-mode step, which
    fuses its elementwise passes. Batch
    normalization in G normalizes over each replica's batch unless it is
    `keras.layers.BatchNormalization(synchronized=True)`. Each D update uses the
    step's real batch with fresh z and fresh draws. Losses are averaged over
    the global batch, so under `tf.distribute.MirroredStrategy` the summed
    replica gradients equal the single-device gradient. For
    `keras_dagan.augment` layers and for z, every replica draws the
    parameters of the whole global batch from the same random state and takes
    its own slice: samples are independent across replicas, and a run on R
    replicas uses the same draws as one device with the same global batch.

    Args:
        generator: Keras model mapping z (N, latent_dim), or [z, labels] when
            conditional, to images (N, H, W, C) in [-1, 1].
        discriminator: Keras model mapping images, or [images, labels] when
            conditional, to logits (N, 1) or (N,).
        latent_dim: Size of z ~ N(0, I).
        augment: Any Keras layer applied to D's inputs (such as
            `keras_dagan.augment.DiffAugment`), or None. With an
            `AdaptiveAugment` whose `target` is set, every train step feeds
            its controller the sum of sign(D(real)) of the first D update
            over the global batch, and `augment_p` (the current p) joins
            the logs.
        augment_mode: Which paths are augmented: "both" (DiffAugment: reals
            and fakes in D's update and fakes in G's), "real_only" (reals
            only: G learns the augmented distribution), "d_only" (reals and
            fakes in D's update only), or "none".
        loss: "hinge", "non_saturating" or "wasserstein".
        d_steps: Discriminator updates per generator update.
        r1_gamma: Weight of the R1 penalty on reals; 0 disables it.
        ema_decay: Decay of the generator's exponential moving average,
            in [0, 1); 0 disables the EMA (`ema_generator` is then G).
        num_classes: Number of classes for a class-conditional GAN; labels
            then go to G and D. None for unconditional.
        seed: Integer seed of z and label sampling, or None.
        dag: A `keras_dagan.models.DAG` to train D's transformation heads
            (the discriminator must then be a `DAGDiscriminator` with
            `dag.num_heads` heads, e.g. from `dag_discriminator`), or None.
        **kwargs: `keras.Model` arguments such as `name`.

    Example:

    ```python
    gan = keras_dagan.GAN(generator, discriminator, latent_dim=128,
                          augment=DiffAugment("color,translation,cutout"))
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0))
    gan.fit(dataset, epochs=10, steps_per_epoch=500)
    images = gan.ema_generator(keras.random.normal((16, 128)))
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
        ema_decay=0.999,
        num_classes=None,
        seed=None,
        dag=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if augment_mode not in AUGMENT_MODES:
            raise ValueError(
                f"augment_mode must be one of {tuple(AUGMENT_MODES)}; got "
                f"{augment_mode!r}."
            )
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer; got {latent_dim!r}.")
        if not isinstance(d_steps, int) or d_steps < 1:
            raise ValueError(f"d_steps must be a positive integer; got {d_steps!r}.")
        if r1_gamma < 0:
            raise ValueError(f"r1_gamma must be >= 0 (0 disables R1); got {r1_gamma}.")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(
                f"ema_decay must be in [0, 1) (0 disables the EMA); got {ema_decay}."
            )
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
            raise ValueError(
                f"num_classes must be an integer >= 2, or None for an "
                f"unconditional GAN; got {num_classes!r}."
            )
        _validate_dag(dag, discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.dag = dag
        self.latent_dim = latent_dim
        self.augment = augment
        self.augment_mode = augment_mode
        self.loss_name = validate_loss(loss)
        self.d_steps = d_steps
        self.r1_gamma = float(r1_gamma)
        self.ema_decay = float(ema_decay)
        self.num_classes = num_classes
        self.seed_generator = keras.random.SeedGenerator(seed)
        if isinstance(augment, BaseAugmentation):
            # Our layers are XLA-compatible by design; compiling them even in
            # a graph-mode step fuses their elementwise passes (about 40 %
            # less augmentation time on CPU).
            self._transform_images = tf.function(augment.transform_images, jit_compile=True)

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
        if self.ema_decay > 0:
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
        if dag is not None:
            names.extend(f"d_loss_{head}" for head in dag.head_names)
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.built = True

    @property
    def ema_generator(self):
        """The generator to sample, evaluate and export: G's moving average,
        or G itself when `ema_decay` is 0."""
        return self._ema_generator if self._ema_generator is not None else self.generator

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
        if keras.config.dtype_policy().name == "mixed_float16":
            d_optimizer = _loss_scaled(d_optimizer)
            g_optimizer = _loss_scaled(g_optimizer)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Build now: variables can't be created inside a replica's step.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    # The random state is saved with the weights, so that a run resumed from
    # a checkpoint draws the same z and augmentations as one never stopped.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_generator_state"] = self.seed_generator.state.numpy()

    def load_own_variables(self, store):
        if "seed_generator_state" in store.keys():
            self.seed_generator.state.assign(store["seed_generator_state"][...])
        own = {key: store[key] for key in store.keys() if key != "seed_generator_state"}
        super().load_own_variables(own)

    def call(self, inputs, training=False):
        """Samples the EMA generator: `inputs` is z, or [z, labels]."""
        return self.ema_generator(inputs, training=training)

    # -- one training step ---------------------------------------------------

    def train_step(self, data):
        real, labels = self._unpack(data)
        context = tf.distribute.get_replica_context()
        local_batch = tf.shape(real)[0]
        global_batch = local_batch * context.num_replicas_in_sync
        step = _ReplicaDraws(context, local_batch, global_batch, self.seed_generator)

        for index in range(self.d_steps):
            d_logs = self._discriminator_update(real, labels, step)
            if index == 0:
                self._adapt_augment_probability(d_logs["r_t"], local_batch)
        g_loss = self._generator_update(real, step)
        self._update_ema()

        logs = dict(d_logs, g_loss=g_loss)
        for name, tracker in self._trackers.items():
            tracker.update_state(logs[name])
        results = {name: tracker.result() for name, tracker in self._trackers.items()}
        if isinstance(self.augment, AdaptiveAugment):
            results["augment_p"] = ops.convert_to_tensor(self.augment.p)
        return results

    def _adapt_augment_probability(self, r_t, local_batch):
        """Feeds ADA's controller the step's sum of sign(D(real)) over the
        global batch (the first D update's reals), once per train step."""
        if not isinstance(self.augment, AdaptiveAugment) or self.augment.target is None:
            return
        count = tf.cast(local_batch, "float32")

        def update(strategy, sign_sum, count):
            return self.augment.update_probability(
                strategy.reduce("SUM", sign_sum, axis=None), strategy.reduce("SUM", count, axis=None)
            )

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
                images = self._transform_images(images, step.transformation(self.augment, images))
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
            flat = self._transform_images(flat, transformation)
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
        z, fake_labels = self._sample(step, with_labels=True)
        fake = self.generator(self._generator_inputs(z, fake_labels), training=True)
        fake = tf.stop_gradient(fake)
        with tf.GradientTape() as tape:
            if self.r1_gamma > 0:
                with tf.GradientTape() as r1_tape:
                    r1_tape.watch(real)
                    real_views = self._views(real, 0, step)
                    real_logits = self._logits(real_views[:1], labels, heads=(0,))
                    real_sum = tf.reduce_sum(real_logits)
                real_gradient = tf.cast(r1_tape.gradient(real_sum, real), "float32")
                r1 = tf.reduce_sum(tf.square(real_gradient), axis=[1, 2, 3])
                if self.dag is not None:
                    transformed = self._logits(
                        real_views[1:], labels, heads=range(1, self.dag.num_heads)
                    )
                    real_logits = ops.concatenate([real_logits, transformed], axis=0)
            else:
                real_logits = self._logits(self._views(real, 0, step), labels)
            fake_logits = self._logits(self._views(fake, 1, step), fake_labels)
            per_head = tf.reshape(
                discriminator_loss(self.loss_name, real_logits, fake_logits),
                tf.shape(real_logits),
            )
            per_sample = self._summed_over_heads(per_head, for_generator=False)
            total = per_sample
            if self.r1_gamma > 0:
                total = total + 0.5 * self.r1_gamma * r1
            loss = tf.reduce_sum(total) / tf.cast(step.global_batch, "float32")
            scaled = self.d_optimizer.scale_loss(loss)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(scaled, variables), variables)
        logs = {
            "d_loss": tf.reduce_mean(per_sample),
            "d_real": tf.reduce_mean(real_logits[0]),
            "d_fake": tf.reduce_mean(fake_logits[0]),
            "r_t": tf.reduce_mean(tf.sign(real_logits[0])),
        }
        if self.r1_gamma > 0:
            logs["r1"] = tf.reduce_mean(r1)
        if self.dag is not None:
            for index, head in enumerate(self.dag.head_names):
                logs[f"d_loss_{head}"] = tf.reduce_mean(per_head[index])
        return logs

    def _generator_update(self, real, step):
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
        self.g_optimizer.apply(tape.gradient(scaled, variables), variables)
        return tf.reduce_mean(per_sample)

    def _update_ema(self):
        if self._ema_generator is None:
            return
        decay = self.ema_decay
        trainable = {id(v) for v in self.generator.trainable_variables}
        pairs = [
            (ema.value, source.value, id(source) in trainable)
            for ema, source in zip(self._ema_generator.variables, self.generator.variables)
        ]

        def update(strategy):
            for ema, source, averaged in pairs:
                if averaged:
                    fn = lambda e, s: e.assign(decay * e + (1.0 - decay) * s)  # noqa: E731
                else:  # batch-norm statistics are copied, as StyleGAN2 does
                    fn = lambda e, s: e.assign(s)  # noqa: E731
                strategy.extended.update(ema, fn, args=(source,), group=False)

        tf.distribute.get_replica_context().merge_call(update)


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


def _loss_scaled(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)
