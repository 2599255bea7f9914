"""What an exact resume needs beyond Keras's file: fastann's training state, kept where Keras does not look.

``fastann/state.json`` (a zip member of the ``.keras`` file) holds the random state: the bit-generator
states of the model's initializer and shuffling generators and of every generator a layer keeps (recurrent
dropout), the dropout layers' seeds and call counters; the compile-time ``trainable`` flags; and the
optimizer's step count, learning rate and the names of its per-parameter state arrays. The arrays
themselves are datasets ``fastann/optimizer/<parameter index>/<state name>`` in ``model.weights.h5``, in the
layout fastann's kernels use. Keras reads neither (it ignores zip members and h5 groups it does not know).

Reading validates the types and shapes of everything against the rebuilt model before setting anything;
a generator state must name the same bit generator and hold plain integers. ValueError otherwise.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _h5

__all__ = ["FORMAT", "collect", "write_optimizer", "restore"]

FORMAT = 1
#: Integer attributes of a layer that its random stream depends on (Dropout, SpatialDropout2D).
_INT_ATTRS = ("_base_seed", "_calls")


def _walk_layers(layer, prefix, depth=0):
    """(path, layer) for ``layer`` and the layers it holds as attributes (Bidirectional's, TimeDistributed's)."""
    yield prefix, layer
    if depth > 4:
        return
    for k, v in sorted(vars(layer).items()):
        if hasattr(v, "params") and hasattr(v, "get_weights") and v is not layer:
            yield from _walk_layers(v, f"{prefix}/{k}", depth + 1)
    if hasattr(layer, "_sublayers"):  # a nested model: its layers
        for j, sub in enumerate(layer._layers):
            yield from _walk_layers(sub, f"{prefix}/{j}", depth + 1)


def _layer_state(model) -> dict:
    out = {}
    for i, top in enumerate(model._layers):
        for path, layer in _walk_layers(top, str(i)):
            entry = {}
            for k, v in sorted(vars(layer).items()):
                if isinstance(v, np.random.Generator):
                    entry[k] = v.bit_generator.state
                elif k in _INT_ATTRS and isinstance(v, numbers.Integral):
                    entry[k] = int(v)
            if entry:
                out[path] = entry
    return out


def collect(model) -> dict:
    """The JSON-ready state of ``model`` (module docstring)."""
    state = {"format": FORMAT,
             "rng": {"init": model._init_rng.bit_generator.state, "shuffle": model._shuffle_rng.bit_generator.state},
             "layers": _layer_state(model),
             "compiled_trainable": [bool(model._compiled_trainable.get(l, l.trainable)) for l in model._sublayers()]
             if model._compiled_trainable else None}
    opt = model.optimizer
    if opt is not None:
        state["optimizer"] = {"iterations": int(opt.iterations), "learning_rate": float(opt._learning_rate),
                              "states": [sorted(s) for s in opt._states]}
    return state


def write_optimizer(model, f) -> None:
    """The optimizer's state arrays into the h5 file ``f`` under ``fastann/optimizer``."""
    opt = model.optimizer
    if opt is None or not opt._states:
        return
    g = f.create_group("fastann/optimizer")
    for i, s in enumerate(opt._states):
        gi = g.create_group(str(i))
        for k in sorted(s):
            a = s[k]
            gi.create_dataset(k, data=a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a)


def _check_generator_state(state, gen, where):
    current = gen.bit_generator.state
    if not isinstance(state, dict) or state.get("bit_generator") != current["bit_generator"] or \
            set(state) != set(current):
        raise ValueError(f"{where}: expected a {current['bit_generator']} state with keys {sorted(current)}")

    def ints(a, b, path):
        if isinstance(b, dict):
            if not isinstance(a, dict) or set(a) != set(b):
                raise ValueError(f"{where}: bad generator state at {path}")
            for k in b:
                ints(a[k], b[k], f"{path}.{k}")
        elif isinstance(b, str):
            if a != b:
                raise ValueError(f"{where}: bad generator state at {path}")
        elif isinstance(a, bool) or not isinstance(a, int):
            raise ValueError(f"{where}: generator state {path} must be an integer, got {a!r}")
    ints(state, current, "state")
    return state


def _set_generator(gen, state, where):
    _check_generator_state(state, gen, where)
    try:
        gen.bit_generator.state = state
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"{where}: the generator refused the state ({e})") from None


