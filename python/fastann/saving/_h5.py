"""Weights in Keras 3's HDF5 layout (``model.weights.h5`` inside a ``.keras`` file, or a ``.weights.h5``
file), through h5py.

Layout, as ``keras.saving`` writes it for a Sequential model: ``layers/<key>/vars/<i>`` holds the i-th weight
of a layer in Keras's layout and order (``get_weights``), where ``<key>`` is the snake-case class name made
unique within the model (``dense``, ``dense_1``, ``conv2d``, ``max_pooling2d``; the InputLayer has none);
the recurrent layers keep theirs under ``layers/<key>/cell/vars/<i>``, Bidirectional under
``forward_layer/`` and ``backward_layer/``, TimeDistributed under ``layer/``; each ``vars`` group carries the
object's name as its ``name`` attribute; the model's own (empty) ``vars`` sits at the root. Keras writes its
optimizer's variables under ``optimizer/vars`` (``_keras_opt`` reads and writes them for Adam); fastann writes
its own optimizer state under ``fastann/`` (``_state``), which Keras does not read.

Reading trusts nothing: every link must be a hard link (soft and external links are refused), no dataset
may keep its data in an external file or be virtual, every dataset must be a plain float array of the
shape the rebuilt model expects, and the set of groups and datasets must be exactly the expected one
(unknown and missing entries are errors). Every failure is a ValueError naming the path inside the file.
"""
from __future__ import annotations

import io
import re

import numpy as np

__all__ = ["layer_keys", "write_weights", "read_weights", "open_h5", "check_tree", "dataset"]

#: Classes whose weights Keras keeps in a ``cell`` sub-object.
_CELL_LAYERS = ("SimpleRNN", "LSTM", "GRU")
#: Largest dataset accepted, in elements (the whole file is bounded by the archive's limits as well).
MAX_ELEMENTS = 1 << 31


def _h5py():
    try:
        import h5py  # noqa: PLC0415 - a runtime dependency, imported where the weights are read or written
    except ImportError as e:  # pragma: no cover - h5py is in the package's dependencies
        raise ImportError("fastann's .keras and .weights.h5 files need h5py (pip install h5py)") from e
    return h5py


