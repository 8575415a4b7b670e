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
    elif stem.endswith(("_baseline", "_diffaugment")):
        suffix = "" if percent == 100 else f"-0.{percent // 10}"
        prefix = "DiffAugment-" if stem.endswith("diffaugment") else ""
        assert f"scripts/{prefix}biggan-{dataset}{suffix}.sh" in text
        assert flags.augment == ("diffaugment" if prefix else "none")
        if prefix:
            assert flags.policy == "translation,cutout"


def _flags(train, config):
    train.FLAGS.unparse_flags()
    train.FLAGS(["train.py", f"--flagfile={config}"])
    return train.FLAGS


def test_stylegan2_rows_are_all_there():
    names = {Path(c).stem for c in CONFIGS}
    for dataset in ("cifar10", "cifar100"):
        for percent in (100, 20, 10):
            for variant in ("baseline", "diffaugment"):
                assert f"{dataset}_{percent}pct_stylegan2_{variant}" in names
    for shot in ("obama", "grumpy_cat", "panda", "animalface_cat", "animalface_dog"):
        assert f"lowshot_{shot}_stylegan2_diffaugment" in names
    assert {"cifar10_100pct_stylegan2_ada", "paper256_stylegan2_ada", "lowshot_folder",
            "lowshot_cpu"} <= names


@pytest.mark.parametrize("config", [c for c in CONFIGS if "pct_stylegan2_" in c and "_ada" not in c],
                         ids=lambda c: Path(c).stem)
def test_stylegan2_cifar_flagfiles_follow_run_cifar(train, config):
    # DiffAugment-stylegan2/run_cifar.py: fmap_base 2048 (channel_base 4096),
    # batch 32, 25000 kimg, gamma 0.1 ns_r1_DiffAugment every step, lr 0.002,
    # ema_kimg 1000 held for its first 1000 kimg, take(num_samples).
    stem = Path(config).stem
    percent = int(stem.split("_")[1][: -len("pct")])
    flags = _flags(train, config)
    assert (flags.arch, flags.resolution, flags.latent_dim, flags.channel_base, flags.channel_max,
            flags.mapping_layers, flags.mbstd_group_size, flags.d_architecture,
            flags.style_mixing, flags.num_fp16_res) == (
        "stylegan2", 32, 512, 4096, 512, 8, 4, "resnet", 0.9, 0)
    assert (flags.loss, flags.r1_gamma, flags.r1_through_augment, flags.r1_interval,
            flags.pl_weight, flags.pl_interval) == ("non_saturating", 0.1, False, 0, 0.0, 0)
    assert (flags.batch_size, flags.steps, flags.lr_g, flags.lr_d, flags.beta_1, flags.beta_2,
            flags.adam_epsilon) == (32, 25_000_000 // 32, 0.002, 0.002, 0.0, 0.99, 1e-8)
    assert (flags.ema_kimg, flags.ema_start, flags.ema_rampup) == (1000, 1_000_000 // 32, None)
    assert flags.data_fraction == percent / 100 and not flags.conditional and flags.flip
    assert flags.subset == ("first" if percent < 100 else "stratified")
    assert (flags.fid_reference, flags.num_eval_samples) == ("test", 10_000)
    if stem.endswith("diffaugment"):
        policy = "color,cutout" if percent == 100 else "color,translation,cutout"
        assert (flags.augment, flags.policy) == ("diffaugment", policy)
    else:
        assert flags.augment == "none"
    assert "DiffAugment-stylegan2/run_cifar.py" in Path(config).read_text()


@pytest.mark.parametrize("config", [c for c in CONFIGS if "lowshot_" in c and "cpu" not in c],
                         ids=lambda c: Path(c).stem)
def test_lowshot_flagfiles_follow_run_low_shot(train, config):
    # run_low_shot.py: 256 px, network defaults (fmap_base 16384), batch 16,
    # 300 kimg (500 for AnimalFace), gamma 10 ns_DiffAugment_r1, EMA 10 kimg.
    flags = _flags(train, config)
    kimg = 500 if "animalface" in config else 300
    assert (flags.arch, flags.resolution, flags.channel_base, flags.mapping_layers,
            flags.batch_size, flags.steps) == ("stylegan2", 256, 32768, 8, 16, kimg * 1000 // 16)
    assert (flags.r1_gamma, flags.r1_through_augment, flags.r1_interval, flags.policy) == (
        10.0, True, 0, "color,translation,cutout")
    assert (flags.ema_kimg, flags.ema_start, flags.fid_reference, flags.num_eval_samples) == (
        10, 10_000 // 16, "train", 5000)
    assert "DiffAugment-stylegan2/run_low_shot.py" in Path(config).read_text()


# stylegan2-ada-pytorch train.py cfg_specs, with G_reg_interval 4 and
# D_reg_interval 16 (training_loop.py), fp16 in 4 resolutions, clamp 256.
ADA_SPECS = {
    "cifar10_100pct_stylegan2_ada": dict(kimg=100000, mb=64, mbstd=32, fmaps=1, lrate=0.0025,
                                         gamma=0.01, ema=500, ramp=0.05, map=2, d="orig",
                                         mixing=0.0, pl=0.0),
    "paper256_stylegan2_ada": dict(kimg=25000, mb=64, mbstd=8, fmaps=0.5, lrate=0.0025,
                                   gamma=1.0, ema=20, ramp=None, map=8, d="resnet",
                                   mixing=0.9, pl=2.0),
}


@pytest.mark.parametrize("name", sorted(ADA_SPECS))
def test_ada_stylegan2_flagfiles_follow_cfg_specs(train, name):
    spec = ADA_SPECS[name]
    flags = _flags(train, str(ROOT / "configs" / f"{name}.cfg"))
    assert (flags.channel_base, flags.channel_max, flags.mapping_layers, flags.mbstd_group_size,
            flags.d_architecture, flags.style_mixing, flags.pl_weight) == (
        int(spec["fmaps"] * 32768), 512, spec["map"], spec["mbstd"], spec["d"], spec["mixing"],
        spec["pl"])
    assert (flags.batch_size, flags.steps, flags.lr_g, flags.lr_d, flags.r1_gamma) == (
        spec["mb"], spec["kimg"] * 1000 // spec["mb"], spec["lrate"], spec["lrate"], spec["gamma"])
    assert (flags.ema_kimg, flags.ema_rampup) == (spec["ema"], spec["ramp"])
    assert (flags.r1_interval, flags.pl_interval, flags.num_fp16_res, flags.conv_clamp,
            flags.zero_nonfinite_gradients) == (16, 4, 4, 256, True)
    assert (flags.augment, flags.ada_preset, flags.ada_target, flags.ada_p) == (
        "ada", "bgc", 0.6, None)
    assert "stylegan2-ada-pytorch train.py" in Path(ROOT / "configs" / f"{name}.cfg").read_text()
