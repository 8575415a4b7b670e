"""Tests for the DCGAN and ResNet generator / discriminator architectures."""

import keras
import numpy as np
import pytest

from keras_dagan.models import dcgan
from keras_dagan.models import resnet

LATENT_DIM = 16
WIDTH = 8
NUM_CLASSES = 5
BATCH = 4

GENERATORS = [
    (dcgan.dcgan_generator, 32),
    (dcgan.dcgan_generator, 64),
    (resnet.resnet_generator, 32),
]
DISCRIMINATORS = [
    (dcgan.dcgan_discriminator, 32),
    (dcgan.dcgan_discriminator, 64),
    (resnet.resnet_discriminator, 32),
]


def _ids(params):
    return [f"{fn.__name__}-{res}" for fn, res in params]


def _z(seed=0):
    return (
        np.random.default_rng(seed)
        .normal(size=(BATCH, LATENT_DIM))
        .astype("float32")
    )


def _images(resolution, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(BATCH, resolution, resolution, 3))).astype(
        "float32"
    )


def _labels(offset=0):
    return ((np.arange(BATCH) + offset) % NUM_CLASSES).astype("int32")


def _all_layers(model):
    # Recursive walk, so wrapped layers and sub-layers of custom layers count.
    return list(model._flatten_layers(include_self=False, recursive=True))


def _randomize_conditional_bn(model, seed=0):
    """Fresh ConditionalBatchNorm tables are all ones / zeros, which makes
    every class identical; give each class its own scale and offset."""
    rng = np.random.default_rng(seed)
    found = 0
    for layer in _all_layers(model):
        if isinstance(layer, resnet.ConditionalBatchNorm):
            for table in (layer.gamma, layer.beta):
                shape = table.embeddings.shape
                table.embeddings.assign(
                    rng.normal(size=shape).astype("float32")
                )
            found += 1
    assert found > 0


# --------------------------------------------------------------- generators


@pytest.mark.parametrize("num_classes", [None, NUM_CLASSES])
@pytest.mark.parametrize("build, resolution", GENERATORS, ids=_ids(GENERATORS))
def test_generator_output(build, resolution, num_classes):
    generator = build(
        latent_dim=LATENT_DIM,
        resolution=resolution,
        width=WIDTH,
        num_classes=num_classes,
    )
    z = _z()
    inputs = z if num_classes is None else [z, _labels()]
    if num_classes is None:
        assert len(generator.inputs) == 1
    else:
        assert len(generator.inputs) == 2
        assert (
            keras.backend.standardize_dtype(generator.inputs[1].dtype)
            == "int32"
        )
        assert tuple(generator.inputs[1].shape) == (None,)
    for training in (True, False):
        images = keras.ops.convert_to_numpy(
            generator(inputs, training=training)
        )
        assert images.shape == (BATCH, resolution, resolution, 3)
        assert images.dtype == np.float32
        assert np.all(np.isfinite(images))
        assert images.min() >= -1.0 and images.max() <= 1.0
        # Not a constant image: the network actually maps z to pixels.
        assert images.std() > 0


@pytest.mark.parametrize("build, resolution", GENERATORS, ids=_ids(GENERATORS))
def test_generator_output_channels(build, resolution):
    generator = build(
        latent_dim=LATENT_DIM, resolution=resolution, width=WIDTH, channels=1
    )
    assert tuple(generator.output.shape) == (None, resolution, resolution, 1)


def test_dcgan_generator_channel_schedule():
    # 4x4 starts at width * 8 for 64x64 and width * 4 for 32x32, then halves.
    for resolution, first in ((64, 8 * WIDTH), (32, 4 * WIDTH)):
        generator = dcgan.dcgan_generator(
            latent_dim=LATENT_DIM, resolution=resolution, width=WIDTH
        )
        assert tuple(generator.get_layer("reshape").output.shape) == (
            None,
            4,
            4,
            first,
        )
        deconvs = [
            layer
            for layer in generator.layers
            if isinstance(layer, keras.layers.Conv2DTranspose)
        ]
        assert [d.filters for d in deconvs[:-1]][-1] == WIDTH
        assert all(
            d.kernel_size == (4, 4) and d.strides == (2, 2) for d in deconvs
        )


