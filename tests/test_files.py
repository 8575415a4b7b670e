import numpy as np
import pytest
import tensorflow as tf

from keras_dagan.files import atomic_path, image_grid, write_png


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as partial:
            assert partial.endswith(".keras") and partial != str(target)
            with open(partial, "w") as file:
                file.write("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_folders_are_replaced_whole(tmp_path):
    target = tmp_path / "export"
    for version in ("one", "two"):
        with atomic_path(target) as partial:
            (tmp_path / partial).mkdir()
            (tmp_path / partial / "version").write_text(version)
    assert (target / "version").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_png_grid_round_trip(tmp_path):
    images = np.stack([np.full((2, 3, 3), value, np.float32) for value in (-1.0, 0.0, 1.0)])
    grid = image_grid(images, columns=2)
    assert grid.shape == (4, 6, 3)
    write_png(tmp_path / "grid.png", grid)
    decoded = tf.io.decode_png(tf.io.read_file(str(tmp_path / "grid.png"))).numpy()
    np.testing.assert_array_equal(decoded[0, :3, 0], [0, 0, 0])
    np.testing.assert_array_equal(decoded[0, 3:, 0], [128, 128, 128])  # round(127.5)
    np.testing.assert_array_equal(decoded[2, :3, 0], [255, 255, 255])
    np.testing.assert_array_equal(decoded[2, 3:, 0], [0, 0, 0])  # the empty cell
