"""Tests for the StyleGAN2 generator and discriminator (keras_dagan.models.stylegan2).

Small widths (channel_base 512-1024, channel_max 32) keep them fast; the
parameter-count test builds the reference's full-size configurations.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_dagan.models import (
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    stylegan2_discriminator,
    stylegan2_generator,
)

LATENT = 32
BATCH = 4
NUM_CLASSES = 5
SMALL = dict(channel_base=512, channel_max=32)


def _generator(resolution=32, num_classes=None, **kwargs):
    config = dict(
        latent_dim=LATENT,
        w_dim=LATENT,
        resolution=resolution,
        mapping_layers=2,
        **SMALL,
    )
    config.update(kwargs)
    return stylegan2_generator(num_classes=num_classes, **config)


def _discriminator(resolution=32, num_classes=None, **kwargs):
    config = dict(resolution=resolution, **SMALL)
    config.update(kwargs)
    return stylegan2_discriminator(num_classes=num_classes, **config)


def _z(seed=0, batch=BATCH):
    return (
        np.random.default_rng(seed)
        .standard_normal((batch, LATENT))
        .astype("float32")
    )


def _labels(batch=BATCH, offset=0):
    return ((np.arange(batch) + offset) % NUM_CLASSES).astype("int32")


def _images(resolution, channels=3, seed=0, batch=BATCH):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(
        (batch, resolution, resolution, channels)
    ).astype("float32")


def _randomize(model, seed=0):
    """Fresh biases, noise strengths and w_avg are zeros (or ones); give
    them values so that tests see every path."""
    rng = np.random.default_rng(seed)
    for key, (variable, _) in model.reference_weights().items():
        name = key.rsplit(".", 1)[-1]
        if name in ("bias", "noise_strength", "w_avg"):
            base = 1.0 if key.endswith("affine.bias") else 0.0
            variable.assign(
                base
                + 0.3 * rng.standard_normal(variable.shape).astype("float32")
            )


# ---------------------------------------------------------------------------
# Shapes.


@pytest.mark.parametrize(
    "resolution, num_classes, channels, channel_base",
    [
        (32, None, 3, 512),
        (32, NUM_CLASSES, 1, 512),
        (64, NUM_CLASSES, 3, 512),
        (256, None, 3, 512),
    ],
)
def test_shapes(resolution, num_classes, channels, channel_base):
    generator = _generator(
        resolution,
        num_classes,
        img_channels=channels,
        channel_base=channel_base,
    )
    discriminator = _discriminator(
        resolution,
        num_classes,
        img_channels=channels,
        channel_base=channel_base,
    )
    z = _z()
    g_inputs = z if num_classes is None else [z, _labels()]
    images = generator(g_inputs)
    assert images.shape == (BATCH, resolution, resolution, channels)
    assert images.dtype == "float32"
    assert generator.num_ws == 2 * int(math.log2(resolution)) - 2
    assert generator(g_inputs, training=True).shape == images.shape
    d_inputs = images if num_classes is None else [images, _labels()]
    logits = discriminator(d_inputs)
    assert logits.shape == (BATCH, 1) and logits.dtype == "float32"


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_architectures(architecture):
    generator = _generator(architecture=architecture)
    discriminator = _discriminator(
        architecture=architecture, num_classes=NUM_CLASSES
    )
    images = generator(_z())
    assert images.shape == (BATCH, 32, 32, 3)
    assert discriminator([images, _labels()]).shape == (BATCH, 1)
    assert ("synthesis.b16.torgb.weight" in generator.reference_weights()) == (
        architecture == "skip"
    )
    assert "synthesis.b32.torgb.weight" in generator.reference_weights()
    assert ("synthesis.b16.skip.weight" in generator.reference_weights()) == (
        architecture == "resnet"
    )
    has_fromrgb = "b16.fromrgb.weight" in discriminator.reference_weights()
    assert has_fromrgb == (architecture == "skip")
    assert ("b16.skip.weight" in discriminator.reference_weights()) == (
        architecture == "resnet"
    )


def test_channels_per_resolution():
    generator = _generator(64, channel_base=1024, channel_max=64)
    weights = generator.reference_weights()
    # min(1024 // res, 64): 64 at 4..16, 32 at 32, 16 at 64.
    assert weights["synthesis.b4.const"][0].shape == (64, 4, 4)
    assert weights["synthesis.b32.conv0.weight"][0].shape == (3, 3, 64, 32)
    assert weights["synthesis.b64.conv1.weight"][0].shape == (3, 3, 16, 16)
    discriminator = _discriminator(64, channel_base=1024, channel_max=64)
    d_weights = discriminator.reference_weights()
    assert d_weights["b64.fromrgb.weight"][0].shape == (1, 1, 3, 16)
    assert d_weights["b64.conv1.weight"][0].shape == (3, 3, 16, 32)
    assert d_weights["b4.fc.weight"][0].shape == (64 * 16, 64)


def test_conditioning_changes_outputs():
    generator = _generator(num_classes=NUM_CLASSES)
    discriminator = _discriminator(num_classes=NUM_CLASSES)
    z = _z()
    a = np.asarray(generator([z, _labels()], noise_mode="const"))
    b = np.asarray(generator([z, _labels(offset=1)], noise_mode="const"))
    assert not np.allclose(a, b)
    images = _images(32)
    assert not np.allclose(
        np.asarray(discriminator([images, _labels()])),
        np.asarray(discriminator([images, _labels(offset=1)])),
    )
    with pytest.raises(ValueError, match="conditional"):
        generator(z)
    with pytest.raises(ValueError, match="conditional"):
        discriminator(images)


# ---------------------------------------------------------------------------
# Reference layout and parameter counts.


@pytest.mark.parametrize("num_classes", [None, NUM_CLASSES])
@pytest.mark.parametrize("architecture", ["skip", "resnet"])
def test_reference_weights_cover_every_variable_once(num_classes, architecture):
    generator = _generator(num_classes=num_classes, architecture=architecture)
    discriminator = _discriminator(
        num_classes=num_classes, architecture=architecture
    )
    for model in (generator, discriminator):
        weights = model.reference_weights()
        ids = [id(variable) for variable, _ in weights.values()]
        assert len(ids) == len(set(ids))
        assert set(ids) == {id(v) for v in model.weights}
        assert len(ids) == len(model.weights)
        for key, (variable, layout) in weights.items():
            assert layout in ("dense", "conv", "same")
            assert not key.endswith("resample_filter")
            if layout == "conv":
                assert len(variable.shape) == 4
            if layout == "dense":
                assert len(variable.shape) == 2
    g = generator.reference_weights()
    assert g["synthesis.b8.conv0.noise_const"][0].shape == (8, 8)
    assert g["synthesis.b4.const"][1] == "same"
    assert (
        g["mapping.w_avg"][0] is generator.w_avg
        and not generator.w_avg.trainable
    )
    assert g["mapping.fc0.weight"][1] == "dense"
    assert g["synthesis.b8.conv0.affine.weight"][0].shape == (LATENT, 32)
    if num_classes:
        assert g["mapping.embed.weight"][0].shape == (NUM_CLASSES, LATENT)
        assert discriminator.reference_weights()["mapping.fc7.weight"][
            0
        ].shape == (32, 32)


def _trainable_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


# Counts of trainable parameters (torch parameters; buffers excluded) of the
# reference networks, built by stylegan2-ada-pytorch's own
# training/networks.py on the CPU with the Generator / Discriminator kwargs
# that its train.py derives from cfg_specs (z_dim = w_dim = 512,
# channel_max 512, num_fp16_res 4, conv_clamp 256; cifar: res 32, fmaps 1 ->
# channel_base 32768, map 2, D architecture "orig", mbstd 32, c_dim 10 or 0;
# paper256: res 256, fmaps 0.5 -> channel_base 16384, map 8, D "resnet",
# mbstd 8, unconditional) and summed as sum(p.numel() for p in
# net.parameters()).
REFERENCE_COUNTS = {
    "cifar": (20215315, 23089664),
    "cifar_uncond": (19947539, 20720641),
    "paper256": (24767458, 24001089),
}
REFERENCE_CONFIGS = {
    "cifar": (
        dict(
            resolution=32,
            channel_base=32768,
            mapping_layers=2,
            num_classes=10,
            style_mixing=0.0,
        ),
        dict(
            resolution=32,
            channel_base=32768,
            architecture="orig",
            mbstd_group_size=32,
            num_classes=10,
        ),
    ),
    "cifar_uncond": (
        dict(
            resolution=32,
            channel_base=32768,
            mapping_layers=2,
            style_mixing=0.0,
        ),
        dict(
            resolution=32,
            channel_base=32768,
            architecture="orig",
            mbstd_group_size=32,
        ),
    ),
    "paper256": (
        dict(resolution=256, channel_base=16384, mapping_layers=8),
        dict(resolution=256, channel_base=16384, mbstd_group_size=8),
    ),
}


@pytest.mark.parametrize("config", sorted(REFERENCE_COUNTS))
def test_parameter_counts_equal_the_reference(config):
    g_kwargs, d_kwargs = REFERENCE_CONFIGS[config]
    shared = dict(channel_max=512, num_fp16_res=4, conv_clamp=256)
    generator = stylegan2_generator(**g_kwargs, **shared)
    discriminator = stylegan2_discriminator(**d_kwargs, **shared)
    assert (
        _trainable_count(generator),
        _trainable_count(discriminator),
    ) == REFERENCE_COUNTS[config]


# ---------------------------------------------------------------------------
# Mapping: learning-rate multiplier, w average, truncation, style mixing.


def test_mapping_learning_rate_multiplier():
    generator = _generator(mapping_lr_multiplier=0.01)
    fc0 = generator.mapping.fc0
    stored = np.asarray(fc0.weight)
    assert 80 < stored.std() < 120  # N(0, 1) / 0.01
    assert fc0.lr_multiplier == 0.01
    z = _z()
    x = z / np.sqrt((z**2).mean(axis=1, keepdims=True) + 1e-8)
    pre = x @ (stored * 0.01 / math.sqrt(LATENT)) + np.asarray(fc0.bias) * 0.01
    expected = math.sqrt(2) * np.where(pre > 0, pre, 0.2 * pre)
    np.testing.assert_allclose(
        np.asarray(fc0(ops.convert_to_tensor(x))),
        expected,
        rtol=1e-4,
        atol=1e-5,
    )
    # The synthesis affines keep lr_multiplier 1.
    assert generator.synthesis.b8.conv0.affine.lr_multiplier == 1.0


def test_w_avg_tracking():
    generator = _generator(w_avg_beta=0.9, style_mixing=0.0)
    z = _z()
    np.testing.assert_allclose(np.asarray(generator.w_avg), 0.0)
    ws = np.asarray(generator.mapping(z))
    np.testing.assert_allclose(
        np.asarray(generator.w_avg), 0.0
    )  # not in inference
    generator(z, training=True)
    np.testing.assert_allclose(
        np.asarray(generator.w_avg),
        0.1 * ws[:, 0].mean(axis=0),
        rtol=1e-4,
        atol=1e-6,
    )


def test_w_avg_update_across_replicas(mirrored_strategy):
    with mirrored_strategy.scope():
        generator = _generator(style_mixing=0.0)
    z = _z(batch=8)
    expected = 0.005 * np.asarray(generator.mapping(z))[:, 0].mean(axis=0)
    batches = mirrored_strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(z).batch(8)
    )

    @tf.function
    def update(z):
        mirrored_strategy.run(
            lambda z: generator.mapping(z, training=True), args=(z,)
        )

    for batch in batches:
        update(batch)
    # Each replica saw half the batch; the averaged update is the update
    # with the global batch mean.
    np.testing.assert_allclose(
        np.asarray(generator.w_avg), expected, rtol=1e-4, atol=1e-7
    )


def test_style_mixing_uses_two_ws_at_a_crossover():
    generator = _generator(style_mixing=1.0, seed=3)
    z = _z()
    plain = np.asarray(generator.mapping(z))
    cutoffs = set()
    for _ in range(6):
        ws = np.asarray(generator.training_ws(z))
        same = np.all(np.isclose(ws, plain, atol=1e-6), axis=(0, 2))
        cutoff = int(np.argmin(same))
        assert 1 <= cutoff < generator.num_ws
        assert same[:cutoff].all() and not same[cutoff:].any()
        # The rows from the crossover on are one other w per sample.
        np.testing.assert_allclose(
            ws[:, cutoff:],
            np.repeat(ws[:, cutoff : cutoff + 1], generator.num_ws - cutoff, 1),
        )
        cutoffs.add(cutoff)
    assert len(cutoffs) > 1
    generator.style_mixing = 0.0
    np.testing.assert_allclose(
        np.asarray(generator.training_ws(z)), plain, atol=1e-6
    )
    with pytest.raises(ValueError, match="style_mixing"):
        generator.style_mixing = 1.5


def test_truncation():
    generator = _generator(num_classes=NUM_CLASSES)
    _randomize(generator)
    z, labels = _z(), _labels()
    w_avg = np.asarray(generator.w_avg)
    ws = np.asarray(generator.mapping(z, labels))
    np.testing.assert_allclose(
        np.asarray(generator.mapping(z, labels, truncation_psi=0.5)),
        w_avg + 0.5 * (ws - w_avg),
        rtol=1e-5,
        atol=1e-6,
    )
    # psi and cutoff may be tensors (an exported signature's inputs).
    traced = tf.function(
        lambda psi, cutoff: generator.mapping(
            z, labels, truncation_psi=psi, truncation_cutoff=cutoff
        )
    )
    np.testing.assert_allclose(
        np.asarray(traced(tf.constant(0.5), tf.constant(100))),
        w_avg + 0.5 * (ws - w_avg),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        np.asarray(traced(tf.constant(1.0), tf.constant(3))), ws, atol=1e-6
    )
    cut = np.asarray(
        generator.mapping(z, labels, truncation_psi=0.0, truncation_cutoff=2)
    )
    np.testing.assert_allclose(
        cut[:, :2], np.broadcast_to(w_avg, cut[:, :2].shape), atol=1e-6
    )
    np.testing.assert_allclose(cut[:, 2:], ws[:, 2:], atol=1e-6)
    # psi = 0 gives the image of w_avg for every z and label.
    images = np.asarray(
        generator([z, labels], truncation_psi=0.0, noise_mode="const")
    )
    avg_ws = np.broadcast_to(w_avg, (BATCH, generator.num_ws, LATENT))
    expected = np.asarray(generator.synthesis(avg_ws, noise_mode="const"))
    np.testing.assert_allclose(images, expected, atol=1e-5)
    np.testing.assert_allclose(
        images, np.broadcast_to(images[:1], images.shape), atol=1e-5
    )
    # Truncation does not apply in training.
    generator.style_mixing = 0.0
    trained = np.asarray(
        generator(
            [z, labels], training=True, truncation_psi=0.0, noise_mode="const"
        )
    )
    assert not np.allclose(trained, images)


def test_noise_modes_and_determinism():
    generator = _generator(seed=1)
    z = _z()
    const = np.asarray(generator(z, noise_mode="const"))
    # Fresh noise strengths are 0: random noise changes nothing.
    np.testing.assert_allclose(np.asarray(generator(z)), const, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(generator(z, noise_mode="none")), const, atol=1e-6
    )
    _randomize(generator)
    const = np.asarray(generator(z, noise_mode="const"))
    np.testing.assert_allclose(
        np.asarray(generator(z, noise_mode="const")), const
    )
    assert not np.allclose(
        np.asarray(generator(z, noise_mode="none")), const, atol=1e-4
    )
    first, second = np.asarray(generator(z)), np.asarray(generator(z))
    assert not np.allclose(first, second, atol=1e-4)
    with pytest.raises(ValueError, match="noise_mode"):
        generator(z, noise_mode="zero")


# ---------------------------------------------------------------------------
# Discriminator views.


def test_discriminator_num_views_keeps_views_apart():
    discriminator = _discriminator(mbstd_group_size=4)
    a = _images(32, seed=1)
    b = _images(32, seed=2) * 20.0 + 3.0
    stacked = discriminator(np.concatenate([a, b]), num_views=2)
    np.testing.assert_allclose(
        np.asarray(stacked[:BATCH]),
        np.asarray(discriminator(a)),
        rtol=1e-4,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        np.asarray(stacked[BATCH:]),
        np.asarray(discriminator(b)),
        rtol=1e-4,
        atol=1e-5,
    )
    mixed = discriminator(np.concatenate([a, b]))
    assert not np.allclose(
        np.asarray(mixed[:BATCH]), np.asarray(discriminator(a)), rtol=1e-3
    )


# ---------------------------------------------------------------------------
# Precision and XLA.


def test_float16_resolutions():
    generator = _generator(
        64, num_classes=NUM_CLASSES, num_fp16_res=2, conv_clamp=256
    )
    discriminator = _discriminator(64, num_fp16_res=2, conv_clamp=256)
    use_fp16 = {
        res: getattr(generator.synthesis, f"b{res}").use_fp16
        for res in (4, 8, 16, 32, 64)
    }
    assert use_fp16 == {4: False, 8: False, 16: False, 32: True, 64: True}
    assert [
        discriminator.b64.use_fp16,
        discriminator.b32.use_fp16,
        discriminator.b16.use_fp16,
    ] == [True, True, False]
    ws = generator.mapping(_z(), _labels())
    x, img = generator.synthesis.b32(
        ws[:, 5:8],
        x=ops.ones((BATCH, 16, 16, 32)),
        img=ops.zeros((BATCH, 16, 16, 3)),
    )
    assert x.dtype == "float16" and img.dtype == "float32"
    images = generator([_z(), _labels()], noise_mode="const")
    assert images.dtype == "float32"
    # Same weights in float32 throughout: close to the mixed-precision images.
    full = StyleGAN2Generator.from_config(
        {**generator.get_config(), "num_fp16_res": 0}
    )
    full.set_weights(generator.get_weights())
    reference = np.asarray(full([_z(), _labels()], noise_mode="const"))
    np.testing.assert_allclose(
        np.asarray(images), reference, atol=0.02 * np.abs(reference).max()
    )
    assert discriminator(images).dtype == "float32"


@pytest.mark.slow
def test_jit_compile_matches_eager():
    generator = _generator(num_classes=NUM_CLASSES)
    discriminator = _discriminator(
        num_classes=NUM_CLASSES, architecture="resnet"
    )
    _randomize(generator)
    z, labels = _z(), _labels()
    eager = generator([z, labels], noise_mode="const", truncation_psi=0.7)
    compiled = tf.function(
        lambda z, labels: generator(
            [z, labels], noise_mode="const", truncation_psi=0.7
        ),
        jit_compile=True,
    )
    np.testing.assert_allclose(
        np.asarray(compiled(z, labels)), np.asarray(eager), rtol=1e-4, atol=1e-4
    )
    d_compiled = tf.function(
        lambda x, labels: discriminator([x, labels]), jit_compile=True
    )
    np.testing.assert_allclose(
        np.asarray(d_compiled(eager, labels)),
        np.asarray(discriminator([eager, labels])),
        rtol=1e-4,
        atol=1e-4,
    )
    # Training mode (w_avg update, style mixing, random noise) compiles too.
    train = tf.function(
        lambda z, labels: generator([z, labels], training=True),
        jit_compile=True,
    )
    assert train(z, labels).shape == eager.shape
    assert np.abs(np.asarray(generator.w_avg)).sum() > 0


def test_r1_gradients_compile():
    # R1 differentiates D's input gradient: under XLA every op on the way
    # needs a second-order gradient (the layers' test covers G's ops).
    discriminator = _discriminator(channel_base=256, channel_max=16)
    _randomize(discriminator)

    def r1_grads(x):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                logits = tf.reduce_sum(discriminator(x))
            penalty = tf.reduce_sum(tf.square(inner.gradient(logits, x)))
        return outer.gradient(penalty, discriminator.trainable_variables)

    images = tf.constant(_images(32))
    eager = r1_grads(images)
    compiled = tf.function(r1_grads, jit_compile=True)(images)
    # None only for the output bias, which the penalty does not see.
    assert [g is None for g in compiled] == [g is None for g in eager]
    assert sum(g is None for g in compiled) == 1
    for a, b in zip(compiled, eager):
        if b is not None:
            scale = np.abs(np.asarray(b)).max()
            np.testing.assert_allclose(
                np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4 * scale
            )


def test_unknown_batch_size():
    generator = _generator(num_classes=NUM_CLASSES)
    discriminator = _discriminator(num_classes=NUM_CLASSES, mbstd_group_size=4)
    specs = [tf.TensorSpec((None, LATENT)), tf.TensorSpec((None,), tf.int32)]
    g = tf.function(
        lambda z, labels: generator([z, labels], training=True),
        input_signature=specs,
    )
    d = tf.function(
        lambda x, labels: discriminator([x, labels]),
        input_signature=[tf.TensorSpec((None, 32, 32, 3)), specs[1]],
    )
    images = g(_z(batch=8), _labels(8))
    assert images.shape == (8, 32, 32, 3)
    # min(group_size, N) at run time, as the reference: 4, then 2.
    for batch in (8, 2):
        np.testing.assert_allclose(
            np.asarray(d(images[:batch], _labels(batch))),
            np.asarray(discriminator([images[:batch], _labels(batch)])),
            rtol=1e-5,
            atol=1e-6,
        )


# ---------------------------------------------------------------------------
# Serialization and validation.


def test_keras_save_load_round_trip(tmp_path):
    generator = _generator(
        num_classes=NUM_CLASSES, num_fp16_res=1, conv_clamp=256, seed=5
    )
    discriminator = _discriminator(
        num_classes=NUM_CLASSES, architecture="skip", cmap_dim=16
    )
    _randomize(generator)
    _randomize(discriminator)
    z, labels = _z(), _labels()
    images = np.asarray(generator([z, labels], noise_mode="const"))
    logits = np.asarray(discriminator([images, labels]))
    generator.save(tmp_path / "g.keras")
    discriminator.save(tmp_path / "d.keras")
    g2 = keras.models.load_model(tmp_path / "g.keras")
    d2 = keras.models.load_model(tmp_path / "d.keras")
    assert isinstance(g2, StyleGAN2Generator) and isinstance(
        d2, StyleGAN2Discriminator
    )
    np.testing.assert_array_equal(
        np.asarray(g2([z, labels], noise_mode="const")), images
    )
    np.testing.assert_array_equal(np.asarray(d2([images, labels])), logits)
    np.testing.assert_array_equal(
        np.asarray(g2.w_avg), np.asarray(generator.w_avg)
    )
    assert g2.get_config() == generator.get_config()
    assert d2.get_config() == discriminator.get_config()


def test_get_config_from_config_and_clone():
    generator = _generator(
        num_classes=NUM_CLASSES, style_mixing=0.5, architecture="resnet"
    )
    config = generator.get_config()
    clone = StyleGAN2Generator.from_config(config)
    assert clone.get_config() == config
    assert [v.shape for v in clone.weights] == [
        v.shape for v in generator.weights
    ]
    # keras.models.clone_model (the GAN's EMA copy) rebuilds from the config.
    copy = keras.models.clone_model(generator)
    copy.set_weights(generator.get_weights())
    z, labels = _z(), _labels()
    np.testing.assert_allclose(
        np.asarray(copy([z, labels], noise_mode="const")),
        np.asarray(generator([z, labels], noise_mode="const")),
    )
    discriminator = _discriminator(
        architecture="orig", mbstd_group_size=2, mbstd_num_channels=2
    )
    d_config = discriminator.get_config()
    assert StyleGAN2Discriminator.from_config(d_config).get_config() == d_config


@pytest.mark.parametrize("resolution", [16, 48, 2048, "256", 256.0])
def test_resolution_validation(resolution):
    with pytest.raises(ValueError, match=r"\(32, 64, 128, 256, 512, 1024\)"):
        _generator(resolution)
    with pytest.raises(ValueError, match=r"\(32, 64, 128, 256, 512, 1024\)"):
        _discriminator(resolution)


@pytest.mark.parametrize(
    "factory, kwargs, match",
    [
        (_generator, dict(channel_base=16), "channel_base"),
        (_generator, dict(channel_max=0), "channel_max"),
        (_generator, dict(img_channels=0), "img_channels"),
        (_generator, dict(mapping_layers=0), "mapping_layers"),
        (_generator, dict(num_classes=1), "num_classes"),
        (_generator, dict(architecture="unet"), "architecture"),
        (_generator, dict(num_fp16_res=-1), "num_fp16_res"),
        (_generator, dict(conv_clamp=0), "conv_clamp"),
        (_generator, dict(style_mixing=2.0), "style_mixing"),
        (_generator, dict(mapping_lr_multiplier=0.0), "mapping_lr_multiplier"),
        (_discriminator, dict(mbstd_group_size=0), "mbstd_group_size"),
        (_discriminator, dict(mbstd_num_channels=3), "mbstd_num_channels"),
        (_discriminator, dict(architecture="unet"), "architecture"),
        (_discriminator, dict(img_channels=-1), "img_channels"),
    ],
)
def test_argument_validation(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)
