import numpy as np

from keras_dagan.samples import generated_batches, sample_grid


def test_generated_batches_are_fixed_and_cover_the_classes():
    seen = []

    def sample(z, labels):
        seen.append(labels.numpy())
        return z

    first = np.concatenate(list(generated_batches(sample, 4, 10, 4, num_classes=3, seed=1)))
    second = np.concatenate(list(generated_batches(sample, 4, 10, 4, num_classes=3, seed=1)))
    assert first.shape == (10, 4)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(np.concatenate(seen[:3]), np.arange(10) % 3)
    seen.clear()
    list(generated_batches(sample, 4, 5, 4, num_classes=3, label=2))
    np.testing.assert_array_equal(np.concatenate(seen), [2] * 5)


def test_sample_grid_tiles_one_class_per_column():
    def generator(inputs, training):
        z, labels = inputs
        return np.broadcast_to(labels.numpy()[:, None, None, None] / 10.0, (len(labels), 2, 2, 1))

    grid = sample_grid(generator, 4, num_samples=6, num_classes=3)
    assert grid.shape == (4, 6, 1)
    np.testing.assert_allclose(grid[0, ::2, 0], [0.0, 0.1, 0.2])
    np.testing.assert_allclose(grid[2, ::2, 0], [0.0, 0.1, 0.2])


def test_sample_grid_callback_writes_pngs_and_tensorboard_images(tmp_path):
    import glob

    import keras
    import tensorflow as tf

    from keras_dagan import GAN
    from keras_dagan.models import dcgan_discriminator, dcgan_generator
    from keras_dagan.samples import SampleGrid

    gan = GAN(dcgan_generator(8, 32, width=4), dcgan_discriminator(32, width=4), 8)
    gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
    real = np.zeros((8, 32, 32, 3), "float32")
    callbacks = [SampleGrid(tmp_path / "png", 1, num_samples=4, log_dir=str(tmp_path / "tb")),
                 # Records only every 100 steps; the grids must get through anyway.
                 keras.callbacks.TensorBoard(str(tmp_path / "logs"), update_freq=100)]
    gan.fit(tf.data.Dataset.from_tensors(real).repeat(), steps_per_epoch=2, epochs=1, verbose=0,
            callbacks=callbacks)
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["step-00000001.png",
                                                                     "step-00000002.png"]
    steps = [event.step for path in glob.glob(str(tmp_path / "tb" / "events.*"))
             for event in tf.compat.v1.train.summary_iterator(path)
             if any(value.tag == "samples" for value in event.summary.value)]
    assert sorted(steps) == [1, 2]


def test_sample_grid_callback_writes_the_last_step_of_any_run(tmp_path):
    import keras
    import tensorflow as tf

    from keras_dagan import GAN
    from keras_dagan.models import dcgan_discriminator, dcgan_generator
    from keras_dagan.samples import SampleGrid

    gan = GAN(dcgan_generator(8, 32, width=4), dcgan_discriminator(32, width=4), 8)
    gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
    real = tf.data.Dataset.from_tensors(np.zeros((8, 32, 32, 3), "float32")).repeat()
    grids = SampleGrid(tmp_path, 2, num_samples=4)
    gan.fit(real, steps_per_epoch=3, epochs=1, verbose=0, callbacks=[grids])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000002.png", "step-00000003.png"]
    # A run that ends on a period writes that grid once.
    gan.fit(real, steps_per_epoch=1, epochs=1, verbose=0, callbacks=[grids])
    assert len(list(tmp_path.iterdir())) == 3
