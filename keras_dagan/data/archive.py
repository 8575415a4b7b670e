"""Image folders shipped as one archive file (.tar, .tar.gz, .zip)."""

import hashlib
import os
import shutil
import tarfile
import tempfile
import zipfile

ARCHIVE_EXTENSIONS = (".tar", ".tar.gz", ".tgz", ".zip")


def is_archive(path):
    return os.path.isfile(path) and path.lower().endswith(ARCHIVE_EXTENSIONS)


def extracted_folder(path, cache_dir=None):
    """Unpacks an image archive once and returns the folder it unpacked to.

    The folder lives in `cache_dir` (default `~/.cache/keras_dagan/extracted`)
    under a name keyed by the archive's path, size and modification time, so
    later calls reuse it. Unpacking goes to a temporary folder that is renamed
    when complete: an interrupted run never leaves half an extraction. When
    the archive wraps everything in one top-level folder, that folder is
    returned.

    Args:
        path: A .tar, .tar.gz, .tgz or .zip file.
        cache_dir: Where to unpack.

    Returns:
        The path of the unpacked image folder.

    Example:

    ```python
    folder = extracted_folder("data/cifar10_quickstart.tar")
    ```
    """
    path = os.path.abspath(path)
    cache_dir = cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "keras_dagan", "extracted")
    status = os.stat(path)
    key = hashlib.sha1(f"{path}:{status.st_size}:{status.st_mtime_ns}".encode()).hexdigest()[:16]
    target = os.path.join(cache_dir, f"{os.path.basename(path).split('.')[0]}-{key}")
    if not os.path.isdir(target):
        os.makedirs(cache_dir, exist_ok=True)
        scratch = tempfile.mkdtemp(dir=cache_dir, prefix=".partial-")
        try:
            if path.lower().endswith(".zip"):
                with zipfile.ZipFile(path) as archive:
                    archive.extractall(scratch)
            else:
                with tarfile.open(path) as archive:
                    archive.extractall(scratch, filter="data")
            os.replace(scratch, target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            if not os.path.isdir(target):  # another process may have won
                raise
    entries = [e for e in os.listdir(target) if not e.startswith(".")]
    if len(entries) == 1 and os.path.isdir(os.path.join(target, entries[0])):
        return os.path.join(target, entries[0])
    return target