def test_resnet_generator_conditional_batch_norm_everywhere_in_blocks():
    generator = resnet.resnet_generator(
        latent_dim=LATENT_DIM, width=WIDTH, num_classes=NUM_CLASSES
    )
    block_norms = [
        layer
        for layer in generator.layers
        if layer.name.startswith("block") and "_bn" in layer.name
    ]
    assert len(block_norms) == 6
    assert all(
        isinstance(layer, resnet.ConditionalBatchNorm) for layer in block_norms
    )
    plain = resnet.resnet_generator(latent_dim=LATENT_DIM, width=WIDTH)
    assert not any(
        isinstance(layer, resnet.ConditionalBatchNorm) for layer in plain.layers
    )


def test_dcgan_generator_uses_labels():
    generator = dcgan.dcgan_generator(
        latent_dim=LATENT_DIM, width=WIDTH, num_classes=NUM_CLASSES
    )
    z = _z()
    a = keras.ops.convert_to_numpy(generator([z, _labels(0)], training=False))
    b = keras.ops.convert_to_numpy(generator([z, _labels(1)], training=False))
    again = keras.ops.convert_to_numpy(
        generator([z, _labels(0)], training=False)
    )
    np.testing.assert_array_equal(a, again)
    # Relative: at init, N(0, 0.02) weights make inference outputs tiny.
    assert np.abs(a - b).max() > 0.05 * np.abs(a).max() > 0


def test_resnet_generator_uses_labels():
    generator = resnet.resnet_generator(
        latent_dim=LATENT_DIM, width=WIDTH, num_classes=NUM_CLASSES
    )
    z = _z()
    # Fresh tables (gamma 1, beta 0) are the same for every class.
    a = keras.ops.convert_to_numpy(generator([z, _labels(0)], training=False))
    b = keras.ops.convert_to_numpy(generator([z, _labels(1)], training=False))
    np.testing.assert_allclose(a, b, atol=1e-6)
    _randomize_conditional_bn(generator)
    a = keras.ops.convert_to_numpy(generator([z, _labels(0)], training=False))
    b = keras.ops.convert_to_numpy(generator([z, _labels(1)], training=False))
    assert np.abs(a - b).max() > 1e-3
    # Example 0 with label 0 does not depend on the labels of other examples
    # in inference mode.
    mixed = _labels(0).copy()
    mixed[1:] = _labels(1)[1:]
    c = keras.ops.convert_to_numpy(generator([z, mixed], training=False))
    np.testing.assert_allclose(c[0], a[0], atol=1e-5)


# ----------------------------------------------------------- discriminators


@pytest.mark.parametrize("num_classes", [None, NUM_CLASSES])
@pytest.mark.parametrize(
    "build, resolution", DISCRIMINATORS, ids=_ids(DISCRIMINATORS)
)
def test_discriminator_output(build, resolution, num_classes):
    discriminator = build(
        resolution=resolution, width=WIDTH, num_classes=num_classes
    )
    images = _images(resolution)
    inputs = images if num_classes is None else [images, _labels()]
    if num_classes is None:
        assert len(discriminator.inputs) == 1
    else:
        assert len(discriminator.inputs) == 2
        assert tuple(discriminator.inputs[1].shape) == (None,)
    for training in (True, False):
        logits = keras.ops.convert_to_numpy(
            discriminator(inputs, training=training)
        )
        assert logits.shape == (BATCH, 1)
        assert logits.dtype == np.float32
        assert np.all(np.isfinite(logits))


@pytest.mark.parametrize("num_classes", [None, NUM_CLASSES])
@pytest.mark.parametrize(
    "build, resolution", DISCRIMINATORS, ids=_ids(DISCRIMINATORS)
)
def test_discriminator_returns_raw_logits(build, resolution, num_classes):
    discriminator = build(
        resolution=resolution, width=WIDTH, num_classes=num_classes
    )
    # The last Dense has no activation ...
    dense = [
        layer
        for layer in _all_layers(discriminator)
        if isinstance(layer, keras.layers.Dense) and layer.units == 1
    ]
    assert len(dense) == 1
    assert dense[0].activation is keras.activations.linear
    # ... and large inputs give logits far outside a sigmoid's (0, 1).
    # (Both networks are close to positively homogeneous, so logits grow
    # with the input scale; N(0, 0.02) DCGAN weights need a large one.)
    images = _images(resolution, scale=1e6)
    inputs = images if num_classes is None else [images, _labels()]
    logits = keras.ops.convert_to_numpy(discriminator(inputs, training=False))
    assert np.abs(logits).max() > 1.0
    assert logits.min() < 0.0 or logits.max() > 1.0


