"""Tests of keras_dagan.manifest."""

import json
import platform

import keras
import pytest
import tensorflow as tf

from keras_dagan.manifest import check_manifest, write_manifest

FLAGS = {"arch": "dcgan", "width": 4, "dag": ["rotation"], "steps": 100, "seed": 3}
DEFINING = ("arch", "width", "dag")
MEMBERS = ["cat/0.png", "cat/1.png", "dog/0.png"]


def test_round_trip(tmp_path):
    assert check_manifest(tmp_path, FLAGS, DEFINING) is None  # nothing to check yet
    write_manifest(tmp_path, FLAGS, seed=3, data_members=MEMBERS)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["flags"] == FLAGS and manifest["seed"] == 3
    assert manifest["data_members"] == MEMBERS
    assert manifest["versions"]["tensorflow"] == tf.__version__
    assert manifest["versions"]["keras"] == keras.__version__
    assert manifest["versions"]["python"] == platform.python_version()
    assert "keras_dagan" in manifest["versions"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
    # A tuple is the list it was stored as; other flags may change.
    resumed = dict(FLAGS, dag=("rotation",), steps=200)
    assert check_manifest(tmp_path, resumed, DEFINING, data_members=MEMBERS) == manifest


def test_each_differing_defining_flag_is_named_with_both_values(tmp_path):
    write_manifest(tmp_path, FLAGS, seed=3)
    changed = dict(FLAGS, arch="biggan", dag=["rotation", "cropping"])
    with pytest.raises(ValueError) as raised:
        check_manifest(tmp_path, changed, DEFINING)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path} holds a run started with other settings: ")
    assert "--arch=biggan (the run's: dcgan)" in message
    assert "--dag=rotation,cropping (the run's: rotation)" in message
    assert "width" not in message
    assert "same flags and data, or give a new --out_dir" in message


def test_differing_data_members_are_named(tmp_path):
    write_manifest(tmp_path, FLAGS, data_members=MEMBERS)
    with pytest.raises(ValueError, match=r"member 1: 'cat/7.png'; the run's: 'cat/1.png'"):
        check_manifest(tmp_path, FLAGS, DEFINING,
                       data_members=["cat/0.png", "cat/7.png", "dog/0.png"])
    with pytest.raises(ValueError, match=r"2 members; the run's: 3"):
        check_manifest(tmp_path, FLAGS, DEFINING, data_members=MEMBERS[:2])


def test_a_flag_newer_than_the_run_and_a_damaged_manifest(tmp_path):
    write_manifest(tmp_path, FLAGS)
    assert check_manifest(tmp_path, dict(FLAGS, new_flag=1), DEFINING + ("new_flag",))
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(ValueError, match="manifest.json does not parse"):
        check_manifest(tmp_path, FLAGS, DEFINING)
