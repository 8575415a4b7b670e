"""The manifest of a training run: the flags, versions, seed and data subset
it was started with, written to its output folder, so that a resumed run can
be checked to continue the same one."""

import json
import os
import platform

from keras_dagan.files import atomic_path

MANIFEST = "manifest.json"


def write_manifest(out_dir, flags, seed=None, data_members=None):
    """Writes `out_dir/manifest.json` (atomically), replacing any earlier one.

    It records `flags`, `seed`, the versions of keras_dagan, TensorFlow,
    Keras and Python, and `data_members`.

    Args:
        out_dir: The run's output folder (created if needed).
        flags: Dict of the run's settings, name to JSON-serialisable value.
        seed: The run's random seed, or None.
        data_members: What the training data is made of: the list of its
            files, or the indices of the subset kept, or None.

    Example:

    ```python
    write_manifest("run", {"arch": "dcgan", "steps": 10_000}, seed=0,
                   data_members=["cat/0.png", "dog/3.png"])
    ```
    """
    import keras
    import tensorflow as tf

    import keras_dagan

    manifest = {
        "flags": flags,
        "seed": seed,
        "versions": {"keras_dagan": keras_dagan.__version__, "tensorflow": tf.__version__,
                     "keras": keras.__version__, "python": platform.python_version()},
        "data_members": None if data_members is None else list(data_members),
    }
    text = json.dumps(_plain(manifest), indent=1)
    with atomic_path(os.path.join(out_dir, MANIFEST)) as partial:
        with open(partial, "w") as file:
            file.write(text)


def check_manifest(out_dir, flags, defining, data_members=None):
    """Checks that a run resumed in `out_dir` is the run its manifest records.

    The flags named in `defining` (those that define the model and the data)
    must equal those of `out_dir/manifest.json`, and so must `data_members`
    when both are known. A folder without a manifest (new, or from a version
    that wrote none) passes, as does a defining flag the manifest lacks (a
    flag newer than the run). Call it before `write_manifest`.

    Args:
        out_dir: The run's output folder.
        flags: Dict of the resumed run's settings.
        defining: Names of the flags that must not change.
        data_members: The resumed run's data members (see
            `write_manifest`), or None to skip their check.

    Returns:
        The stored manifest (a dict), or None when there is none.

    Raises:
        ValueError: A defining flag or the data differs (the message names
            each flag with both values, and the fix), or the manifest does
            not parse.

    Example:

    ```python
    check_manifest("run", flags, defining=("arch", "width", "dataset"))
    write_manifest("run", flags, seed=flags["seed"])
    ```
    """
    path = os.path.join(out_dir, MANIFEST)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as file:
            manifest = json.load(file)
        stored = manifest["flags"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} does not parse ({error!r}); remove it to resume without "
                         "the check.") from None
    differences = [
        f"--{name}={_flag(_plain(flags.get(name)))} (the run's: {_flag(stored[name])})"
        for name in defining if name in stored and _plain(flags.get(name)) != stored[name]
    ]
    members = manifest.get("data_members")
    if data_members is not None and members is not None:
        data_members = _plain(list(data_members))
        if data_members != members:
            differences.append(_data_difference(data_members, members))
    if differences:
        raise ValueError(
            f"{out_dir} holds a run started with other settings: {', '.join(differences)}. "
            "Resume it with the same flags and data, or give a new --out_dir for a new run."
        )
    return manifest


def _plain(value):
    """`value` as JSON gives it back: tuples become lists, and so on."""
    return json.loads(json.dumps(value))


def _flag(value):
    if isinstance(value, list):
        return ",".join(map(str, value))
    return value


def _data_difference(members, stored):
    for index, (member, theirs) in enumerate(zip(members, stored)):
        if member != theirs:
            return f"the training data (member {index}: {member!r}; the run's: {theirs!r})"
    return f"the training data ({len(members)} members; the run's: {len(stored)})"
