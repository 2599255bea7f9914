"""fastann.reference: the prelu family in plain NumPy float64.

The parametric ReLU (He, Zhang, Ren & Sun, "Delving Deep into Rectifiers", ICCV 2015), as
``torch.nn.functional.prelu``: with c the channel axis 1 of the input (one channel for a 1-D input) and w the
weight (one value per channel, or one shared value)::

    y = x if x > 0 else w[c] * x
    dx = dy if x > 0 else w[c] * dy
    dw[c] = sum over the channel's values of dy * x where x <= 0      (shared weight: the sum over everything)
"""
from __future__ import annotations

import numpy as np

from .._args.prelu import prelu_args, prelu_backward_args

__all__ = ["prelu", "prelu_backward"]


def _weight(weight, input, C):
    """The weight broadcast against the input (channel axis 1)."""
    w = np.asarray(weight, dtype=np.float64)
    if w.shape[0] == 1 or input.ndim < 2:
        return w[0]
    return w.reshape((1, C) + (1,) * (input.ndim - 2))


def prelu(input, weight):
    """The parametric ReLU (module docstring), float64 result."""
    C = prelu_args("prelu", input, weight)
    x = np.asarray(input, dtype=np.float64)
    return np.where(x > 0, x, _weight(weight, input, C) * x)


def prelu_backward(grad_output, input, weight):
    """(dinput, dweight) of :func:`prelu` (module docstring), float64; dweight has the weight's shape."""
    C = prelu_backward_args("prelu_backward", grad_output, input, weight)
    x = np.asarray(input, dtype=np.float64)
    dy = np.asarray(grad_output, dtype=np.float64)
    dx = np.where(x > 0, dy, _weight(weight, input, C) * dy)
    contrib = np.where(x > 0, 0.0, dy * x)
    if weight.shape[0] == 1:
        dw = np.array([contrib.sum()])
    else:
        dw = contrib.sum(axis=(0,) + tuple(range(2, x.ndim)))
    return dx, dw
