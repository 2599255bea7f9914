"""``Sequential.summary``'s table: layers, output shapes (None = batch), parameter counts and totals."""
from __future__ import annotations

import numpy as np

from ..layers import InputLayer

__all__ = ["summary_lines"]


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