def _snake(name: str) -> str:
    """Keras's ``naming.to_snake_case``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def layer_keys(layers) -> list:
    """The h5 group name of each layer (Keras's: snake-case class name, ``_1``, ``_2``... when repeated)."""
    used: dict = {}
    keys = []
    for layer in layers:
        base = _snake(type(layer).__name__)
        n = used.get(base, 0)
        used[base] = n + 1
        keys.append(base if n == 0 else f"{base}_{n}")
    return keys


def _slots(layer, prefix="") -> list:
    """Where Keras keeps ``layer``'s weights: ``[(path of a vars group, number of weights in it), ...]`` in
    the order of ``get_weights``. Every object has a ``vars`` group (often empty); a recurrent layer keeps
    its weights in its ``cell``, Bidirectional in ``forward_layer`` then ``backward_layer``, TimeDistributed
    in ``layer``."""
    name = type(layer).__name__
    if hasattr(layer, "_sublayers") and hasattr(layer, "layers"):  # a nested model: its layers under layers/
        inner = layer.layers
        return [(prefix + "vars", 0)] + [slot for key, sub in zip(layer_keys(inner), inner)
                                         for slot in _slots(sub, f"{prefix}layers/{key}/")]
    if name in _CELL_LAYERS:
        return [(prefix + "vars", 0), (prefix + "cell/vars", len(layer.params))]
    if name == "Bidirectional" and hasattr(layer, "forward_layer") and hasattr(layer, "backward_layer"):
        return ([(prefix + "vars", 0)] + _slots(layer.forward_layer, prefix + "forward_layer/")
                + _slots(layer.backward_layer, prefix + "backward_layer/"))
    if name == "TimeDistributed" and hasattr(layer, "layer"):
        return [(prefix + "vars", 0)] + _slots(layer.layer, prefix + "layer/")
    return [(prefix + "vars", len(layer.params))]


def write_weights(model, extra=None) -> bytes:
    """The HDF5 bytes of ``model``'s weights in Keras's layout; ``extra(h5file)`` may add fastann's groups."""
    h5py = _h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        layers = model.layers
        top = f.create_group("layers")
        for key, layer in zip(layer_keys(layers), layers):
            g = top.create_group(key)
            weights = iter(layer.get_weights())
            for path, n in _slots(layer):
                v = g.create_group(path)
                v.attrs["name"] = layer.name
                for i in range(n):
                    v.create_dataset(str(i), data=next(weights))
        f.create_group("vars").attrs["name"] = model.name
        if extra is not None:
            extra(f)
    return buf.getvalue()


def open_h5(data: bytes, where: str):
    """An h5py File over ``data`` (read-only). ValueError when it is not HDF5."""
    h5py = _h5py()
    try:
        return h5py.File(io.BytesIO(data), "r")
    except (OSError, ValueError) as e:
        raise ValueError(f"{where}: not a readable HDF5 file ({e})") from None


#: Deepest group nesting accepted (Keras's deepest is a few levels per nested model).
MAX_DEPTH = 64


def check_tree(group, where: str, depth: int = 0) -> None:
    """Walk every entry under ``group``: hard links only, datasets stored in the file itself, numeric dtypes
    of at most MAX_ELEMENTS elements, groups at most MAX_DEPTH deep. ValueError naming the path otherwise."""
    h5py = _h5py()
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: {group.name} is nested more than {MAX_DEPTH} groups deep")
    for key in group.keys():
        path = f"{group.name.rstrip('/')}/{key}"
        link = group.get(key, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"{where}: {path} is a {type(link).__name__}; only hard links are accepted "
                             f"(soft and external links are refused)")
        obj = group.get(key)
        if isinstance(obj, h5py.Group):
            check_tree(obj, where, depth + 1)
        elif isinstance(obj, h5py.Dataset):
            if obj.external or obj.is_virtual:
                raise ValueError(f"{where}: {path} keeps its data outside the file (external or virtual "
                                 f"dataset); refused")
            if obj.dtype.kind not in "fiub" or obj.dtype.fields is not None or obj.dtype.subdtype is not None:
                raise ValueError(f"{where}: {path} has dtype {obj.dtype}; only numeric arrays are accepted")
            if obj.size > MAX_ELEMENTS:
                raise ValueError(f"{where}: {path} has {obj.size} elements, over the limit of {MAX_ELEMENTS}")
        else:
            raise ValueError(f"{where}: {path} is neither a group nor a dataset ({type(obj).__name__})")


def _exact_keys(group, expected, where) -> None:
    keys = set(group.keys())
    missing, unknown = sorted(set(expected) - keys), sorted(keys - set(expected))
    if missing or unknown:
        raise ValueError(f"{where}: {group.name} does not match the model: "
                         + "; ".join(s for s in (f"missing {missing}" if missing else "",
                                                 f"unknown {unknown}" if unknown else "") if s))


def _check_groups(group, paths, where) -> None:
    """The groups under ``group`` are exactly those on the way to ``paths`` (each a vars group, whose own
    entries the caller checks)."""
    tree: dict = {}
    for path in paths:
        node = tree
        for part in path.split("/"):
            node = node.setdefault(part, {})

    def walk(g, node):
        _exact_keys(g, list(node), where)
        for k, child in node.items():
            if child:
                walk(g[k], child)
    walk(group, tree)


def dataset(group, key, shape, where, kinds="f"):
    """``group[key]`` as a NumPy array after checking it is a dataset of ``shape`` whose dtype kind is in
    ``kinds`` (float32/float64 for weights)."""
    h5py = _h5py()
    obj = group.get(key)
    path = f"{group.name.rstrip('/')}/{key}"
    if not isinstance(obj, h5py.Dataset):
        raise ValueError(f"{where}: {path} must be a dataset")
    if tuple(obj.shape) != tuple(shape):
        raise ValueError(f"{where}: {path} has shape {tuple(obj.shape)}, the model expects {tuple(shape)}")
    ok = obj.dtype in (np.float32, np.float64) if kinds == "f" else obj.dtype.kind in kinds
    if not ok:
        raise ValueError(f"{where}: {path} has dtype {obj.dtype}, the model expects "
                         f"{'float32 or float64' if kinds == 'f' else 'an integer'}")
    return np.asarray(obj[()])


def read_weights(model, f, where: str, allowed_roots=("layers", "vars", "optimizer", "fastann")) -> None:
    """Set ``model``'s weights from the open h5 file ``f`` (Keras's layout) after checking it against the
    model (module docstring). Nothing is set unless every weight checks out."""
    check_tree(f, where)
    unknown = sorted(set(f.keys()) - set(allowed_roots))
    if unknown:
        raise ValueError(f"{where}: unknown groups {unknown} at the root of the weights file")
    layers = model.layers
    keys = layer_keys(layers)
    if "layers" not in f:
        if any(layer.params for layer in layers):
            raise ValueError(f"{where}: the weights file has no 'layers' group")
        return
    top = f["layers"]
    _exact_keys(top, keys, where)
    values = []
    for key, layer in zip(keys, layers):
        g = top[key]
        slots = _slots(layer)
        _check_groups(g, [path for path, _ in slots], where)
        shapes = iter([w.shape for w in layer.get_weights()])  # Keras's layouts, nested models included
        for path, n in slots:
            v = g[path]
            _exact_keys(v, [str(i) for i in range(n)], where)
            for i in range(n):
                values.append((layer, i, dataset(v, str(i), next(shapes), where)))
    if "vars" in f:
        _exact_keys(f["vars"], [], where)
    by_layer: dict = {}
    for layer, _, arr in values:
        by_layer.setdefault(id(layer), (layer, []))[1].append(arr)
    for layer, arrays in by_layer.values():
        layer.set_weights(arrays)
