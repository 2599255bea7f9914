"""Finding (and if need be downloading) the four IDX files of an MNIST-style dataset.

Search order (docs/architecture.md, "Conventions"): an explicit ``path``, ``$FASTANN_DATA/<name>/``, the user cache
``~/.cache/fastann/<name>/`` (``$XDG_CACHE_HOME/fastann/<name>/`` when that is set), then system copies such
as Debian's ``/usr/share/datasets/fashion-mnist/``. A directory counts when it holds all four files, each
either gzip-compressed (``<file>.gz``) or raw. When none does, the official ``.gz`` files are downloaded, their
SHA-256 checked against the published values, and written atomically (temp file + rename) into the cache.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np

from ._idx import load_idx

#: File stems of the four IDX files, in the order load_data returns them.
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class DatasetSpec:
    name: str                   # directory name under $FASTANN_DATA and the cache, e.g. "fashion-mnist"
    base_url: str               # official download location of the .gz files (ends with "/")
    sha256: dict                # file stem -> SHA-256 of the official .gz file
    system_dirs: tuple = ()     # read-only copies installed by the OS
    how_to_get: str = ""        # one line telling a user how to obtain the files
    n_train: int = 60000
    n_test: int = 10000
    image_shape: tuple = (28, 28)
    n_classes: int = 10


def cache_root() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastann")


def search_dirs(spec: DatasetSpec, path=None) -> list[str]:
    """The directories looked in, in order."""
    dirs = []
    if path is not None:
        dirs.append(os.fspath(path))
    if os.environ.get("FASTANN_DATA"):
        dirs.append(os.path.join(os.environ["FASTANN_DATA"], spec.name))
    dirs.append(os.path.join(cache_root(), spec.name))
    dirs.extend(spec.system_dirs)
    return dirs


def _find_in(directory: str) -> list[str] | None:
    """Paths of the four files in ``directory`` (preferring .gz), or None if any is missing."""
    found = []
    for stem in FILES:
        for candidate in (stem + ".gz", stem):
            p = os.path.join(directory, candidate)
            if os.path.isfile(p):
                found.append(p)
                break
        else:
            return None
    return found


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(spec: DatasetSpec, stem: str, directory: str) -> str:
    """Download ``<stem>.gz`` into ``directory``, check its SHA-256, rename it into place atomically."""
    url = spec.base_url + stem + ".gz"
    final = os.path.join(directory, stem + ".gz")
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part", dir=directory)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            for block in iter(lambda: resp.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        digest = h.hexdigest()
        if digest != spec.sha256[stem]:
            raise ValueError(f"{spec.name}: SHA-256 mismatch for {url}: got {digest}, expected "
                             f"{spec.sha256[stem]} (a corrupt or tampered download; nothing was kept)")
        os.replace(tmp, final)  # atomic on POSIX: a reader never sees a half-written file
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return final


def locate(spec: DatasetSpec, path=None, download: bool = True, only_path: bool = False) -> list[str]:
    """Paths of the four IDX files of ``spec``: found in the search directories or downloaded.

    ``only_path``: look in ``path`` alone (no other directory, no download), as ``fastann train --data-dir``
    does. Raises FileNotFoundError (where it looked and how to get the files) when no directory has them and
    the download is off or fails; ValueError when a downloaded file's SHA-256 is wrong.
    """
    if only_path:
        if path is None:
            raise ValueError(f"{spec.name}: only_path=True needs a path")
        files = _find_in(os.fspath(path))
        if files is None:
            names = ", ".join(s + "[.gz]" for s in FILES)
            raise FileNotFoundError(f"{spec.name}: {os.fspath(path)} does not hold the four IDX files ({names})")
        return files
    dirs = search_dirs(spec, path)
    for d in dirs:
        files = _find_in(d)
        if files is not None:
            return files
    looked = "\n  ".join(dirs)
    names = ", ".join(s + "[.gz]" for s in FILES)
    if not download:
        raise FileNotFoundError(f"{spec.name}: the IDX files ({names}) were not found; looked in:\n  {looked}\n"
                                f"To get them: {spec.how_to_get}, or download them from {spec.base_url}")
    cache = os.path.join(cache_root(), spec.name)
    try:
        return [_download(spec, stem, cache) for stem in FILES]
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise FileNotFoundError(
            f"{spec.name}: the IDX files ({names}) were not found and the download from {spec.base_url} "
            f"failed ({exc}). Looked in:\n  {looked}\nTo get them: {spec.how_to_get}, or download the four "
            f".gz files from {spec.base_url} into one of those directories (or into a directory of your "
            f"own and pass it as path=..., `fastann train --data-dir DIR`, or set FASTANN_DATA)."
        ) from None


def load(spec: DatasetSpec, path=None, download: bool = True):
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays, checked for the dataset's shapes."""
    return read(spec, locate(spec, path, download))


def read(spec: DatasetSpec, paths: list[str]):
    """((x_train, y_train), (x_test, y_test)) from the four IDX files ``paths`` (in the order of FILES), checked
    for the dataset's shapes, dtype and label range (ValueError otherwise)."""
    arrays = [load_idx(p) for p in paths]
    h, w = spec.image_shape
    expect = [(spec.n_train, h, w), (spec.n_train,), (spec.n_test, h, w), (spec.n_test,)]
    for p, a, shape in zip(paths, arrays, expect):
        if a.shape != shape or a.dtype != np.uint8:
            raise ValueError(f"{spec.name}: {p} holds a {a.dtype} array of shape {a.shape}, "
                             f"expected uint8 {shape}")
    for p, labels in ((paths[1], arrays[1]), (paths[3], arrays[3])):
        if labels.max() >= spec.n_classes:
            raise ValueError(f"{spec.name}: {p} has label {int(labels.max())}, expected 0..{spec.n_classes - 1}")
    return (arrays[0], arrays[1]), (arrays[2], arrays[3])
