"""A training loop for the GAN under any `tf.distribute` strategy, including
`tf.distribute.MultiWorkerMirroredStrategy`, where Keras 3's `fit` fails.

`fit_distributed` is `GAN.fit` rebuilt from TensorFlow's supported parts:
`strategy.distribute_datasets_from_function` feeds each replica its batch,
`strategy.run` runs the GAN's own `train_step` in a `tf.function`, and the
Keras callbacks (History, the progress bar, TensorBoard, checkpoints, ...)
are called as `fit` calls them. Keras 3.15's `fit` cannot run under
`MultiWorkerMirroredStrategy`: it reduces every scalar log with
`strategy.reduce("MEAN", value, axis=0)`, which fails with "Invalid reduction
dimension 0 for input with 0 dimensions" (keras-team/keras#20585).
"""

import keras
import tensorflow as tf

from keras_dagan.models.gan import interleave_for_replicas


def fit_distributed(gan, dataset, epochs=1, steps_per_epoch=None, initial_epoch=0,
                    callbacks=None, verbose=1):
    """Trains `gan` as `gan.fit` does, under its strategy, on one or many
    machines.

    The GAN must have been built and compiled under the strategy's scope
    (`gan.distribute_strategy`). Every step runs `strategy.run(gan.train_step)`
    on each replica's share of a global batch; the logs are the mean over
    the replicas of each replica's log, as in `fit`, and the epoch logs are
    the last step's (the GAN's logs are running means over the epoch). On
    one machine it trains exactly as `gan.fit` with the same arguments.

    Args:
        gan: A compiled `keras_dagan.GAN`.
        dataset: A `tf.data.Dataset` of global batches, the dataset `gan.fit`
            takes, which must yield the same batches on every worker (e.g.
            `keras_dagan.data` loaders with a fixed `seed`): each worker
            keeps its replicas' rows of each batch (see
            `replica_dataset_fn`). Or a function of a `tf.distribute.InputContext`
            returning this input pipeline's dataset of per-replica batches,
            for data sharded per worker by hand (with `d_steps > 1`, each
            per-replica batch holds the replica's reals of D update 0, then
            of update 1, ...).
        epochs: Index of the epoch to stop before, as in `fit`.
        steps_per_epoch: Train steps per epoch; needed, as the GAN's
            datasets repeat forever.
        initial_epoch: Epoch to start from, as in `fit`.
        callbacks: Keras callbacks, or a `keras.callbacks.CallbackList`.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.

    Returns:
        The `keras.callbacks.History` of the run, as `fit` returns it.

    Example:

    ```python
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
    with strategy.scope():
        gan = keras_dagan.GAN(generator, discriminator, latent_dim=128, seed=0)
        gan.compile(d_optimizer=keras.optimizers.Adam(2e-4),
                    g_optimizer=keras.optimizers.Adam(2e-4))
    dataset = keras_dagan.data.load_tfds("cifar10", batch_size=64, seed=0)
    fit_distributed(gan, dataset, epochs=10, steps_per_epoch=500,
                    callbacks=[keras.callbacks.TensorBoard("logs")])
    ```
    """
    if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(
            f"steps_per_epoch must be an integer >= 1; got {steps_per_epoch!r}. The GAN's "
            "datasets repeat forever, so an epoch is a number of steps."
        )
    if getattr(gan, "d_optimizer", None) is None:
        raise ValueError("The GAN is not compiled; call gan.compile(d_optimizer=..., "
                         "g_optimizer=...) under the strategy's scope first.")
    strategy = gan.distribute_strategy
    if gan.jit_compile:
        try:
            check_xla_support(strategy)
        except ValueError as error:
            raise ValueError(f"jit_compile=True: {error} Compile the GAN with "
                             "jit_compile=False, or train on GPUs.") from None
    if not callable(dataset) or isinstance(dataset, tf.data.Dataset):
        dataset = replica_dataset_fn(dataset, gan.d_steps)
    iterator = iter(strategy.distribute_datasets_from_function(dataset))
    train_function = _train_function(gan, strategy)

    if not isinstance(callbacks, keras.callbacks.CallbackList):
        callbacks = keras.callbacks.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose,
            epochs=epochs, steps=steps_per_epoch, model=gan)
    gan.stop_training = False
    callbacks.on_train_begin()
    epoch_logs = None
    for epoch in range(initial_epoch, epochs):
        gan.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        logs = {}
        for step in range(steps_per_epoch):
            callbacks.on_train_batch_begin(step)
            logs = train_function(iterator)
            callbacks.on_train_batch_end(step, logs)
            if gan.stop_training:
                break
        epoch_logs = {name: float(value) for name, value in logs.items()}
        callbacks.on_epoch_end(epoch, epoch_logs)
        if gan.stop_training:
            break
    callbacks.on_train_end(logs=epoch_logs)
    return gan.history