def restore(model, state, f, where) -> None:
    """Set ``model``'s random state, trainable flags and optimizer state from ``state`` (the parsed
    ``fastann/state.json``) and the h5 file ``f``; everything is checked before anything is set."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else state
        raise ValueError(f"{where}: fastann/state.json has format {found!r}, this fastann reads format {FORMAT}")
    unknown = set(state) - {"format", "rng", "layers", "compiled_trainable", "optimizer"}
    if unknown:
        raise ValueError(f"{where}: fastann/state.json has unknown keys {sorted(unknown)}")
    rng = state.get("rng")
    if not isinstance(rng, dict) or set(rng) != {"init", "shuffle"}:
        raise ValueError(f"{where}: fastann/state.json 'rng' must hold 'init' and 'shuffle'")
    _check_generator_state(rng["init"], model._init_rng, f"{where}: rng.init")
    _check_generator_state(rng["shuffle"], model._shuffle_rng, f"{where}: rng.shuffle")
    layers = {path: layer for i, top in enumerate(model._layers) for path, layer in _walk_layers(top, str(i))}
    saved_layers = state.get("layers")
    if not isinstance(saved_layers, dict):
        raise ValueError(f"{where}: fastann/state.json 'layers' must be a dict")
    expected = _layer_state(model)
    if set(saved_layers) != set(expected):
        raise ValueError(f"{where}: fastann/state.json describes layers {sorted(saved_layers)}, the model has "
                         f"random state in {sorted(expected)}")
    for path, entry in saved_layers.items():
        if not isinstance(entry, dict) or set(entry) != set(expected[path]):
            raise ValueError(f"{where}: fastann/state.json layers[{path!r}] must hold {sorted(expected[path])}")
        for k, v in entry.items():
            cur = getattr(layers[path], k)
            if isinstance(cur, np.random.Generator):
                _check_generator_state(v, cur, f"{where}: layers[{path!r}].{k}")
            elif isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{where}: layers[{path!r}].{k} must be a non-negative integer, got {v!r}")
    flags = state.get("compiled_trainable")
    sublayers = model._sublayers()
    if flags is not None and (not isinstance(flags, list) or len(flags) != len(sublayers)
                              or not all(isinstance(b, bool) for b in flags)):
        raise ValueError(f"{where}: fastann/state.json compiled_trainable must be {len(sublayers)} booleans")
    opt_arrays = _read_optimizer(model, state.get("optimizer"), f, flags, where)
    # everything checked: set it
    _set_generator(model._init_rng, rng["init"], where)
    _set_generator(model._shuffle_rng, rng["shuffle"], where)
    for path, entry in saved_layers.items():
        for k, v in entry.items():
            cur = getattr(layers[path], k)
            if isinstance(cur, np.random.Generator):
                _set_generator(cur, v, where)
            else:
                setattr(layers[path], k, int(v))
    if flags is not None and model.optimizer is not None:
        model._compiled_trainable = dict(zip(sublayers, flags))
    if opt_arrays is not None:
        opt, info, arrays = opt_arrays
        opt.iterations = info["iterations"]
        opt._learning_rate = float(info["learning_rate"])
        opt._states = [{k: model.xp.asarray(a) if model.xp is not np else a for k, a in s.items()} for s in arrays]


def _read_optimizer(model, info, f, flags, where):
    opt = model.optimizer
    has_group = "fastann" in f and "optimizer" in f["fastann"]
    if info is None:
        if has_group:
            raise ValueError(f"{where}: the weights file holds optimizer state but state.json describes none")
        return None
    if opt is None:
        raise ValueError(f"{where}: fastann/state.json holds optimizer state but the file has no compile_config")
    if not isinstance(info, dict) or set(info) != {"iterations", "learning_rate", "states"}:
        raise ValueError(f"{where}: fastann/state.json 'optimizer' must hold iterations, learning_rate, states")
    it, lr, names = info["iterations"], info["learning_rate"], info["states"]
    if isinstance(it, bool) or not isinstance(it, int) or it < 0:
        raise ValueError(f"{where}: optimizer iterations must be a non-negative integer, got {it!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"{where}: optimizer learning_rate must be a finite positive number, got {lr!r}")
    if not isinstance(names, list):
        raise ValueError(f"{where}: optimizer states must be a list")
    if not names:
        if has_group:
            raise ValueError(f"{where}: the weights file holds optimizer arrays that state.json does not list")
        return opt, info, []
    saved_flags = model._compiled_trainable
    if flags is not None:
        model._compiled_trainable = dict(zip(model._sublayers(), flags))
    saved = model._compile_time_flags()  # fit's parameter list: the compile-time trainable flags
    try:
        model._index_parameters()
        params = list(model._params)
    finally:
        model._restore_flags(saved)
        model._compiled_trainable = saved_flags
    if len(names) != len(params):
        raise ValueError(f"{where}: the optimizer state is for {len(names)} parameters, the model trains "
                         f"{len(params)}")
    if not has_group:
        raise ValueError(f"{where}: the weights file lacks fastann/optimizer")
    g = f["fastann"]["optimizer"]
    _h5._exact_keys(f["fastann"], ["optimizer"], where)
    _h5._exact_keys(g, [str(i) for i in range(len(params))], where)
    expected_names = sorted(opt._init_state(np.zeros(1, dtype=model.dtype)))
    arrays = []
    for i, (p, ks) in enumerate(zip(params, names)):
        if ks != expected_names:
            raise ValueError(f"{where}: optimizer state {i} has arrays {ks}, {type(opt).__name__} keeps "
                             f"{expected_names}")
        _h5._exact_keys(g[str(i)], ks, where)
        arrays.append({k: _h5.dataset(g[str(i)], k, _state_shape(opt, p, k), where).astype(p.dtype, copy=False)
                       for k in ks})
    return opt, info, arrays


def _state_shape(opt, param, key):
    return opt._init_state(np.zeros(param.shape, dtype=np.float32))[key].shape
