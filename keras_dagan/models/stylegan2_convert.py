"""Converting NVlabs/stylegan2-ada-pytorch networks into keras_dagan's StyleGAN2.

`load_stylegan2_ada(path)` reads either a `torch.save`d `state_dict` of one
reference network (a `Generator` or a `Discriminator` of
`training/networks.py`) or a reference network pickle (the `dict` of `G`, `D`
and `G_ema` that the reference's training loop writes), builds the matching
`StyleGAN2Generator` / `StyleGAN2Discriminator` and copies the weights in. The
reference stores its weights the way our networks do (N(0, 1) scaled at run
time, mapping layers divided by their learning-rate multiplier), so the copy
is a transpose per tensor: dense `[out, in] -> [in, out]`, convolution
`[out, in, kh, kw] -> [kh, kw, in, out]`, everything else as is.
"""

import inspect
import os
import pickle
import re
import warnings
import zipfile

import keras
import numpy as np

from keras_dagan.models.stylegan2 import stylegan2_discriminator, stylegan2_generator

# The reference always builds its FIR filters from [1, 3, 3, 1]; the buffers it
# stores are that outer product normalised to sum 1. Our layers make their own.
_FIR = np.outer([1.0, 3.0, 3.0, 1.0], [1.0, 3.0, 3.0, 1.0]) / 64.0

# Defaults for what a state_dict cannot tell (see load_stylegan2_ada).
_DEFAULT_MBSTD_GROUP_SIZE = 4
_DEFAULT_NUM_FP16_RES = 0
_DEFAULT_CONV_CLAMP = 256
# Every reference configuration uses these; a state_dict cannot tell them either.
_DEFAULT_MAPPING_LR_MULTIPLIER = 0.01

_REFERENCE_CODE_HINT = (
    "reading a stylegan2-ada-pytorch network pickle needs that repository's code "
    "(its dnnlib and torch_utils packages): add a checkout of "
    "https://github.com/NVlabs/stylegan2-ada-pytorch to PYTHONPATH, or, where the "
    "reference code runs, save one network's weights with "
    "torch.save(G.state_dict(), 'G.pt') and convert that file"
)


AUTO = "auto"


