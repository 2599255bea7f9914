"""``Sequential.summary``'s table: layers, output shapes (None = batch), parameter counts and totals."""
from __future__ import annotations

import numpy as np

from ..layers import InputLayer

__all__ = ["functional_summary_lines", "summary_lines"]


def summary_lines(model) -> list:
    """The lines of ``model``'s summary (a built Sequential), in Keras' layout; InputLayers are not listed."""
    rows = [("Layer (type)", "Output Shape", "Param #")]
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            continue
        act = getattr(layer, "activation", None)
        kind = type(layer).__name__ + (f", {act}" if act and type(layer).__name__ != "Activation" else "")
        rows.append((f"{layer.name} ({kind})", str((None,) + tuple(layer.output_shape)),
                     f"{layer.count_params():,}"))
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
    line = "-" * sum(widths)
    total = model.count_params()
    trainable = sum(int(np.prod(l.params[k].shape)) for l in model.layers for k in l.trainable_names)
    out = [f'Model: "{model.name}"', line]
    for i, r in enumerate(rows):
        out.append("".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            out.append("=" * sum(widths))
    out += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", line]
    return out


def functional_summary_lines(model) -> list:
    """The summary of a functional Model (Keras' layout for it): one row per layer with its output shape,
    parameter count and the layers it is called on ("Connected to": ``name[call index][output index]``,
    one per input tensor, for every call of a shared layer)."""
    calls = {}
    for node in model._graph.nodes:
        calls.setdefault(id(node.layer), []).append(node)
    index = {id(n): i for nodes in calls.values() for i, n in enumerate(nodes)}

    def source(t):
        return f"{t.node.layer.name}[{index.get(id(t.node), 0)}][{t.index}]"

    rows = [("Layer (type)", "Output Shape", "Param #", "Connected to")]
    for layer in model.layers:
        shape = layer.output_shape
        shape = ", ".join(str((None,) + tuple(s)) for s in shape) if isinstance(shape, list) else \
            str((None,) + tuple(shape))
        kind = "InputLayer" if isinstance(layer, InputLayer) else type(layer).__name__
        if kind == "Model":
            kind = "Functional"
        links = [", ".join(source(t) for t in n.inputs) for n in calls.get(id(layer), [])]
        rows.append((f"{layer.name} ({kind})", shape, f"{layer.count_params():,}", " | ".join(links) or "-"))
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]
    line = "-" * sum(widths)
    total = model.count_params()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    out = [f'Model: "{model.name}"', line]
    for i, r in enumerate(rows):
        out.append("".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            out.append("=" * sum(widths))
    out += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", line]
    return out
