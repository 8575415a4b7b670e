import glob
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(glob.glob(str(ROOT / "configs" / "*.cfg")))


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


# The reference scripts (DiffAugment-biggan-cifar/scripts/*.sh and dag-gans'
# dag-biggan-cifar10-0.{1,2}.sh): num_epochs and num_samples per row; every
# one uses batch 50, 4 D steps, --ema_start 1000, seed 0 and 10k-sample FID
# against the test set every 4000 iterations, keeping the best.
REFERENCE_RUNS = {
    ("cifar10", 10): (5000, 5000), ("cifar10", 20): (5000, 10000), ("cifar10", 100): (1000, 50000),
    ("cifar100", 10): (5000, 5000), ("cifar100", 20): (5000, 10000),
    ("cifar100", 100): (2000, 50000),
}


@pytest.mark.parametrize("config", [c for c in CONFIGS if "_biggan_" in c], ids=lambda c: Path(c).stem)
def test_paper_flagfiles_follow_their_reference_script(train, config):
    stem = Path(config).stem
    dataset, percent = stem.split("_")[0], int(stem.split("_")[1][: -len("pct")])
    train.FLAGS.unparse_flags()
    train.FLAGS(["train.py", f"--flagfile={config}"])
    flags = train.FLAGS
    epochs, samples = REFERENCE_RUNS[(dataset, percent)]
    assert flags.steps == epochs * samples // (flags.batch_size * flags.d_steps)
    assert (flags.batch_size, flags.d_steps, flags.ema_decay, flags.ema_start) == (50, 4, 0.9999, 1000)
    assert (flags.lr_g, flags.lr_d, flags.beta_1, flags.beta_2) == (2e-4, 2e-4, 0.0, 0.999)
    assert (flags.loss, flags.conditional, flags.flip, flags.seed, flags.width) == (
        "hinge", True, True, 0, 256)
    assert round(flags.data_fraction * 50_000) == samples
    assert flags.subset == ("reference" if percent < 100 else "stratified")
    assert (flags.eval_every, flags.num_eval_samples, flags.fid_reference, flags.export) == (
        4000, 10_000, "test", "best")
    text = Path(config).read_text()
    if "_dag_" in stem:
        assert f"dag-biggan-cifar10-0.{percent // 10}.sh" in text and flags.augment == "none"
    elif not stem.endswith("_ada"):
        suffix = "" if percent == 100 else f"-0.{percent // 10}"
        prefix = "DiffAugment-" if stem.endswith("diffaugment") else ""
        assert f"scripts/{prefix}biggan-{dataset}{suffix}.sh" in text
        assert flags.augment == ("diffaugment" if prefix else "none")
        if prefix:
            assert flags.policy == "translation,cutout"
