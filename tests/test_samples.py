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

