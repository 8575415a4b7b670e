import glob
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(glob.glob(str(ROOT / "configs" / "*.cfg")))


def load_train_script():
    spec = importlib.util.spec_from_file_location("train_script", ROOT / "scripts" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def train():
    # Defines train.py's absl flags in this process; no other test does.
    return load_train_script()


@pytest.mark.parametrize("config", [c for c in CONFIGS if "augment_demo" not in c],
                         ids=lambda c: Path(c).stem)
def test_training_flagfiles_are_valid(train, config, monkeypatch):
    train.FLAGS.unparse_flags()
    train.FLAGS(["train.py", f"--flagfile={config}"])
    if train.FLAGS.dataset.startswith("folder:") and "quickstart" not in config:
        monkeypatch.setattr(train.FLAGS, "dataset", "cifar10")  # a folder users bring
    train.check_flags()  # exits on any invalid combination
    assert train.FLAGS.out_dir.startswith("runs/")


def test_paper_rows_are_all_there():
    names = {Path(c).stem for c in CONFIGS}
    for dataset in ("cifar10", "cifar100"):
        for percent in (100, 20, 10):
            for variant in ("baseline", "diffaugment"):
                assert f"{dataset}_{percent}pct_biggan_{variant}" in names


def test_dag_rows_are_there():
    names = {Path(c).stem for c in CONFIGS}
    for percent in (10, 20):
        for heads in ("rotation_cropping", "rotation_cropping_translation_cutout"):
            assert f"cifar10_{percent}pct_biggan_dag_{heads}" in names


def test_ada_rows_are_there():
    names = {Path(c).stem for c in CONFIGS}
    for dataset in ("cifar10", "cifar100"):
        for percent in (100, 20, 10):
            assert f"{dataset}_{percent}pct_biggan_ada" in names


@pytest.mark.parametrize("flag,antialias", [([], True), (["--noada_antialias"], False)])
def test_ada_flags_reach_the_pipeline(train, flag, antialias):
    train.FLAGS.unparse_flags()
    train.FLAGS(["train.py", "--out_dir=runs/x", "--augment=ada", "--ada_preset=bg",
                 "--ada_kimg=100"] + flag)
    layer = train.adaptive_augment()
    assert (layer.preset, layer.speed_kimg, layer.antialias) == ("bg", 100.0, antialias)
