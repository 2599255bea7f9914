"""Keras' argument conventions for ``Sequential``: refusing the Keras arguments fastann does not implement,
Keras' ``verbose``, ``get_layer``'s lookup, and compile's metric list (names kept, "accuracy" left to be
resolved against the data)."""
from __future__ import annotations

import numbers

from .. import metrics as metrics_module

__all__ = ["get_layer", "metric_specs", "unimplemented", "verbose_arg"]


def unimplemented(owner, **given):
    """NotImplementedError naming the first Keras argument in ``given`` (name -> (value, default)) whose value
    is not Keras' default; ``owner`` is the method ("fit": "Sequential.fit"), or "Class.method"."""
    for name, (value, default) in given.items():
        if not (value is default or (type(value) is type(default) and value == default)):
            owner = owner if "." in owner else f"Sequential.{owner}"
            raise NotImplementedError(f"{owner}: fastann does not implement the Keras argument "
                                      f"{name}={value!r} (only {name}={default!r})")


def verbose_arg(owner, verbose):
    """Keras' verbose: "auto" (1), 0, 1 or 2."""
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"Sequential.{owner}: verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def get_layer(layers, name=None, index=None):
    """Keras' ``Model.get_layer`` over ``layers`` (the model's layers without the InputLayer): the layer
    called ``name`` or at ``index``. ValueError (Keras' messages) when both or neither are given, for an
    unknown name or an index past the end; TypeError for a non-int index."""
    if name is not None and index is not None:
        raise ValueError(f"Provide only a layer name or a layer index. Received: index={index}, name={name}.")
    if index is not None:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Sequential.get_layer: index must be an int, got {index!r}")
        if not -len(layers) <= index < len(layers):
            raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                             f"{len(layers)} layers.")
        return layers[index]
    if name is not None:
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in layers]}.")
    raise ValueError("Provide either a layer name or layer index at `get_layer`.")


def metric_specs(metrics, loss) -> list:
    """compile's ``metrics`` as a list of Metric objects (a metric given by name is logged under that
    name, as Keras) and of the strings "accuracy"/"acc", which ``metrics.resolve_accuracy`` resolves at the
    first fit/evaluate. TypeError for a non-list, ValueError for an unknown or duplicate name."""
    if metrics is not None and (isinstance(metrics, str) or not isinstance(metrics, (list, tuple))):
        raise TypeError(f"Sequential.compile: metrics must be a list, got {metrics!r}")
    specs = []
    for m in metrics or []:
        if isinstance(m, str) and m.lower() in ("accuracy", "acc"):
            specs.append(m)  # resolved from the data's shapes (metrics_module.resolve_accuracy)
            continue
        obj = metrics_module.get(m, loss)
        if isinstance(m, str):
            obj.name = m  # Keras logs a metric given by name under that name
        specs.append(obj)
    names = [m if isinstance(m, str) else m.name for m in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"Sequential.compile: duplicate metric names {names}")
    return specs
