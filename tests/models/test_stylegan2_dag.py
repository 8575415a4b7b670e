"""The DAG variant of the StyleGAN2 discriminator."""

import keras
import numpy as np
import pytest

from keras_dagan.models import (
    DAG,
    GAN,
    StyleGAN2DAGDiscriminator,
    dag_discriminator,
    stylegan2_discriminator,
    stylegan2_generator,
)

SMALL = dict(resolution=32, channel_base=256, channel_max=16)


def _views(num_views, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    # Views of very different scales, so that statistics mixed across views
    # would show.
    scales = np.array([1.0, 10.0, 0.1, 3.0])[:num_views, None, None, None, None]
    return (scales * rng.normal(size=(num_views, batch, 32, 32, 3))).astype("float32")


@pytest.mark.parametrize("num_classes", [None, 5])
def test_head_zero_is_the_discriminator_and_views_stay_apart(num_classes):
    keras.utils.set_random_seed(0)
    discriminator = stylegan2_discriminator(num_classes=num_classes, mbstd_group_size=2, **SMALL)
    dag = dag_discriminator(discriminator, 3)
    assert isinstance(dag, StyleGAN2DAGDiscriminator) and dag.num_heads == 3
    views = _views(3)
    labels = np.arange(4) % 5
    inputs = (lambda v: [v, labels]) if num_classes else (lambda v: v)
    logits = keras.ops.convert_to_numpy(dag(inputs(views)))
    assert logits.shape == (3, 4)
    # Head 0 on view 0 is the plain discriminator on those images: the
    # minibatch standard deviation saw view 0 alone.
    alone = keras.ops.convert_to_numpy(discriminator(inputs(views[0])))
    np.testing.assert_allclose(logits[0], alone[:, 0], rtol=1e-4, atol=1e-5)
    # Each view scored alone by its head gives the same logits.
    for k in (1, 2):
        single = keras.ops.convert_to_numpy(dag(inputs(views[k : k + 1]), heads=(k,)))
        np.testing.assert_allclose(logits[k], single[0], rtol=1e-4, atol=1e-5)
    # The heads are distinct layers with their own weights.
    first = keras.ops.convert_to_numpy(dag(inputs(views[:1]), heads=(1,)))
    assert not np.allclose(first[0], logits[0])


def test_round_trips_through_a_keras_file(tmp_path):
    keras.utils.set_random_seed(1)
    dag = dag_discriminator(stylegan2_discriminator(num_classes=3, **SMALL), 2)
    views, labels = _views(2), np.array([0, 1, 2, 0])
    expected = keras.ops.convert_to_numpy(dag([views, labels]))
    path = tmp_path / "dag.keras"
    dag.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, StyleGAN2DAGDiscriminator)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded([views, labels])), expected, rtol=1e-5, atol=1e-6
    )


@pytest.mark.slow
def test_a_gan_trains_stylegan2_with_dag_heads():
    keras.utils.set_random_seed(2)
    dag = DAG("flipping")
    generator = stylegan2_generator(latent_dim=8, w_dim=8, mapping_layers=1, **SMALL)
    discriminator = dag_discriminator(stylegan2_discriminator(mbstd_group_size=2, **SMALL),
                                      dag.num_heads)
    gan = GAN(generator, discriminator, 8, loss="non_saturating", r1_gamma=1.0, dag=dag,
              ema_decay=0.0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    logs = gan.fit(images, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite([logs[name][-1] for name in ("d_loss", "g_loss", "r1")]).all()
    assert {"d_loss_flip_left_right", "d_loss_flip_up_down"} <= set(logs)
