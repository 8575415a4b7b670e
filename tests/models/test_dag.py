"""Tests of DAG: its transformation views, the multi-head discriminator and
the GAN's DAG losses."""

import numpy as np
import pytest
import tensorflow as tf

import keras

from keras_dagan.augment import DiffAugment, cut_out, translate
from keras_dagan.models.dag import DAG, DAGDiscriminator, dag_discriminator
from keras_dagan.models.dag_transforms import DETERMINISTIC_TRANSFORMS, TRANSFORM_NAMES
from keras_dagan.models.dcgan import dcgan_discriminator
from keras_dagan.models.gan import GAN
from tests.models.test_gan import LATENT, compiled, real_dataset, tiny_models

# -- DAG: views and loss ------------------------------------------------------


def pattern(batch=2, size=32, channels=3):
    count = batch * size * size * channels
    return np.arange(count, dtype="float32").reshape(batch, size, size, channels) / count


def test_view_k_is_transformation_k_of_the_images():
    dag = DAG(["rotation", "flipping", "cropping", "translation", "cutout"])
    assert dag.transforms == TRANSFORM_NAMES
    assert dag.num_heads == 12 and dag.head_names[0] == "identity"
    images = pattern()
    transformation = dag.get_random_transformation(images, seed=3)
    views = np.asarray(dag.transform_images(images, transformation))
    assert views.shape == (12, 2, 32, 32, 3)
    np.testing.assert_array_equal(views[0], images)
    shift = transformation["translation"]
    centre = transformation["cutout"]
    assert np.all(np.abs(shift["shift_height"]) <= 4) and np.all(np.abs(shift["shift_width"]) <= 4)
    expected = {
        "translation": translate(images, shift["shift_height"], shift["shift_width"]),
        "cutout": cut_out(images, centre["center_height"], centre["center_width"], (16, 16)),
    }
    for index, name in enumerate(dag.transforms, start=1):
        reference = expected[name] if name in expected else DETERMINISTIC_TRANSFORMS[name](images)
        np.testing.assert_array_equal(views[index], reference, err_msg=name)
    # Every view differs from the others: no head gets another's input.
    flat = views.reshape(12, -1)
    assert len({row.tobytes() for row in flat}) == 12

    channels_first = DAG(dag.transforms, data_format="channels_first")
    views_first = channels_first.transform_images(images.transpose(0, 3, 1, 2), transformation)
    np.testing.assert_allclose(views_first, views.transpose(0, 1, 4, 2, 3), rtol=1e-6)


def test_combine_weights_the_transformation_heads_by_weight_over_k():
    dag = DAG(["rotate90", "cutout"], weight=0.5)
    per_head = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "float32")
    # L_0 + 0.5 / 2 * (L_1 + L_2)
    np.testing.assert_allclose(dag.combine(per_head, dag.weight), [3.0, 4.5])
    assert dag.generator_weight == 0.5
    assert DAG("rotation", weight=1.0, generator_weight=0.0).generator_weight == 0.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"weight": -1.0}, r"weight must be a finite number > 0; got -1.0"),
        ({"weight": 0.0}, r"weight must be a finite number > 0; got 0.0"),
        ({"weight": float("nan")}, r"weight must be a finite number > 0; got nan"),
        ({"weight": True}, r"weight must be a finite number > 0; got True"),
        ({"weight": "1"}, r"weight must be a finite number > 0; got '1'"),
        ({"generator_weight": -0.5}, r"generator_weight must be a finite number >= 0"),
        ({"transforms": "rotation,zoom"}, r"Unknown DAG transform name\(s\) \['zoom'\]"),
        ({"transforms": "rotation,rotate90"}, r"\['rotate90'\] more than once"),
        ({"data_format": "nhwc"}, "data_format"),
    ],
)
def test_bad_dag_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DAG(**kwargs)


# -- DAGDiscriminator -------------------------------------------------------


def test_every_head_has_its_own_weights_and_scores_its_own_view():
    discriminator = dcgan_discriminator(resolution=32, width=4, num_classes=10)
    dag_d = dag_discriminator(discriminator, num_heads=3)
    images = pattern(batch=4)
    labels = np.array([0, 3, 5, 9], "int32")
    views = np.stack([images, images[:, ::-1], 1.0 - images])
    with tf.GradientTape() as tape:
        logits = dag_d([views, labels], training=True)
        total = tf.reduce_sum(logits)
    assert tuple(logits.shape) == (3, 4)
    # Head 0 is the original discriminator's logit.
    np.testing.assert_allclose(logits[0], discriminator([images, labels])[:, 0], rtol=1e-5)
    for k in range(3):
        features = dag_d.trunk(views[k])
        expected = dag_d.heads[k](features) + dag_d.projections[k]([features, labels])
        np.testing.assert_allclose(logits[k], expected[:, 0], rtol=1e-5, atol=1e-6)
    head_variables = [v for layer in dag_d.heads + dag_d.projections for v in layer.trainable_variables]
    assert len({id(v) for v in head_variables}) == len(head_variables) == 3 * 3
    for variable, gradient in zip(head_variables, tape.gradient(total, head_variables)):
        assert np.any(np.asarray(gradient) != 0), variable.path
    # A subset of heads scores a subset of views.
    subset = dag_d([views[1:], labels], heads=(1, 2))
    np.testing.assert_allclose(subset, logits[1:], rtol=1e-5, atol=1e-6)