def load_stylegan2_ada(path, network=None, *, mbstd_group_size=AUTO, num_fp16_res=AUTO,
                       conv_clamp=AUTO, **kwargs):
    """Loads stylegan2-ada-pytorch weights into keras_dagan's StyleGAN2 networks.

    `path` is one of:

    - a `torch.save`d `state_dict` of one reference network, e.g.
      `torch.save(G_ema.state_dict(), "G_ema.pt")`. PyTorch alone reads it
      (`weights_only=True`: no code in the file runs). Whether it is a
      generator or a discriminator, and its configuration (resolution, image
      channels, `channel_base`, `channel_max`, `latent_dim`, `w_dim`,
      `mapping_layers`, `num_classes`, `architecture`, the discriminator's
      `cmap_dim` and `mbstd_num_channels`) are read from the tensors' names and
      shapes. Returns one Keras model.
      A `torch.save`d dict of such state_dicts (e.g. `{"G": ..., "D": ...}`)
      converts each, like a pickle.
    - a reference network pickle (`network-snapshot-*.pkl`, the published
      `ffhq.pkl`, `metfaces.pkl`, ...): a dict of the modules `G`, `D` and
      `G_ema`. Unpickling runs the code stored in the pickle and needs the
      reference repository (its `dnnlib` and `torch_utils`) on `PYTHONPATH`;
      load only pickles you trust. With the checkout's root on the path, its
      `legacy.load_network_pkl` reads the file, so the TensorFlow StyleGAN2
      pickles it converts load too. The configuration is the pickled modules'
      `init_kwargs`. Returns a dict `{"G": ..., "D": ..., "G_ema": ...}` of
      Keras models, or the one named by `network`.

    Weights cannot tell `mbstd_group_size`, `num_fp16_res` and `conv_clamp`;
    left "auto", each is the pickle's own value, else the default below.

    Args:
        path: The `.pt` / `.pth` state_dict or the `.pkl` network pickle.
        network: For a pickle or a dict of state_dicts, the one network to
            convert ("G", "D" or "G_ema"); None converts all. For a single
            state_dict, the kind it must be ("G" or "G_ema" for a generator,
            "D" for a discriminator); None accepts either.
        mbstd_group_size: The discriminator's minibatch-stddev group size.
            Default: the pickle's, else 4 (the reference `Discriminator`'s
            default; train.py uses 32 for `cifar`, 8 for `paper256`).
        num_fp16_res: Number of highest resolutions computed in float16.
            Default: the pickle's, else 0 (float32 throughout, which matches
            the reference's `force_fp32=True` output to float precision).
        conv_clamp: Clamp of the convolution outputs. Default: the pickle's,
            else 256 (what train.py uses in every configuration; it changes the
            output only where an activation exceeds 256).
        **kwargs: Passed to `stylegan2_generator` / `stylegan2_discriminator`
            (e.g. `seed`, `style_mixing`, `w_avg_beta`, `name`); a value the
            weights determine must agree with them.

    Returns:
        A `StyleGAN2Generator` or `StyleGAN2Discriminator`, or a dict of them.

    Raises:
        FileNotFoundError: If `path` does not exist.
        ImportError: If PyTorch is missing, or the file is a pickle and the
            reference code is not importable.
        ValueError: If the file holds no reference network, a tensor name is
            unknown, missing, or has the wrong shape (the message names the
            tensor and both shapes), or the network uses an option our networks
            lack.
        TypeError: If a keyword is taken by neither network builder.

    Example:

    ```python
    G = load_stylegan2_ada("G_ema.pt")            # a state_dict
    images = G(z, noise_mode="const", truncation_psi=0.7)
    nets = load_stylegan2_ada("metfaces.pkl")      # reference code on PYTHONPATH
    ```
    """
    overrides = dict(mbstd_group_size=mbstd_group_size, num_fp16_res=num_fp16_res,
                     conv_clamp=conv_clamp)
    overrides = {key: value for key, value in overrides.items() if not _is_auto(value)}
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ValueError(f"{path}: a folder; expected a torch.save'd state_dict or a "
                         "network pickle")
    torch = _import_torch()
    try:
        with warnings.catch_warnings():
            # Said of network pickles, which are read below instead.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            contents = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - anything weights_only refuses
        if zipfile.is_zipfile(path):
            detail = (str(error).strip() or type(error).__name__).splitlines()[0]
            raise ValueError(f"{path}: a zip archive that torch.load cannot read as a "
                             f"torch.save'd state_dict ({detail})") from None
        return _load_pickle(path, network, overrides, kwargs)
    if _is_state_dict(contents):
        try:
            kind = _network_kind(contents)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        if network is not None:
            _check_network_name(network, ("G", "D", "G_ema"), path)
            if (network == "D") != (kind == "D"):
                what = "discriminator" if kind == "D" else "generator"
                raise ValueError(f"{path}: holds a {what}'s state_dict, not network={network!r}")
        return _convert(contents, overrides, path, kwargs)
    if (isinstance(contents, dict) and contents
            and all(_is_state_dict(value) for value in contents.values())):
        names = _select(list(contents), network, path)
        _check_kwargs(kwargs, path)
        models = {name: _convert(contents[name], overrides, f"{path}[{name!r}]",
                                 _named(kwargs, name), strict=False)
                  for name in names}
        return models[network] if network is not None else models
    raise ValueError(f"{path}: holds a {type(contents).__name__}, neither a stylegan2-ada-pytorch "
                     "state_dict (names like 'mapping.fc0.weight', 'b4.conv.weight' -> tensors) "
                     "nor a network pickle")


def stylegan2_ada_config(state_dict):
    """Infers a reference network's kind and configuration from its state_dict.

    Args:
        state_dict: A mapping of the reference's tensor names to tensors or
            arrays (a `Generator`'s or a `Discriminator`'s).

    Returns:
        `(kind, config)`: kind "G" or "D"; config the keyword arguments of
        `stylegan2_generator` / `stylegan2_discriminator` that the weights
        determine.

    Raises:
        ValueError: If the names or shapes fit neither network.
    """
    shapes = {key: tuple(np.shape(_to_numpy(value))) for key, value in state_dict.items()}
    kind = _network_kind(shapes)
    return kind, (_generator_config(shapes) if kind == "G" else _discriminator_config(shapes))


