"""The optimizer state in Keras's own layout (``optimizer/vars`` of ``model.weights.h5``), for the optimizers
whose state means the same in both libraries: Adam and AdamW without AMSGrad (first and second moments,
bias-corrected from the step count). Keras's list is ``[iterations, learning_rate (absent with a
schedule), then per trainable variable: momentum, velocity]``, the arrays in Keras's weight layouts.

Writing it lets Keras continue training a fastann model with its optimizer state; reading it lets fastann
continue a Keras model. fastann's own exact-resume copy (``_state``) is written as well and wins when both
are present. Other optimizers: nothing is written here (Keras then starts its optimizer afresh) and a Keras
file's optimizer group is read past.
"""
from __future__ import annotations

import numpy as np

from . import _h5

__all__ = ["write", "read"]

_SLOTS = {"Adam": ("exp_avg", "exp_avg_sq"), "AdamW": ("exp_avg", "exp_avg_sq")}


def _mapped(model):
    opt = model.optimizer
    if opt is None or type(opt).__name__ not in _SLOTS or getattr(opt, "amsgrad", False):
        return None
    return opt, _SLOTS[type(opt).__name__]


def write(model, f) -> None:
    """Keras's ``optimizer/vars`` of ``model`` into the h5 file ``f`` (when the optimizer maps and has state)."""
    mapped = _mapped(model)
    if mapped is None or not mapped[0]._states or not hasattr(model, "_param_keys"):
        return
    opt, slots = mapped
    keys = list(model._param_keys)
    if len(keys) != len(opt._states):
        return
    g = f.create_group("optimizer/vars")
    g.attrs["name"] = opt.name
    arrays = [np.asarray(opt.iterations, dtype=np.int64)]
    if opt._schedule is None:
        arrays.append(np.asarray(opt._learning_rate, dtype=np.float32))
    for (layer, key), state in zip(keys, opt._states):
        for slot in slots:
            a = state[slot]
            a = a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a
            arrays.append(np.asarray(layer._to_keras_layout(key, a)))
    for i, a in enumerate(arrays):
        g.create_dataset(str(i), data=a)


def read(model, f, where) -> bool:
    """Set ``model``'s optimizer state from Keras's ``optimizer/vars`` in ``f`` when the optimizer maps and
    the variables are exactly the expected ones (count, shapes, dtypes); True when it did. ValueError for
    a group of the right count whose entries do not match."""
    mapped = _mapped(model)
    if mapped is None or "optimizer" not in f or "vars" not in f["optimizer"]:
        return False
    opt, slots = mapped
    saved = model._compile_time_flags()
    try:
        model._index_parameters()
        keys, params = list(model._param_keys), list(model._params)
    finally:
        model._restore_flags(saved)
    g = f["optimizer"]["vars"]
    n_head = 1 if opt._schedule is not None else 2
    if len(g.keys()) != n_head + len(slots) * len(keys):
        return False  # another optimizer's layout: the state starts afresh, as Keras does
    _h5._exact_keys(g, [str(i) for i in range(n_head + len(slots) * len(keys))], where)
    it = _h5.dataset(g, "0", (), where, kinds="iu")
    if int(it) < 0:
        raise ValueError(f"{where}: optimizer iterations is negative")
    lr = float(_h5.dataset(g, "1", (), where)) if n_head == 2 else None
    if lr is not None and not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"{where}: optimizer learning_rate must be finite and positive, got {lr}")
    states, i = [], n_head
    for (layer, key), p in zip(keys, params):
        shape = layer._to_keras_layout(key, p).shape
        state = {}
        for slot in slots:
            keras_value = _h5.dataset(g, str(i), shape, where)
            state[slot] = np.ascontiguousarray(layer._from_keras_layout(key, keras_value), dtype=p.dtype)
            i += 1
        states.append(state)
    opt.iterations = int(it)
    if lr is not None:
        opt._learning_rate = lr
    opt._states = states
    return True