def replica_dataset_fn(dataset, d_steps):
    """The `InputContext -> tf.data.Dataset` function that gives each worker
    its replicas' rows of every global batch of `dataset`.

    Every worker builds the same `dataset` of global batches (same files,
    seed and order) and keeps its own rows of each batch, those one device
    would give its replicas: with `d_steps > 1` each replica gets its share
    of every D update's reals (`interleave_for_replicas`). The data a run
    trains on therefore does not depend on the number of workers or
    replicas, and resuming at a step (`initial_step` of the loaders) resumes
    on every worker. Each worker reads and decodes the whole global batch
    (as `tf.data`'s DATA auto-shard policy does); the cost is the input
    pipeline, not the training step.

    Args:
        dataset: `tf.data.Dataset` of global batches: a tensor, or a tuple or
            dict of tensors sharing their first dimension.
        d_steps: The GAN's D updates per train step.

    Returns:
        A function for `strategy.distribute_datasets_from_function`.

    Example:

    ```python
    batches = strategy.distribute_datasets_from_function(
        replica_dataset_fn(dataset, d_steps=gan.d_steps))
    ```
    """

    def dataset_fn(context):
        replicas = context.num_replicas_in_sync
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local

        # Plain TensorFlow ops: nothing for AutoGraph to convert.
        @tf.autograph.experimental.do_not_convert
        def own_rows(*element):
            element = element[0] if len(element) == 1 else element
            ordered = interleave_for_replicas(element, d_steps, replicas)

            def split(tensor):
                shares = tf.reshape(tensor, tf.concat([[replicas, -1], tf.shape(tensor)[1:]], 0))
                # Static per-replica batch when the global one is: the GAN
                # checks batch sizes while it traces.
                batch = tensor.shape[0]
                shares.set_shape([replicas, None if batch is None else batch // replicas]
                                 + tensor.shape[1:].as_list())
                return shares[first:first + local]

            return tf.nest.map_structure(split, ordered)

        # One element per local replica, in replica order, as
        # distribute_datasets_from_function hands them out.
        return dataset.map(own_rows).unbatch()

    return dataset_fn


def check_xla_support(strategy):
    """Raises ValueError if XLA cannot compile a train step under
    `strategy`: XLA compiles no cross-worker all-reduce on CPUs, and
    TensorFlow aborts the process ("Collectives are not yet implemented for
    CPU devices when compiling with XLA") instead of raising.

    Args:
        strategy: A `tf.distribute.Strategy`.

    Raises:
        ValueError: `strategy` is a MultiWorkerMirroredStrategy of more than
            one replica on CPU devices; the message names the devices.

    Example:

    ```python
    check_xla_support(strategy)  # before gan.compile(..., jit_compile=True)
    ```
    """
    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.num_replicas_in_sync > 1):
        return
    devices = strategy.extended.worker_devices
    if any(tf.DeviceSpec.from_string(device).device_type == "CPU" for device in devices):
        raise ValueError(
            "XLA cannot compile the all-reduce of a MultiWorkerMirroredStrategy on CPU devices "
            f"({', '.join(devices)}).")


def _train_function(gan, strategy):
    """One train step on the next per-replica batches of an iterator, its
    logs averaged over all replicas of all workers (Keras's "mean")."""

    def replica_step(data):
        # On the replica's device: a log read from a variable (ADA's p) can
        # come without one, which strategy.reduce refuses under
        # MultiWorkerMirroredStrategy ("Cannot convert `input_tensor` to a
        # `PerReplica` object because it doesn't have device set").
        return {name: tf.identity(value) for name, value in gan.train_step(data).items()}

    @tf.function(jit_compile=gan.jit_compile, reduce_retracing=True)
    def step_on(data):
        logs = strategy.run(replica_step, args=(data,))
        return {name: strategy.reduce("MEAN", value, axis=None) for name, value in logs.items()}

    @tf.function(reduce_retracing=True)
    def train_function(iterator):
        return step_on(next(iterator))

    return train_function
