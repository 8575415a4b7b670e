import numpy as np
import pytest

from keras_dagan.diagnostics import LeakageDetector, family_transform, train_leakage_detectors

# Tiny budgets (150 steps of 32 images): cutout is learnt almost perfectly,
# quarter turns to about 68 % held-out accuracy, which the (TPR - FPR)
# rescaling corrects.
STEPS = 150
BATCH = 32


@pytest.fixture(scope="module")
def detectors(cifar_parts, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    trained = train_leakage_detectors(cifar_parts["train"], cifar_parts["heldout"],
                                      families=("cutout", "rotation"), steps=STEPS,
                                      batch_size=BATCH, cache_dir=cache)
    return trained, cache


def leakage_of(detectors, images):
    return {family: detector.leakage(images) for family, detector in detectors.items()}


def unit_float(images):
    return images.astype("float32") / 127.5 - 1


# Slow: the detectors they share train for about 20 s.
@pytest.mark.slow
def test_cutout_samples_are_flagged_for_cutout_only(detectors, cifar_parts):
    cut = family_transform("cutout", seed=5)(unit_float(cifar_parts["unseen"]))
    leakage = leakage_of(detectors[0], cut)
    assert leakage["cutout"] > 0.8 and leakage["rotation"] < 0.3


@pytest.mark.slow
def test_quarter_turns_are_flagged_for_rotation(detectors, cifar_parts):
    turned = family_transform("rotation", seed=5)(unit_float(cifar_parts["unseen"]))
    assert leakage_of(detectors[0], turned)["rotation"] > 0.7


@pytest.mark.slow
def test_clean_real_images_are_flagged_for_nothing(detectors, cifar_parts):
    leakage = leakage_of(detectors[0], cifar_parts["unseen"])
    assert leakage["cutout"] < 0.15 and leakage["rotation"] < 0.15


@pytest.mark.slow
def test_detectors_are_cached_and_reloaded(detectors, cifar_parts):
    trained, cache = detectors
    assert len(list((cache / "leak_detectors").glob("*.keras"))) == 2
    reloaded = train_leakage_detectors(cifar_parts["train"], cifar_parts["heldout"],
                                       families=("cutout",), steps=STEPS, batch_size=BATCH,
                                       cache_dir=cache)
    images = cifar_parts["unseen"][:100]
    np.testing.assert_array_equal(reloaded["cutout"].flagged(images),
                                  trained["cutout"].flagged(images))


@pytest.mark.slow
def test_wrong_image_size_and_family_are_explained(detectors):
    with pytest.raises(ValueError, match=r"trained on images of shape \(32, 32, 3\); the images "
                                         r"have shape \(16, 16, 3\)"):
        detectors[0]["cutout"].leakage(np.zeros((4, 16, 16, 3), "uint8"))
    with pytest.raises(ValueError, match="Unknown leak family 'flip'"):
        LeakageDetector("flip", (32, 32, 3))


def test_every_family_transforms_images():
    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    for family in ("color", "translation", "geometric", "ada_color", "crop"):
        transformed = family_transform(family, seed=0)(images)
        assert transformed.shape == images.shape and not np.allclose(transformed, images)
