"""Weight files of ``Sequential``: every parameter in one .npz, keyed "<layer index>.<layer name>.<param>"
(the index zero-padded to 3 digits), in ``params`` order within a layer."""
from __future__ import annotations

import os
import tempfile

import numpy as np

__all__ = ["check_suffix", "load_weights", "save_weights"]

#: File names Keras gives its own formats; fastann writes .npz only and refuses these rather than write NPZ
#: under a name that promises another format.
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def check_suffix(owner, filepath) -> None:
    """NotImplementedError naming ``owner`` when ``filepath`` ends in a Keras format's suffix."""
    name = os.fspath(filepath)
    if isinstance(name, str) and name.lower().endswith(KERAS_SUFFIXES):
        raise NotImplementedError(f"{owner}: {name!r} asks for a Keras .keras/.h5 file; fastann writes weights "
                                  f"as .npz only (e.g. 'model.weights.npz')")


def save_weights(model, filepath) -> None:
    """Write all parameters of ``model`` to ``filepath`` (written to a temp file in the same directory,
    then renamed: atomic; the temp file is removed on failure)."""
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
    """Read a file written by save_weights into ``model`` (``set_weights``, matched by position).
    ValueError when the file's parameter count or shapes do not match the model."""
    with np.load(os.fspath(filepath)) as f:
        # keys are "<layer index>.<layer name>.<param>"; within a layer, f.files keeps the save order
        ordered = sorted(f.files, key=lambda k: int(k.split(".", 1)[0]))  # stable sort
        model.set_weights([f[k] for k in ordered])