def _convert(state_dict, overrides, source, kwargs, strict=True):
    """Builds our network for a reference state_dict and assigns its weights.

    `overrides` holds `mbstd_group_size`, `num_fp16_res`, `conv_clamp` where
    set; `kwargs` further builder arguments, which with `strict=False` (one
    call converting several networks) go only to the builders that take them.
    """
    arrays = {key: _to_numpy(value) for key, value in state_dict.items()}
    try:
        kind, config = stylegan2_ada_config(arrays)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None
    overrides = dict(overrides or {})
    overrides.setdefault("num_fp16_res", _DEFAULT_NUM_FP16_RES)
    overrides.setdefault("conv_clamp", _DEFAULT_CONV_CLAMP)
    if kind == "D":
        overrides.setdefault("mbstd_group_size", _DEFAULT_MBSTD_GROUP_SIZE)
    else:
        overrides.pop("mbstd_group_size", None)
    builder = stylegan2_generator if kind == "G" else stylegan2_discriminator
    if not strict:
        kwargs = {key: value for key, value in kwargs.items() if key in _parameters(builder)}
    config = _merge(config, {**overrides, **kwargs}, source)
    try:
        model = builder(**config)
    except ValueError as error:
        raise ValueError(f"{source}: cannot build the matching network "
                         f"{builder.__name__}({_format_config(config)}): {error}") from None
    assign_stylegan2_ada_weights(model, arrays, source=source)
    return model


def assign_stylegan2_ada_weights(model, state_dict, source="state_dict"):
    """Copies a reference state_dict into one of our StyleGAN2 networks.

    Every tensor of `model.reference_weights()` must be in `state_dict` with
    the reference's shape; the FIR `resample_filter` buffers are checked to be
    the [1, 3, 3, 1] filter and skipped. Nothing is assigned unless everything
    matches.

    Args:
        model: A `StyleGAN2Generator` or `StyleGAN2Discriminator`.
        state_dict: A mapping of reference tensor names to tensors or arrays.
        source: Named in error messages.

    Raises:
        ValueError: On an unknown or missing name, or a shape mismatch.
    """
    arrays = {key: _to_numpy(value) for key, value in state_dict.items()}
    expected = model.reference_weights()
    what = type(model).__name__
    filters = sorted(key for key in arrays if key.endswith("resample_filter"))
    for key in filters:
        value = arrays[key]
        if value.shape != _FIR.shape or not np.allclose(value, _FIR, atol=1e-6):
            raise ValueError(f"{source}: {key} is not the [1, 3, 3, 1] FIR filter that our "
                             "networks use (custom resample filters are not supported)")
    unknown = sorted(set(arrays) - set(filters) - set(expected))
    if unknown:
        raise ValueError(f"{source}: {len(unknown)} tensor name(s) unknown to the {what} built "
                         f"for these weights: {_list(unknown)}")
    missing = [key for key in expected if key not in arrays]
    if missing:
        raise ValueError(f"{source}: {len(missing)} tensor(s) of the {what} missing from the "
                         f"weights: {_list(missing)}")
    values = []
    for key, (variable, layout) in expected.items():
        value = arrays[key]
        want = _reference_shape(tuple(variable.shape), layout, key)
        if tuple(value.shape) != want:
            raise ValueError(f"{source}: {key} has shape {list(value.shape)}; the {what} built "
                             f"for these weights expects {list(want)}")
        values.append((variable, _from_reference(value, layout)))
    for variable, value in values:
        variable.assign(value.astype(variable.dtype))


def stylegan2_ada_state_dict(model):
    """The reference state_dict of one of our StyleGAN2 networks, as NumPy arrays.

    The inverse of `assign_stylegan2_ada_weights` (without the FIR buffers):
    `{name: array}` in the reference's layout, ready for
    `torch.save({k: torch.from_numpy(v) for k, v in sd.items()}, path)` and
    `Generator.load_state_dict(..., strict=False)` on the reference side.

    Args:
        model: A `StyleGAN2Generator` or `StyleGAN2Discriminator`.

    Returns:
        A dict of reference tensor names to float32 NumPy arrays.
    """
    return {key: _to_reference(keras.ops.convert_to_numpy(variable), layout).astype(np.float32)
            for key, (variable, layout) in model.reference_weights().items()}


# --- configuration inference -------------------------------------------------------------------


def _network_kind(shapes):
    keys = list(shapes)
    if any(key.startswith("synthesis.") for key in keys):
        return "G"
    if "b4.out.weight" in shapes or "b4.conv.weight" in shapes:
        return "D"
    raise ValueError("neither a stylegan2-ada-pytorch Generator's state_dict (names "
                     "'synthesis.b4.const', 'mapping.fc0.weight', ...) nor a Discriminator's "
                     f"('b4.conv.weight', 'b4.out.weight', ...); its names begin {_list(keys)}")