def test_dcgan_discriminator_has_no_batch_norm():
    discriminator = dcgan.dcgan_discriminator(resolution=64, width=WIDTH)
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in _all_layers(discriminator)
    )
    convs = [
        layer
        for layer in discriminator.layers
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert [c.filters for c in convs] == [
        WIDTH,
        2 * WIDTH,
        4 * WIDTH,
        8 * WIDTH,
    ]


@pytest.mark.parametrize("num_classes", [None, NUM_CLASSES])
def test_resnet_discriminator_is_fully_spectrally_normalized(num_classes):
    discriminator = resnet.resnet_discriminator(
        width=WIDTH, num_classes=num_classes
    )
    layers = _all_layers(discriminator)
    wrapped = {
        id(layer.layer)
        for layer in layers
        if isinstance(layer, keras.layers.SpectralNormalization)
    }
    weighted = [
        layer
        for layer in layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]
    # 2 + 1 (block1) + 3 (block2) + 2 + 2 (blocks 3-4) convs, the logit Dense
    # and, when conditional, the projection embedding.
    assert len(weighted) == 11 + (num_classes is not None)
    unwrapped = [layer.name for layer in weighted if id(layer) not in wrapped]
    assert not unwrapped
    assert not any(
        isinstance(
            layer, (keras.layers.BatchNormalization, keras.layers.Embedding)
        )
        for layer in layers
    )


def test_resnet_discriminator_spectral_norm_is_applied_in_training():
    discriminator = resnet.resnet_discriminator(width=WIDTH)
    conv = discriminator.get_layer("block2_conv1")
    kernel = conv.layer.kernel
    kernel.assign(keras.ops.convert_to_numpy(kernel) * 50.0)
    for _ in range(30):  # power iterations converge over calls
        discriminator(_images(32), training=True)
    matrix = keras.ops.convert_to_numpy(kernel).reshape(-1, kernel.shape[-1])
    sigma = np.linalg.svd(matrix, compute_uv=False)[0]
    assert sigma == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize(
    "build", [dcgan.dcgan_discriminator, resnet.resnet_discriminator]
)
def test_discriminator_uses_labels(build):
    discriminator = build(width=WIDTH, num_classes=NUM_CLASSES)
    images = _images(32)
    a = keras.ops.convert_to_numpy(discriminator([images, _labels(0)]))
    b = keras.ops.convert_to_numpy(discriminator([images, _labels(1)]))
    assert np.abs(a - b).max() > 1e-6
    # The projection term is the only difference, and it is per example.
    projection = discriminator.get_layer("projection")
    features_model = keras.Model(discriminator.inputs, projection.input[0])
    features = keras.ops.convert_to_numpy(features_model([images, _labels(0)]))
    if isinstance(projection.embedding, keras.layers.SpectralNormalization):
        table = projection.embedding.layer.kernel
    else:
        table = projection.embedding.kernel
    table = keras.ops.convert_to_numpy(table)
    expected = np.sum(table[_labels(1)] * features, -1) - np.sum(
        table[_labels(0)] * features, -1
    )
    np.testing.assert_allclose(b - a, expected[:, None], rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------- layers


def test_conditional_batch_norm_init_equals_plain_batch_norm():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(6, 5, 5, 4)).astype("float32")
    labels = (np.arange(6) % 3).astype("int32")
    conditional = resnet.ConditionalBatchNorm(3)
    plain = keras.layers.BatchNormalization(
        center=False, scale=False, momentum=0.9, epsilon=1e-5
    )
    for training in (True, False, True):
        expected = keras.ops.convert_to_numpy(plain(x, training=training))
        got = keras.ops.convert_to_numpy(
            conditional([x, labels], training=training)
        )
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # Training calls moved the statistics of both alike.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(conditional.batch_norm.moving_mean),
        keras.ops.convert_to_numpy(plain.moving_mean),
        rtol=1e-6,
    )
    assert np.abs(keras.ops.convert_to_numpy(plain.moving_mean)).min() > 0.01


