"""Tests of the stylegan2-ada-pytorch converter (keras_dagan.models.stylegan2_convert).

The first group is self-contained: it writes our own networks' weights in the
reference's names and layout with torch.save and converts them back. The
second group builds the reference networks with the reference code and needs
a checkout of NVlabs/stylegan2-ada-pytorch:

    STYLEGAN2_ADA_PYTORCH=/path/to/stylegan2-ada-pytorch python -m pytest \\
        tests/models/test_stylegan2_convert.py -m slow

(marked slow, like the script's end-to-end run; without the variable they skip).
"""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from keras_dagan.models.stylegan2 import (  # noqa: E402
    stylegan2_discriminator,
    stylegan2_generator,
)
from keras_dagan.models.stylegan2_convert import (  # noqa: E402
    _channel_config,
    load_stylegan2_ada,
    stylegan2_ada_config,
    stylegan2_ada_state_dict,
)

ROOT = Path(__file__).resolve().parents[2]
FIR = np.outer([1, 3, 3, 1], [1, 3, 3, 1]).astype(np.float32) / 64
N = 4


def perturb(model, seed):
    """Random values in every converted tensor, so a swapped or untransposed one shows."""
    rng = np.random.default_rng(seed)
    for variable, _ in model.reference_weights().values():
        variable.assign(rng.standard_normal(variable.shape).astype(variable.dtype) * 0.5)
    return model


def save_state_dict(model, path):
    state = {key: torch.from_numpy(value) for key, value in stylegan2_ada_state_dict(model).items()}
    # The reference's state_dicts also hold the FIR filters, which the converter checks and skips.
    top = next(key for key in state if key.endswith(".conv1.weight")).split(".conv1")[0]
    state[f"{top}.resample_filter"] = torch.from_numpy(FIR)
    torch.save(state, path)
    return state


def generate(generator, z, labels, **kwargs):
    args = [z, labels] if labels is not None else z
    return np.asarray(generator(args, noise_mode="const", **kwargs))


def discriminate(discriminator, images, labels):
    return np.asarray(discriminator([images, labels] if labels is not None else images))


G_CONFIG = dict(latent_dim=16, resolution=32, channel_base=512, channel_max=32,
                mapping_layers=2, w_dim=24, img_channels=3)


@pytest.mark.parametrize("architecture,num_classes", [("skip", None), ("skip", 3), ("resnet", 3),
                                                      ("orig", None)])
def test_generator_round_trip(tmp_path, architecture, num_classes):
    ours = perturb(stylegan2_generator(num_classes=num_classes, architecture=architecture, seed=0,
                                       **G_CONFIG), 1)
    save_state_dict(ours, tmp_path / "G.pt")
    kind, config = stylegan2_ada_config(torch.load(tmp_path / "G.pt", weights_only=True))
    assert kind == "G"
    assert config == dict(G_CONFIG, num_classes=num_classes, architecture=architecture)

    converted = load_stylegan2_ada(tmp_path / "G.pt", seed=0)
    assert type(converted).__name__ == "StyleGAN2Generator"
    rng = np.random.default_rng(2)
    z = rng.standard_normal((N, 16)).astype("float32")
    labels = rng.integers(0, 3, N).astype("int32") if num_classes else None
    for psi in (1.0, 0.7):
        np.testing.assert_allclose(generate(converted, z, labels, truncation_psi=psi),
                                   generate(ours, z, labels, truncation_psi=psi), atol=1e-5)
    np.testing.assert_array_equal(np.asarray(converted.w_avg), np.asarray(ours.w_avg))


@pytest.mark.parametrize("architecture,num_classes",
                         [("orig", 3), ("resnet", None), ("skip", None)])
