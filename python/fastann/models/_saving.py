"""Weight files of the models: ``.weights.h5`` in Keras's HDF5 layout (``fastann.saving``) or fastann's own
.npz: every parameter in one .npz, keyed "<layer index>.<layer name>.<param>" (the index zero-padded to 3
digits), in ``params`` order within a layer, read without pickle. The file name says the format."""
from __future__ import annotations

import os
import re
import tempfile
import zipfile

import numpy as np

from ..saving import _model_io

__all__ = ["check_suffix", "is_h5", "load_weights", "save_weights"]

def is_h5(filepath) -> bool:
    """True for a Keras weights name (``*.weights.h5``), False for ``*.npz``."""
    return os.fspath(filepath).lower().endswith(".weights.h5")


def check_suffix(owner, filepath) -> None:
    """ValueError naming ``owner`` unless ``filepath`` ends in ``.weights.h5`` (Keras's weights layout) or
    ``.npz`` (fastann's): a file is never written in a format its name does not say."""
    name = os.fspath(filepath)
    if not isinstance(name, str):
        raise TypeError(f"{owner}: filepath must be a str or os.PathLike, got {type(filepath).__name__}")
    if not name.lower().endswith((".weights.h5", ".npz")):
        hint = " (a whole model is model.save('model.keras'))" if name.lower().endswith(".keras") else ""
        raise ValueError(f"{owner}: the file name must end in .weights.h5 (Keras's layout) or .npz (fastann's), "
                         f"got {name!r}{hint}")


def save_weights(model, filepath) -> None:
    """Write all parameters of ``model`` to ``filepath``: a ``.weights.h5`` name in Keras's HDF5 layout
    (``fastann.saving``), an ``.npz`` in fastann's (written to a temp file in the same directory, then renamed:
    atomic; the temp file is removed on failure)."""
    if is_h5(filepath):
        _model_io.save_weights_h5(model, filepath)
        return
    filepath = os.fspath(filepath)
    arrays = {}
    for i, layer in enumerate(model._layers):  # the InputLayer keeps its index: the keys stay stable
        for k, w in zip(layer.params, layer.get_weights()):
            arrays[f"{i:03d}.{layer.name}.{k}"] = w
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(suffix=".npz.part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_weights(model, filepath) -> None:
    """Read a file written by save_weights into ``model``: a ``.weights.h5`` file (also Keras's) checked entry
    by entry against the model (``fastann.saving``); an ``.npz`` matched by position (``set_weights``), without
    pickle (an object array is refused). ValueError when the file is not such a file, or its entries, count
    or shapes do not match the model."""
    if is_h5(filepath):
        _model_io.load_weights_h5(model, filepath)
        return
    name = os.fspath(filepath)
    try:
        with np.load(name, allow_pickle=False) as f:
            keys = list(f.files)
            bad = [k for k in keys if not re.fullmatch(r"\d{3,}\.[^.]+(\.[^.]+)*", k)]
            if bad:
                raise ValueError(f"load_weights: {name!r} is not a fastann weights file (key {bad[0]!r})")
            # keys are "<layer index>.<layer name>.<param>"; within a layer, f.files keeps the save order
            ordered = sorted(keys, key=lambda k: int(k.split(".", 1)[0]))  # stable sort
            arrays = [f[k] for k in ordered]
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"load_weights: cannot read {name!r} as .npz ({e})") from None
    except ValueError as e:
        if "pickle" in str(e):
            raise ValueError(f"load_weights: {name!r} holds an object array, which would need pickle; refused") \
                from None
        raise
    model.set_weights(arrays)