def test_conditional_batch_norm_applies_per_class_gamma_beta():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 3, 3, 4)).astype("float32")
    labels = np.array([0, 1, 2, 2, 1, 0], dtype="int32")
    layer = resnet.ConditionalBatchNorm(3)
    layer([x, labels])
    gamma = rng.normal(size=(3, 4)).astype("float32")
    beta = rng.normal(size=(3, 4)).astype("float32")
    layer.gamma.embeddings.assign(gamma)
    layer.beta.embeddings.assign(beta)
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))
    normalized = (x - mean) / np.sqrt(var + 1e-5)
    expected = (
        normalized * gamma[labels][:, None, None] + beta[labels][:, None, None]
    )
    got = keras.ops.convert_to_numpy(layer([x, labels], training=True))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    # (N, 1) labels work too.
    again = keras.ops.convert_to_numpy(
        layer([x, labels[:, None]], training=True)
    )
    np.testing.assert_allclose(again, expected, rtol=1e-4, atol=1e-4)


def test_conditional_batch_norm_config_round_trip():
    layer = resnet.ConditionalBatchNorm(
        7, momentum=0.5, epsilon=1e-3, name="cbn"
    )
    clone = resnet.ConditionalBatchNorm.from_config(layer.get_config())
    assert (clone.num_classes, clone.momentum, clone.epsilon, clone.name) == (
        7,
        0.5,
        1e-3,
        "cbn",
    )


def test_global_sum_pooling():
    x = np.arange(2 * 3 * 3 * 2, dtype="float32").reshape(2, 3, 3, 2)
    got = keras.ops.convert_to_numpy(resnet.GlobalSumPooling2D()(x))
    np.testing.assert_allclose(got, x.sum(axis=(1, 2)))


# -------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "build, bad",
    [
        (dcgan.dcgan_generator, 48),
        (dcgan.dcgan_generator, 128),
        (dcgan.dcgan_discriminator, 16),
        (resnet.resnet_generator, 64),
        (resnet.resnet_discriminator, 64),
        (resnet.resnet_discriminator, "32"),
    ],
)
def test_unsupported_resolution(build, bad):
    with pytest.raises(ValueError, match=f"resolution={bad!r}"):
        build(resolution=bad, width=WIDTH)


@pytest.mark.parametrize(
    "build",
    [
        dcgan.dcgan_generator,
        dcgan.dcgan_discriminator,
        resnet.resnet_generator,
        resnet.resnet_discriminator,
    ],
)
@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, True])
def test_bad_num_classes(build, bad):
    with pytest.raises(ValueError, match=f"num_classes.*got {bad!r}"):
        build(width=WIDTH, num_classes=bad)


@pytest.mark.parametrize(
    "build, kwargs",
    [
        (dcgan.dcgan_generator, {"width": 0}),
        (dcgan.dcgan_generator, {"latent_dim": -1}),
        (dcgan.dcgan_discriminator, {"channels": 0}),
        (resnet.resnet_generator, {"width": 1.5}),
        (resnet.resnet_discriminator, {"width": None}),
    ],
)
def test_bad_sizes(build, kwargs):
    ((key, value),) = kwargs.items()
    with pytest.raises(
        ValueError, match=f"{key} must be a positive integer; got {value!r}"
    ):
        build(**kwargs)


def test_conditional_layers_reject_missing_num_classes():
    with pytest.raises(ValueError, match="num_classes"):
        resnet.ConditionalBatchNorm(None)
    with pytest.raises(ValueError, match="got 1"):
        resnet.ClassProjection(1)


# ----------------------------------------------------------- serialization