def test_discriminator_round_trip(tmp_path, architecture, num_classes):
    config = dict(resolution=32, channel_base=512, channel_max=32, img_channels=3,
                  architecture=architecture, mbstd_num_channels=2, num_classes=num_classes)
    if num_classes:
        config.update(cmap_dim=20, mapping_layers=2)
    ours = perturb(stylegan2_discriminator(mbstd_group_size=2, **config), 3)
    save_state_dict(ours, tmp_path / "D.pt")
    kind, inferred = stylegan2_ada_config(torch.load(tmp_path / "D.pt", weights_only=True))
    assert kind == "D" and inferred == config

    converted = load_stylegan2_ada(tmp_path / "D.pt", "D", mbstd_group_size=2)
    rng = np.random.default_rng(4)
    images = rng.standard_normal((N, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 3, N).astype("int32") if num_classes else None
    np.testing.assert_allclose(discriminate(converted, images, labels),
                               discriminate(ours, images, labels), atol=1e-5)


def test_channel_config_of_the_reference_configurations():
    # train.py's cifar (channel_base 32768: 512 everywhere at 32 px) and paper256 (16384).
    assert _channel_config({4: 512, 8: 512, 16: 512, 32: 512}) == (32768, 512)
    paper256 = {res: min(16384 // res, 512) for res in (4, 8, 16, 32, 64, 128, 256)}
    assert _channel_config(paper256) == (16384, 512)
    assert _channel_config({4: 32, 8: 32, 16: 32, 32: 16}) == (512, 32)
    with pytest.raises(ValueError, match="do not follow"):
        _channel_config({4: 32, 8: 16, 16: 32})


@pytest.fixture(scope="module")
def generator_state(tmp_path_factory):
    ours = stylegan2_generator(num_classes=3, seed=0, **G_CONFIG)
    return {key: torch.from_numpy(value) for key, value in stylegan2_ada_state_dict(ours).items()}


def converting(tmp_path, state, **kwargs):
    torch.save(state, tmp_path / "G.pt")
    return load_stylegan2_ada(tmp_path / "G.pt", **kwargs)


def test_wrong_shape_names_the_tensor_and_both_shapes(tmp_path, generator_state):
    state = dict(generator_state)
    state["synthesis.b8.conv0.affine.weight"] = torch.zeros(32, 25)
    with pytest.raises(ValueError, match=r"synthesis\.b8\.conv0\.affine\.weight has shape "
                                         r"\[32, 25\]; .* expects \[32, 24\]"):
        converting(tmp_path, state)


def test_unknown_and_missing_tensors(tmp_path, generator_state):
    state = dict(generator_state, **{"synthesis.b8.conv2.weight": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"unknown .*'synthesis\.b8\.conv2\.weight'"):
        converting(tmp_path, state)
    state = dict(generator_state)
    del state["synthesis.b16.conv1.noise_strength"]
    with pytest.raises(ValueError, match=r"missing .*'synthesis\.b16\.conv1\.noise_strength'"):
        converting(tmp_path, state)
    state = dict(generator_state, **{"synthesis.b8.resample_filter": torch.ones(4, 4)})
    with pytest.raises(ValueError, match=r"resample_filter is not the \[1, 3, 3, 1\]"):
        converting(tmp_path, state)


def test_contradicting_keyword_and_wrong_network(tmp_path, generator_state):
    with pytest.raises(ValueError, match="resolution=64 contradicts the weights"):
        converting(tmp_path, generator_state, resolution=64)
    with pytest.raises(ValueError, match="holds a generator's state_dict, not network='D'"):
        converting(tmp_path, generator_state, network="D")


def test_files_that_hold_no_network(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_stylegan2_ada(tmp_path / "missing.pt")
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="neither a stylegan2-ada-pytorch Generator"):
        load_stylegan2_ada(tmp_path / "other.pt")
    with open(tmp_path / "network.pkl", "wb") as file:
        pickle.dump({"G": pickle.PickleBuffer}, file)  # any pickle that weights_only refuses
    monkeypatch.setitem(sys.modules, "dnnlib", None)  # the reference code is not importable
    with pytest.raises(ImportError, match="checkout of .*stylegan2-ada-pytorch to PYTHONPATH"):
        load_stylegan2_ada(tmp_path / "network.pkl")


# --- the script --------------------------------------------------------------------------------


@pytest.mark.slow
def test_script_writes_keras_files_and_explains_errors(tmp_path, generator_state):
    torch.save(generator_state, tmp_path / "G.pt")

    def script(*flags):
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "convert_stylegan2_ada.py"),
                               *flags], capture_output=True, text=True, timeout=600, cwd=ROOT)

    result = script(f"--input={tmp_path / 'G.pt'}", f"--output={tmp_path / 'out'}",
                    f"--export={tmp_path / 'saved'}")
    assert result.returncode == 0, result.stderr[-3000:]
    import keras

    import keras_dagan  # noqa: F401 - registers the classes

    loaded = keras.models.load_model(tmp_path / "out" / "G.keras")
    assert set(stylegan2_ada_state_dict(loaded)) == set(generator_state)
    for key, value in stylegan2_ada_state_dict(loaded).items():
        np.testing.assert_array_equal(value, generator_state[key].numpy())
    assert (tmp_path / "saved" / "saved_model.pb").exists()

    bad = script(f"--input={tmp_path / 'G.pt'}", f"--output={tmp_path / 'D.keras'}", "--network=D")
    assert bad.returncode == 2 and not (tmp_path / "D.keras").exists()
    assert bad.stderr.strip().splitlines()[-1].startswith("convert_stylegan2_ada.py: error: ")
    assert "not network='D'" in bad.stderr


# --- against the reference code ----------------------------------------------------------------

REFERENCE = os.environ.get("STYLEGAN2_ADA_PYTORCH")
needs_reference = pytest.mark.skipif(
    not REFERENCE, reason="set STYLEGAN2_ADA_PYTORCH=/path/to/a stylegan2-ada-pytorch checkout")


@pytest.fixture(scope="module")
def reference():
    if REFERENCE not in sys.path:
        sys.path.insert(0, REFERENCE)
    from training import networks

    return networks


def reference_perturb(net, seed):
    """Random values in every parameter and buffer at the scale the reference stores them."""
    gen = torch.Generator().manual_seed(seed)
    modules = dict(net.named_modules())
    with torch.no_grad():
        for name, tensor in list(net.named_parameters()) + list(net.named_buffers()):
            if name.endswith("resample_filter"):
                continue
            noise = torch.randn(tensor.shape, generator=gen)
            owner, _, leaf = name.rpartition(".")
            lr = getattr(modules.get(owner), "bias_gain", 1.0)  # the mapping's lr multiplier
            if leaf in ("weight", "const", "noise_const"):
                tensor.copy_(noise / lr)
            elif name.endswith("affine.bias"):
                tensor.copy_(1 + 0.3 * noise)
            else:
                tensor.copy_(0.5 * noise / lr)
    return net.eval()


def one_hot(labels, c_dim):
    c = np.eye(c_dim, dtype="float32")[labels] if c_dim else np.zeros((N, 0), "float32")
    return torch.from_numpy(c)


GENERATORS = {
    "G32": dict(z_dim=32, w_dim=48, c_dim=0, img_resolution=32, img_channels=3,
                mapping_kwargs=dict(num_layers=2),
                synthesis_kwargs=dict(channel_base=1024, channel_max=64)),
    "G32_cond_fp16": dict(z_dim=32, w_dim=48, c_dim=5, img_resolution=32, img_channels=3,
                          mapping_kwargs=dict(num_layers=3),
                          synthesis_kwargs=dict(channel_base=1024, channel_max=64,
                                                num_fp16_res=2, conv_clamp=256)),
    "G32_resnet_cond": dict(z_dim=32, w_dim=48, c_dim=5, img_resolution=32, img_channels=3,
                            mapping_kwargs=dict(num_layers=2),
                            synthesis_kwargs=dict(channel_base=1024, channel_max=64,
                                                  architecture="resnet")),
    "G32_orig": dict(z_dim=32, w_dim=48, c_dim=0, img_resolution=32, img_channels=3,
                     mapping_kwargs=dict(num_layers=2),
                     synthesis_kwargs=dict(channel_base=1024, channel_max=64, architecture="orig")),
    "G64_cond": dict(z_dim=32, w_dim=32, c_dim=5, img_resolution=64, img_channels=3,
                     mapping_kwargs=dict(num_layers=2),
                     synthesis_kwargs=dict(channel_base=1024, channel_max=64)),
    "G64_grey_clamp": dict(z_dim=16, w_dim=32, c_dim=0, img_resolution=64, img_channels=1,
                           mapping_kwargs=dict(num_layers=1),
                           synthesis_kwargs=dict(channel_base=512, channel_max=32, conv_clamp=1.0)),
}
DISCRIMINATORS = {
    "D32_orig_cond": dict(c_dim=5, img_resolution=32, img_channels=3, architecture="orig",
                          channel_base=1024, channel_max=64,
                          epilogue_kwargs=dict(mbstd_group_size=2)),
    "D32_resnet": dict(c_dim=0, img_resolution=32, img_channels=3, architecture="resnet",
                       channel_base=1024, channel_max=64, epilogue_kwargs=dict(mbstd_group_size=4)),
    "D32_skip": dict(c_dim=0, img_resolution=32, img_channels=3, architecture="skip",
                     channel_base=1024, channel_max=64, epilogue_kwargs=dict(mbstd_group_size=2)),
    "D64_resnet_cond_fp16": dict(c_dim=5, img_resolution=64, img_channels=3, architecture="resnet",
                                 channel_base=1024, channel_max=64, num_fp16_res=2, conv_clamp=256,
                                 epilogue_kwargs=dict(mbstd_group_size=2, mbstd_num_channels=2)),
    "D64_skip_cond_cmap": dict(c_dim=5, img_resolution=64, img_channels=3, architecture="skip",
                               channel_base=1024, channel_max=64, cmap_dim=32,
                               epilogue_kwargs=dict(mbstd_group_size=4)),
    "D64_orig_grey_clamp": dict(c_dim=0, img_resolution=64, img_channels=1, architecture="orig",
                                channel_base=512, channel_max=32, conv_clamp=4.0),
}


def relative_error(ours, theirs):
    return float(np.max(np.abs(ours - theirs)) / max(1.0, float(np.max(np.abs(theirs)))))


@pytest.mark.slow  # about 25 s in all
@needs_reference
@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_matches_the_reference(reference, tmp_path, name):
    kwargs = GENERATORS[name]
    G = reference_perturb(reference.Generator(**kwargs), seed=len(name))
    torch.save(G.state_dict(), tmp_path / "G.pt")
    ours = load_stylegan2_ada(tmp_path / "G.pt", num_fp16_res=0,
                              conv_clamp=kwargs["synthesis_kwargs"].get("conv_clamp"))
    rng = np.random.default_rng(0)
    z = rng.standard_normal((N, kwargs["z_dim"])).astype("float32")
    labels = rng.integers(0, max(kwargs["c_dim"], 1), N).astype("int32")
    c = one_hot(labels, kwargs["c_dim"])
    for psi, cutoff, noise_mode in [(1, None, "const"), (0.7, None, "const"), (0.5, 2, "const"),
                                    (1, None, "none")]:
        with torch.no_grad():
            theirs = G(torch.from_numpy(z), c, truncation_psi=psi, truncation_cutoff=cutoff,
                       noise_mode=noise_mode, force_fp32=True).numpy().transpose(0, 2, 3, 1)
        args = [z, labels] if kwargs["c_dim"] else z
        mine = np.asarray(ours(args, truncation_psi=psi, truncation_cutoff=cutoff,
                               noise_mode=noise_mode))
        assert relative_error(mine, theirs) < 1e-4, (psi, cutoff, noise_mode)


@pytest.mark.slow  # about 25 s in all
@needs_reference
@pytest.mark.parametrize("name", sorted(DISCRIMINATORS))
def test_discriminator_matches_the_reference(reference, tmp_path, name):
    kwargs = DISCRIMINATORS[name]
    D = reference_perturb(reference.Discriminator(**kwargs), seed=len(name))
    torch.save(D.state_dict(), tmp_path / "D.pt")
    group = kwargs.get("epilogue_kwargs", {}).get("mbstd_group_size", 4)
    ours = load_stylegan2_ada(tmp_path / "D.pt", mbstd_group_size=group, num_fp16_res=0,
                              conv_clamp=kwargs.get("conv_clamp"))
    rng = np.random.default_rng(0)
    res, channels = kwargs["img_resolution"], kwargs["img_channels"]
    images = rng.standard_normal((N, res, res, channels)).astype("float32")
    labels = rng.integers(0, max(kwargs["c_dim"], 1), N).astype("int32")
    with torch.no_grad():
        theirs = D(torch.from_numpy(images.transpose(0, 3, 1, 2)), one_hot(labels, kwargs["c_dim"]),
                   force_fp32=True).numpy()
    mine = np.asarray(ours([images, labels] if kwargs["c_dim"] else images))
    assert relative_error(mine, theirs) < 1e-4


@pytest.mark.slow  # about 25 s in all
@needs_reference
def test_network_pickle(reference, tmp_path, monkeypatch):
    G = reference_perturb(reference.Generator(**GENERATORS["G32_cond_fp16"]), seed=1)
    G_ema = reference_perturb(reference.Generator(**GENERATORS["G32_cond_fp16"]), seed=2)
    D = reference_perturb(reference.Discriminator(**DISCRIMINATORS["D32_orig_cond"]), seed=3)
    with open(tmp_path / "network.pkl", "wb") as file:
        pickle.dump(dict(G=G, D=D, G_ema=G_ema, augment_pipe=None), file)
    nets = load_stylegan2_ada(tmp_path / "network.pkl", num_fp16_res=0)
    assert sorted(nets) == ["D", "G", "G_ema"]
    assert nets["D"].get_config()["mbstd_group_size"] == 2  # from the pickle's init_kwargs
    assert nets["G_ema"].get_config()["conv_clamp"] == 256
    rng = np.random.default_rng(0)
    z = rng.standard_normal((N, 32)).astype("float32")
    labels = rng.integers(0, 5, N).astype("int32")
    with torch.no_grad():
        theirs = G_ema(torch.from_numpy(z), one_hot(labels, 5), noise_mode="const",
                       force_fp32=True).numpy().transpose(0, 2, 3, 1)
    mine = np.asarray(nets["G_ema"]([z, labels], noise_mode="const"))
    assert relative_error(mine, theirs) < 1e-4
    # Read by the reference's legacy.load_network_pkl above; by plain unpickling without it.
    monkeypatch.setitem(sys.modules, "legacy", None)
    only = load_stylegan2_ada(tmp_path / "network.pkl", "D", num_fp16_res=0)
    assert type(only).__name__ == "StyleGAN2Discriminator"
    assert only.get_config() == nets["D"].get_config()
