"""The LeCam, APA and CR flags of scripts/train.py and the flagfiles of the
LeCam + DiffAugment and DiffAugment + CR BigGAN rows."""

import glob
from pathlib import Path

import pytest

from keras_dagan.regularizers import ConsistencyAugment

ROOT = Path(__file__).resolve().parents[2]

# (reference script, its regularizer flags): google/lecam-gan
# biggan_cifar/scripts/lc-DiffAugment-biggan-*.sh (--LC 0.3, DiffAugment
# translation,cutout; its BigGAN train.py: ema_losses decay 0.9, start_itr
# 1000) and mit-han-lab/data-efficient-gans
# DiffAugment-biggan-cifar/scripts/DiffAugment-cr-biggan-*.sh (--CR 10;
# --CR_augment "" below 100 %, else its default flip,translation with
# DiffAugment cutout).
def reference(stem):
    dataset, percent = stem.split("_")[0], int(stem.split("_")[1][: -len("pct")])
    suffix = "" if percent == 100 else f"-0.{percent // 10}"
    if stem.endswith("_lecam"):
        return (f"lc-DiffAugment-biggan-{dataset}{suffix}.sh",
                dict(lecam_weight=0.3, lecam_ema_decay=0.9, lecam_start=1000,
                     policy="translation,cutout", cr_weight_real=0.0, cr_augment=""))
    full = percent == 100
    return (f"DiffAugment-cr-biggan-{dataset}{suffix}.sh",
            dict(cr_weight_real=10.0, cr_weight_fake=0.0, lecam_weight=0.0,
                 policy="cutout" if full else "translation,cutout",
                 cr_augment="flip,translation" if full else ""))


CONFIGS = sorted(glob.glob(str(ROOT / "configs" / "*_biggan_diffaugment_*.cfg")))


def test_lecam_and_cr_rows_are_all_there():
    names = {Path(c).stem for c in CONFIGS}
    assert names == {f"{dataset}_{percent}pct_biggan_diffaugment_{regularizer}"
                     for dataset in ("cifar10", "cifar100") for percent in (10, 20, 100)
                     for regularizer in ("lecam", "cr")}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: Path(c).stem)
def test_regularizer_flagfiles_follow_their_reference_script(train, config):
    stem = Path(config).stem
    script, expected = reference(stem)
    train.FLAGS.unparse_flags()
    train.FLAGS(["train.py", f"--flagfile={config}"])
    for name, value in expected.items():
        assert getattr(train.FLAGS, name) == value, name
    assert train.FLAGS.augment == "diffaugment" and not train.FLAGS.apa
    assert script in Path(config).read_text()
    gan_arguments = train.regularizer_flags()
    if train.FLAGS.cr_augment:
        assert isinstance(gan_arguments["cr_augment"], ConsistencyAugment)
        assert gan_arguments["cr_augment"].flip


def parse(train, *flags):
    train.FLAGS.unparse_flags()
    train.parse_flags(["train.py", "--out_dir=runs/x", *flags])
    train.check_flags()
    return train.regularizer_flags()


def test_apa_shares_adas_controller_settings_unless_told_otherwise(train):
    shared = parse(train, "--augment=ada", "--ada_kimg=100", "--ada_target=0.7", "--apa")
    assert (shared["apa_target"], shared["apa_kimg"], shared["apa_separate_controller"]) == (
        0.7, 100, False)
    separate = parse(train, "--augment=ada", "--apa", "--apa_kimg=50",
                     "--apa_separate_controller")
    assert (separate["apa_kimg"], separate["apa_separate_controller"]) == (50, True)
    fixed = parse(train, "--augment=diffaugment", "--apa", "--apa_p=0.2")
    assert (fixed["apa_target"], fixed["apa_p"]) == (None, 0.2)


@pytest.mark.parametrize("flags,message", [
    (["--lecam_weight=-1"], "--lecam_weight must be a number >= 0"),
    (["--lecam_weight=0.3", "--lecam_ema_decay=1"], "--lecam_ema_decay must be in [0, 1)"),
    (["--lecam_start=-5"], "--lecam_start must be an integer >= 0"),
    (["--apa", "--apa_target=2"], "--apa_target must be a number in [0, 1]"),
    (["--apa", "--apa_p=0"], "set --apa_target"),
    (["--apa", "--apa_kimg=0"], "--apa_kimg must be a number > 0"),
    (["--augment=ada", "--apa", "--apa_kimg=100"],
     "--apa_kimg=100.0 differs from --ada_kimg=500.0"),
    (["--augment=ada", "--apa", "--apa_p=0.3"], "--apa_p=0.3 fixes APA's p"),
    (["--cr_weight_real=-10"], "--cr_weight_real must be a number >= 0"),
    (["--augment=none", "--cr_weight_real=10"], "--cr_weight_real > 0 without --cr_augment"),
    (["--cr_weight_real=10", "--cr_augment=flip,spin"], "--cr_augment=flip,spin: Unknown"),
])
def test_bad_regularizer_flags_stop_with_one_line(train, flags, message, capsys):
    train.FLAGS.unparse_flags()
    with pytest.raises(SystemExit) as stop:
        parse(train, *flags)
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train.py: error:") and message in lines[0], lines


@pytest.mark.slow
def test_regularizers_train_and_resume_from_the_command_line(tmp_path):
    import subprocess
    import sys

    import h5py
    import numpy as np

    from keras_dagan.files import write_png

    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        for index in range(8):
            write_png(tmp_path / "images" / name / f"{index}.png",
                      rng.integers(0, 256, (32, 32, 3)).astype("uint8"))
    out = tmp_path / "run"

    def run(steps):
        flags = [f"--dataset=folder:{tmp_path / 'images'}", f"--out_dir={out}", f"--steps={steps}",
                 "--checkpoint_every=2", "--sample_every=0", "--batch_size=8", "--width=4",
                 "--latent_dim=8", "--verbose=0", "--lecam_weight=0.3", "--apa", "--apa_kimg=0.1",
                 "--apa_interval=1", "--cr_weight_real=10", "--cr_weight_fake=10",
                 "--cr_augment=flip,translation"]
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), *flags],
                              capture_output=True, text=True, timeout=600, cwd=ROOT)

    def state(step):
        path = out / "checkpoints" / f"step-{step:08d}" / "gan.weights.h5"
        with h5py.File(path) as file:
            return {key: float(file[f"vars/{key}"][()]) for key in
                    ("apa_p", "lecam_ema_real", "lecam_ema_fake", "lecam_ema_weight")
                    if f"vars/{key}" in file}

    first = run(2)
    assert first.returncode == 0, first.stderr[-3000:]
    saved = state(2)
    assert set(saved) == {"apa_p", "lecam_ema_real", "lecam_ema_fake", "lecam_ema_weight"}
    resumed = run(4)
    assert resumed.returncode == 0 and "Resumed from step 2" in resumed.stdout, resumed.stderr[-3000:]
    # The EMAs' debiasing weight counts the D updates, 1 - 0.99^n: it
    # continues from the checkpoint's 2 to 4, not from 0 to 2.
    np.testing.assert_allclose(saved["lecam_ema_weight"], 1 - 0.99**2, rtol=1e-5)
    np.testing.assert_allclose(state(4)["lecam_ema_weight"], 1 - 0.99**4, rtol=1e-5)