def test_conditional_resnet_generator_save_load(tmp_path):
    generator = resnet.resnet_generator(
        latent_dim=LATENT_DIM, width=WIDTH, num_classes=NUM_CLASSES
    )
    _randomize_conditional_bn(generator, seed=3)
    # Move the moving statistics away from their initial values too.
    generator([_z(1), _labels(2)], training=True)
    inputs = [_z(), _labels()]
    expected = keras.ops.convert_to_numpy(generator(inputs, training=False))

    path = tmp_path / "generator.keras"
    generator.save(path)
    loaded = keras.saving.load_model(path)
    got = keras.ops.convert_to_numpy(loaded(inputs, training=False))
    np.testing.assert_array_equal(got, expected)
    assert isinstance(
        loaded.get_layer("block1_bn1"), resnet.ConditionalBatchNorm
    )


@pytest.mark.parametrize(
    "build, kwargs, inputs",
    [
        (
            dcgan.dcgan_generator,
            {"latent_dim": LATENT_DIM},
            lambda: [_z(), _labels()],
        ),
        (dcgan.dcgan_discriminator, {}, lambda: [_images(32), _labels()]),
        (resnet.resnet_discriminator, {}, lambda: [_images(32), _labels()]),
    ],
    ids=["dcgan_generator", "dcgan_discriminator", "resnet_discriminator"],
)
def test_conditional_model_save_load(tmp_path, build, kwargs, inputs):
    model = build(width=WIDTH, num_classes=NUM_CLASSES, **kwargs)
    # A training call updates batch statistics / spectral normalization.
    model(inputs(), training=True)
    expected = keras.ops.convert_to_numpy(model(inputs(), training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    got = keras.ops.convert_to_numpy(loaded(inputs(), training=False))
    np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------- gradients


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="uses tf.GradientTape"
)
@pytest.mark.parametrize(
    "build_g, build_d",
    [
        (dcgan.dcgan_generator, dcgan.dcgan_discriminator),
        (resnet.resnet_generator, resnet.resnet_discriminator),
    ],
    ids=["dcgan", "resnet"],
)
def test_every_weight_gets_a_gradient(build_g, build_d):
    import tensorflow as tf

    generator = build_g(
        latent_dim=LATENT_DIM, width=WIDTH, num_classes=NUM_CLASSES
    )
    discriminator = build_d(width=WIDTH, num_classes=NUM_CLASSES)
    # Keras refuses lists that mix tensors and NumPy arrays.
    labels = keras.ops.convert_to_tensor(_labels())
    with tf.GradientTape() as tape:
        images = generator(
            [keras.ops.convert_to_tensor(_z()), labels], training=True
        )
        loss = tf.reduce_sum(discriminator([images, labels], training=True))
    variables = (
        generator.trainable_variables + discriminator.trainable_variables
    )
    grads = tape.gradient(loss, variables)
    # Conditional BN tables and projection embeddings included.
    missing = [v.path for v, g in zip(variables, grads) if g is None]
    assert not missing
    names = " ".join(v.path for v in variables)
    assert "projection" in names
    assert "label_embedding" in names or ("gamma" in names and "beta" in names)


# --------------------------------------------------------- mixed precision


@pytest.mark.parametrize("num_classes", [None, NUM_CLASSES])
@pytest.mark.parametrize(
    "build, resolution",
    [GENERATORS[0], GENERATORS[2]],
    ids=_ids([GENERATORS[0], GENERATORS[2]]),
)
def test_generator_mixed_precision(build, resolution, num_classes):
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        generator = build(
            latent_dim=LATENT_DIM,
            resolution=resolution,
            width=WIDTH,
            num_classes=num_classes,
        )
        # The body computes in float16 ...
        assert generator.layers[-2].compute_dtype == "float16"
        z = _z()
        inputs = z if num_classes is None else [z, _labels()]
        images = generator(inputs, training=True)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    # ... but the images come out float32, finite and in [-1, 1].
    assert keras.backend.standardize_dtype(images.dtype) == "float32"
    images = keras.ops.convert_to_numpy(images)
    assert np.all(np.isfinite(images))
    assert images.min() >= -1.0 and images.max() <= 1.0


@pytest.mark.parametrize(
    "build", [dcgan.dcgan_discriminator, resnet.resnet_discriminator]
)
def test_discriminator_mixed_precision(build):
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        discriminator = build(width=WIDTH, num_classes=NUM_CLASSES)
        logits = discriminator([_images(32), _labels()], training=True)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))