def test_dag_discriminator_saves_and_loads(tmp_path):
    # Four heads or more: copying head 0 while Keras loads the model once
    # made heads 2, 3, ... share one kernel.
    dag_d = dag_discriminator(dcgan_discriminator(resolution=32, width=4), num_heads=5)
    scales = np.arange(1, 6, dtype="float32")[:, None, None, None, None]
    views = np.stack([pattern()] * 5) * scales
    logits = dag_d(views)
    path = str(tmp_path / "dag_d.keras")
    dag_d.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(views), logits, rtol=1e-6)


def test_bad_discriminator_arguments_are_rejected():
    trunk = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten()])
    with pytest.raises(ValueError, match="num_heads must be >= 2"):
        DAGDiscriminator(trunk, 1)
    with pytest.raises(ValueError, match="a list of 2"):
        DAGDiscriminator(trunk, 3, head=[keras.layers.Dense(1), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="got 2 views for heads"):
        DAGDiscriminator(trunk, 3)(np.zeros((2, 1, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match="named 'logit'.*DAGDiscriminator\\(trunk"):
        dag_discriminator(trunk, 3)


# -- The GAN's DAG update ---------------------------------------------------

SIZE = 8
# What the DAG below applies, written with NumPy.
NUMPY_TRANSFORMS = {
    "identity": lambda x: x,
    "rotate90": lambda x: np.rot90(x, 1, axes=(1, 2)),
    "flip_left_right": lambda x: x[:, :, ::-1],
    "flip_up_down": lambda x: x[:, ::-1],
}


def linear_dag_gan(dag, loss, fake_image, **kwargs):
    """A GAN whose generator always returns `fake_image` and whose heads are
    linear in the pixels, with distinct weights per head."""
    z = keras.Input((LATENT,))
    pixels = keras.layers.Dense(
        SIZE * SIZE,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(fake_image.ravel()),
    )(z)
    generator = keras.Model(z, keras.layers.Reshape((SIZE, SIZE, 1))(pixels))
    trunk = keras.Sequential([keras.Input((SIZE, SIZE, 1)), keras.layers.Flatten()])
    gan = GAN(generator, DAGDiscriminator(trunk, dag.num_heads), LATENT, loss=loss, dag=dag, **kwargs)
    rng = np.random.default_rng(1)
    weights = []
    for index, head in enumerate(gan.discriminator.heads):
        kernel = rng.normal(0.0, 0.3, (SIZE * SIZE, 1)).astype("float32")
        bias = np.array([0.2 * index - 0.3], "float32")
        head.set_weights([kernel, bias])
        weights.append((kernel, bias))
    return gan, weights


def numpy_losses(loss, real, fake):
    softplus = lambda v: np.logaddexp(0.0, v)  # noqa: E731
    if loss == "hinge":
        return np.maximum(0, 1 - real) + np.maximum(0, 1 + fake), -fake
    if loss == "non_saturating":
        return softplus(-real) + softplus(fake), softplus(-fake)
    return fake - real, -fake


@pytest.mark.parametrize(
    "loss,gan_kwargs,compile_kwargs",
    [
        ("hinge", {}, {}),
        ("non_saturating", {"r1_gamma": 2.0, "d_steps": 2}, {}),
        ("wasserstein", {"ema_decay": 0.0}, {"jit_compile": True}),
    ],
)
def test_losses_and_logs_match_a_hand_computed_case(loss, gan_kwargs, compile_kwargs):
    dag = DAG(["rotate90", "flipping"], weight=0.5, generator_weight=2.0)
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (4, SIZE, SIZE, 1)).astype("float32")
    fake = rng.uniform(-1, 1, (SIZE, SIZE, 1)).astype("float32")
    gan, weights = linear_dag_gan(dag, loss, fake, **gan_kwargs)
    gan.compile(
        d_optimizer=keras.optimizers.SGD(0.0),
        g_optimizer=keras.optimizers.SGD(0.0),
        **compile_kwargs,
    )
    # Every D update gets its own slice of d_steps * 4 reals: here the same 4.
    reals = np.concatenate([real] * gan_kwargs.get("d_steps", 1))
    dataset = tf.data.Dataset.from_tensors(reals).repeat()
    history = gan.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0).history

    fakes = np.repeat(fake[None], 4, axis=0)
    d_heads, g_heads, real_logits = [], [], []
    for name, (kernel, bias) in zip(dag.head_names, weights):
        transform = NUMPY_TRANSFORMS[name]
        real_logit = transform(real).reshape(4, -1) @ kernel[:, 0] + bias[0]
        fake_logit = transform(fakes).reshape(4, -1) @ kernel[:, 0] + bias[0]
        d_loss, g_loss = numpy_losses(loss, real_logit, fake_logit)
        d_heads.append(d_loss)
        g_heads.append(g_loss)
        real_logits.append(real_logit)
    expected = {
        "d_loss": np.mean(d_heads[0] + 0.5 / 3 * np.sum(d_heads[1:], axis=0)),
        "g_loss": np.mean(g_heads[0] + 2.0 / 3 * np.sum(g_heads[1:], axis=0)),
        "d_real": np.mean(real_logits[0]),
        "d_fake": np.mean(fakes.reshape(4, -1) @ weights[0][0][:, 0] + weights[0][1][0]),
        "r_t": np.mean(np.sign(real_logits[0])),
    }
    for name, d_loss in zip(dag.head_names, d_heads):
        expected[f"d_loss_{name}"] = np.mean(d_loss)
    if "r1_gamma" in gan_kwargs:
        # Head 0 is linear: its gradient with respect to each image is its kernel.
        expected["r1"] = np.sum(np.square(weights[0][0]))
    assert set(history) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(history[name][0], value, rtol=1e-5, atol=1e-6, err_msg=name)


def batch_norm_free_conditional_generator():
    keras.utils.set_random_seed(1)
    z = keras.Input((LATENT,))
    labels = keras.Input((), dtype="int32")
    h = keras.layers.Add()([z, keras.layers.Embedding(10, LATENT)(labels)])
    h = keras.layers.Dense(8 * 8 * 8, activation="relu")(h)
    h = keras.layers.UpSampling2D(4)(keras.layers.Reshape((8, 8, 8))(h))
    return keras.Model([z, labels], keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(h))


@pytest.mark.slow
def test_conditional_dag_with_diffaugment_matches_between_one_device_and_mirrored_strategy(mirrored_strategy):
    augment = DiffAugment("translation,cutout")
    dag = DAG(["crop_top_left", "translation"])

    def first_step(strategy):
        with strategy.scope():
            _, discriminator = tiny_models(num_classes=10)
            gan = compiled(GAN(batch_norm_free_conditional_generator(),
                               dag_discriminator(discriminator, dag.num_heads), LATENT,
                               augment=augment, num_classes=10, seed=7, dag=dag))
        heads = gan.discriminator.heads + gan.discriminator.projections
        kernels = [v for layer in heads for v in layer.trainable_variables if "bias" not in v.path]
        before = [np.array(v) for v in kernels]
        history = gan.fit(real_dataset(batch=8, labels=True), steps_per_epoch=1, epochs=1, verbose=0).history
        after = [np.array(v) for v in kernels]
        return history, before, after

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    single, _, _ = first_step(tf.distribute.OneDeviceStrategy(devices[0]))
    mirrored, before, after = first_step(mirrored_strategy)
    assert len(dag.head_names) == 3 and set(single) == set(mirrored)
    for name in single:
        np.testing.assert_allclose(mirrored[name][0], single[name][0], rtol=1e-4, atol=1e-7, err_msg=name)
    # Every head's linear layer and class projection received a gradient.
    # (A hinge loss's bias gradient can be exactly 0, so kernels only.)
    assert len(before) == 3 * 2
    for start, end in zip(before, after):
        assert not np.array_equal(start, end)


def test_dag_trains_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        generator, discriminator = tiny_models()
        dag = DAG("rotation")
        gan = compiled(GAN(generator, dag_discriminator(discriminator, dag.num_heads), LATENT,
                           augment=DiffAugment("translation"), dag=dag))
        history = gan.fit(real_dataset(), steps_per_epoch=1, epochs=1, verbose=0).history
    finally:
        keras.config.set_dtype_policy("float32")
    assert all(np.isfinite(v[0]) for v in history.values()), history


def test_gan_rejects_a_discriminator_that_does_not_fit_the_dag():
    generator, discriminator = tiny_models()
    dag = DAG("rotation,cutout")
    with pytest.raises(ValueError, match=r"dag has 5 heads .*dag_discriminator\(discriminator, 5\)"):
        GAN(generator, discriminator, LATENT, dag=dag)
    with pytest.raises(ValueError, match="got a DAGDiscriminator with 3 heads"):
        GAN(generator, dag_discriminator(discriminator, 3), LATENT, dag=dag)
    with pytest.raises(ValueError, match="is a DAGDiscriminator but dag is None"):
        GAN(generator, dag_discriminator(discriminator, 5), LATENT)
    with pytest.raises(ValueError, match="dag must be a keras_dagan.models.DAG"):
        GAN(generator, dag_discriminator(discriminator, 5), LATENT, dag="rotation,cutout")