def _need(shapes, key, rank=None):
    if key not in shapes:
        raise ValueError(f"no tensor {key!r}")
    shape = shapes[key]
    if rank is not None and len(shape) != rank:
        raise ValueError(f"{key} has shape {list(shape)}, expected {rank} dimensions")
    return shape


def _architecture(shapes, prefix, resolutions, rgb_layer):
    """"resnet" when a block has a skip connection, "skip" when a block
    below the top resolution has its own `rgb_layer` (torgb or fromrgb),
    else "orig"."""
    if any(f"{prefix}b{res}.skip.weight" in shapes for res in resolutions):
        return "resnet"
    if any(f"{prefix}b{res}.{rgb_layer}.weight" in shapes for res in resolutions[:-1]):
        return "skip"
    return "orig"


def _block_resolutions(shapes, prefix):
    found = set()
    for key in shapes:
        match = re.match(re.escape(prefix) + r"b(\d+)\.", key)
        if match:
            found.add(int(match.group(1)))
    resolutions = sorted(found)
    if not resolutions or resolutions[0] != 4:
        raise ValueError(f"no '{prefix}b4.' block")
    top = resolutions[-1]
    wanted = [2 ** i for i in range(2, int(np.log2(top)) + 1)]
    if top & (top - 1) or resolutions != wanted:
        raise ValueError(f"blocks {prefix}b<res> at {resolutions}: expected every power of two "
                         "from 4 to the resolution")
    return resolutions


def _mapping_layers(shapes, prefix):
    count = 0
    while f"{prefix}fc{count}.weight" in shapes:
        count += 1
    if count == 0:
        raise ValueError(f"no tensor '{prefix}fc0.weight'")
    return count


def _channel_config(channels):
    """channel_base and channel_max with min(base // res, max) == channels[res]."""

    def fits(base, maximum):
        return all(min(base // res, maximum) == count for res, count in channels.items())

    top = max(channels)
    largest = max(channels.values())
    below = [res for res, count in channels.items() if count < largest]
    computed = channels[max(below)] * max(below) if below else largest * top
    # The reference's own values first, so the usual configurations come out as train.py wrote them.
    for base in (32768, 16384, computed):
        for maximum in (512, largest):
            if fits(base, maximum):
                return base, maximum
    raise ValueError("the channel counts per resolution "
                     f"{dict(sorted(channels.items()))} do not follow "
                     "min(channel_base // resolution, channel_max)")


def _generator_config(shapes):
    resolutions = _block_resolutions(shapes, "synthesis.")
    architecture = _architecture(shapes, "synthesis.", resolutions, "torgb")
    channels = {4: _need(shapes, "synthesis.b4.const", 3)[0]}
    for res in resolutions:
        channels[res] = _need(shapes, f"synthesis.b{res}.conv1.weight", 4)[0]
    channel_base, channel_max = _channel_config(channels)
    top = resolutions[-1]
    img_channels = _need(shapes, f"synthesis.b{top}.torgb.weight", 4)[0]
    layers = _mapping_layers(shapes, "mapping.")
    w_dim = _need(shapes, f"mapping.fc{layers - 1}.weight", 2)[0]
    in_features = _need(shapes, "mapping.fc0.weight", 2)[1]
    num_classes = None
    latent_dim = in_features
    if "mapping.embed.weight" in shapes:
        embed_features, num_classes = _need(shapes, "mapping.embed.weight", 2)
        if embed_features != w_dim:
            raise ValueError(f"mapping.embed.weight has shape {[embed_features, num_classes]}: "
                             f"a label embedding of {embed_features} features, but our generator "
                             f"embeds labels in w_dim={w_dim}")
        latent_dim = in_features - embed_features
    if latent_dim <= 0:
        raise ValueError(f"mapping.fc0.weight has {in_features} inputs: no room for z")
    for index in range(layers - 1):
        features = _need(shapes, f"mapping.fc{index}.weight", 2)[0]
        if features != w_dim:
            raise ValueError(f"mapping.fc{index}.weight has {features} outputs: our mapping "
                             f"network's layers all have w_dim={w_dim} features")
    return dict(latent_dim=int(latent_dim), resolution=int(top), channel_base=int(channel_base),
                channel_max=int(channel_max), mapping_layers=int(layers),
                num_classes=None if num_classes is None else int(num_classes), w_dim=int(w_dim),
                img_channels=int(img_channels), architecture=architecture)


def _discriminator_config(shapes):
    resolutions = _block_resolutions(shapes, "")
    if len(resolutions) < 2:
        raise ValueError("no discriminator block above b4")
    top = resolutions[-1]
    channels = {4: _need(shapes, "b4.fc.weight", 2)[0]}
    for res in resolutions[1:]:
        channels[res] = _need(shapes, f"b{res}.conv0.weight", 4)[0]
    channel_base, channel_max = _channel_config(channels)
    img_channels = _need(shapes, f"b{top}.fromrgb.weight", 4)[1]
    architecture = _architecture(shapes, "", resolutions, "fromrgb")
    mbstd_num_channels = _need(shapes, "b4.conv.weight", 4)[1] - channels[4]
    if mbstd_num_channels < 0:
        raise ValueError(f"b4.conv.weight has {mbstd_num_channels + channels[4]} input channels, "
                         f"fewer than the {channels[4]} of b4")
    config = dict(resolution=int(top), channel_base=int(channel_base),
                  channel_max=int(channel_max), img_channels=int(img_channels),
                  architecture=architecture, mbstd_num_channels=int(mbstd_num_channels),
                  num_classes=None)
    if "mapping.embed.weight" in shapes:
        cmap_dim, num_classes = _need(shapes, "mapping.embed.weight", 2)
        out_features = _need(shapes, "b4.out.weight", 2)[0]
        if out_features != cmap_dim:
            raise ValueError(f"b4.out.weight has {out_features} outputs but the label embedding "
                             f"mapping.embed.weight has {cmap_dim}: they must be equal (cmap_dim)")
        layers = _mapping_layers(shapes, "mapping.")
        for index in range(layers):
            features = _need(shapes, f"mapping.fc{index}.weight", 2)[0]
            if features != cmap_dim:
                raise ValueError(f"mapping.fc{index}.weight has {features} outputs: our label "
                                 f"mapping's layers all have cmap_dim={cmap_dim} features")
        config.update(num_classes=int(num_classes), cmap_dim=int(cmap_dim),
                      mapping_layers=int(layers))
    return config


# --- pickles -----------------------------------------------------------------------------------


def _load_pickle(path, network, overrides, kwargs):
    try:
        import dnnlib  # noqa: F401
        import torch_utils  # noqa: F401
    except ImportError:
        raise ImportError(f"{path}: not a torch.save'd state_dict; if it is a network pickle, "
                          f"{_REFERENCE_CODE_HINT}") from None
    data = _read_legacy_pickle(path)
    if data is None:
        try:
            with open(path, "rb") as file:
                data = pickle.load(file)
        except Exception as error:  # noqa: BLE001 - any unpickling failure
            raise ValueError(f"{path}: neither a torch.save'd state_dict nor a readable network "
                             f"pickle ({type(error).__name__}: {error})") from None
    import torch

    if not isinstance(data, dict):
        raise ValueError(f"{path}: the pickle holds a {type(data).__name__}, not the dict of "
                         "'G', 'D' and 'G_ema' that stylegan2-ada-pytorch writes")
    nets = [name for name in ("G", "D", "G_ema") if isinstance(data.get(name), torch.nn.Module)]
    if not nets:
        raise ValueError(f"{path}: the pickle has no networks 'G', 'D' or 'G_ema' "
                         f"(keys: {_list(list(data))})")
    names = _select(nets, network, path)
    _check_kwargs(kwargs, path)
    models = {}
    for name in names:
        module = data[name]
        source = f"{path}[{name!r}]"
        pickled = _pickled_config(module, source)
        models[name] = _convert(module.state_dict(), {**pickled, **overrides}, source,
                                _named(kwargs, name), strict=False)
    return models[network] if network is not None else models


def _read_legacy_pickle(path):
    """The reference's own reader (legacy.py, at the root of its checkout) where importable:
    it also converts the TensorFlow StyleGAN2 pickles that NVIDIA published. None if it is
    missing or refuses the file (e.g. a dict without all of G, D and G_ema)."""
    try:
        import legacy
    except ImportError:
        return None
    if not hasattr(legacy, "load_network_pkl"):
        return None
    try:
        with open(path, "rb") as file:
            return legacy.load_network_pkl(file)
    except Exception:  # noqa: BLE001 - fall back to plain unpickling
        return None


def _pickled_config(module, source):
    """What the pickled module's init_kwargs say beyond the weights."""
    init = dict(getattr(module, "init_kwargs", None) or {})
    is_generator = "synthesis_kwargs" in init or hasattr(module, "synthesis")
    if is_generator:
        mapping = dict(init.get("mapping_kwargs") or {})
        synthesis = dict(init.get("synthesis_kwargs") or {})
        _check_supported(synthesis, source, "synthesis_kwargs")
        _check_supported(mapping, source, "mapping_kwargs", activation="lrelu")
        config = dict(num_fp16_res=synthesis.get("num_fp16_res", 0),
                      conv_clamp=synthesis.get("conv_clamp"))
        if "lr_multiplier" in mapping:
            config["mapping_lr_multiplier"] = mapping["lr_multiplier"]
        if "w_avg_beta" in mapping:
            config["w_avg_beta"] = mapping["w_avg_beta"]
        return config
    block = dict(init.get("block_kwargs") or {})
    epilogue = dict(init.get("epilogue_kwargs") or {})
    mapping = dict(init.get("mapping_kwargs") or {})
    _check_supported(block, source, "block_kwargs", activation="lrelu")
    _check_supported(epilogue, source, "epilogue_kwargs", activation="lrelu")
    _check_supported(mapping, source, "mapping_kwargs", activation="lrelu",
                     lr_multiplier=_DEFAULT_MAPPING_LR_MULTIPLIER)
    config = dict(num_fp16_res=init.get("num_fp16_res", 0), conv_clamp=init.get("conv_clamp"),
                  mbstd_group_size=epilogue.get("mbstd_group_size", _DEFAULT_MBSTD_GROUP_SIZE))
    return config


def _check_supported(kwargs, source, group, **defaults):
    for key, default in defaults.items():
        value = kwargs.get(key, default)
        if value != default:
            raise ValueError(f"{source}: {group}[{key!r}]={value!r} is not supported by our "
                             f"networks (only {default!r})")
    filt = kwargs.get("resample_filter")
    if filt is not None and list(filt) != [1, 3, 3, 1]:
        raise ValueError(f"{source}: {group}['resample_filter']={list(filt)} is not supported "
                         "(only [1, 3, 3, 1])")


# --- helpers -----------------------------------------------------------------------------------


def _is_auto(value):
    return isinstance(value, str) and value == AUTO


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError("load_stylegan2_ada reads PyTorch files and needs PyTorch: "
                          "pip install torch (the CPU wheel suffices)") from None
    return torch


def _to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if hasattr(value, "float") and value.is_floating_point():
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


def _is_state_dict(contents):
    return (isinstance(contents, dict) and bool(contents)
            and all(isinstance(key, str) for key in contents)
            and all(hasattr(value, "shape") and not isinstance(value, dict)
                    for value in contents.values()))


def _reference_shape(shape, layout, key):
    if layout == "dense":
        return shape[::-1]
    if layout == "conv":
        kh, kw, cin, cout = shape
        return (cout, cin, kh, kw)
    if layout == "same":
        return shape
    raise ValueError(f"{key}: unknown weight layout {layout!r}")


def _from_reference(value, layout):
    if layout == "dense":
        return value.T
    if layout == "conv":
        return value.transpose(2, 3, 1, 0)
    return value


def _to_reference(value, layout):
    if layout == "dense":
        return value.T
    if layout == "conv":
        return value.transpose(3, 2, 0, 1)
    return value


def _merge(config, extra, source):
    merged = dict(config)
    for key, value in extra.items():
        if key in ("channel_base", "channel_max") and key in config:
            merged[key] = value  # the weights may not pin these down; the build checks the shapes
        elif key in config and config[key] != value:
            raise ValueError(f"{source}: {key}={value!r} contradicts the weights, which say "
                             f"{key}={config[key]!r}")
        else:
            merged[key] = value
    return merged


def _parameters(builder):
    return set(inspect.signature(builder).parameters)


def _check_kwargs(kwargs, source):
    known = _parameters(stylegan2_generator) | _parameters(stylegan2_discriminator)
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(f"{source}: keyword(s) {', '.join(unknown)} taken by neither "
                        "stylegan2_generator nor stylegan2_discriminator")


def _named(kwargs, name):
    # Distinct Keras names when one call builds several networks.
    if "name" in kwargs:
        return {**kwargs, "name": f"{kwargs['name']}_{name}"}
    return kwargs


def _select(available, network, source):
    if network is None:
        return list(available)
    _check_network_name(network, available, source)
    return [network]


def _check_network_name(network, available, source):
    if network not in available:
        raise ValueError(f"{source}: network={network!r}; it holds "
                         f"{', '.join(map(repr, available))}")


def _list(items, limit=8):
    shown = ", ".join(repr(item) for item in items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def _format_config(config):
    return ", ".join(f"{key}={value!r}" for key, value in config.items())
