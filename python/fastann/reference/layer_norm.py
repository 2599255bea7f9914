"""fastann.reference: the layer_norm family in plain NumPy float64.

Layer normalization (Ba, Kiros & Hinton, "Layer Normalization", 2016) with PyTorch's conventions
(``torch.nn.functional.layer_norm``): the input (..., *normalized_shape) is seen as (M, N) rows of
N = prod(normalized_shape) values, and each row is normalized over its own values::

    mean = sum(x)/N,  var = sum((x - mean)^2)/N (biased),  invstd = 1/sqrt(var + eps)
    y = (x - mean) * invstd * weight + bias          weight, bias: normalized_shape, per position
    backward, xhat = (x - mean) * invstd, g = dy * weight:
    dx = invstd * (g - mean(g) - xhat * mean(g * xhat))      (means over the row)
    dweight = sum over rows of dy * xhat,  dbias = sum over rows of dy
"""
from __future__ import annotations

import numpy as np

from .._args.layer_norm import layer_norm_args, layer_norm_backward_args

__all__ = ["layer_norm", "layer_norm_backward"]


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, return_stats=False):
    """Layer normalization (module docstring), float64 result; with ``return_stats`` also the (M,) save_mean
    and save_invstd that :func:`layer_norm_backward` takes. Raises TypeError / ValueError as the op."""
    op = "layer_norm"
    ns, M, N = layer_norm_args(op, input, normalized_shape, weight, bias, eps)
    x = np.asarray(input, dtype=np.float64).reshape(M, N)
    mean = x.mean(axis=1)
    var = ((x - mean[:, None]) ** 2).mean(axis=1)
    invstd = 1.0 / np.sqrt(var + float(eps))
    y = (x - mean[:, None]) * invstd[:, None]
    if weight is not None:
        y = y * np.asarray(weight, dtype=np.float64).reshape(N)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64).reshape(N)
    y = y.reshape(input.shape)
    return (y, mean, invstd) if return_stats else y


def layer_norm_backward(grad_output, input, normalized_shape, weight, save_mean, save_invstd):
    """Gradients of :func:`layer_norm` (module docstring): (dinput, dweight or None without weight, dbias),
    float64; dweight and dbias have shape normalized_shape."""
    op = "layer_norm_backward"
    ns, M, N = layer_norm_backward_args(op, grad_output, input, normalized_shape, weight, save_mean, save_invstd)
    x = np.asarray(input, dtype=np.float64).reshape(M, N)
    dy = np.asarray(grad_output, dtype=np.float64).reshape(M, N)
    mean = np.asarray(save_mean, dtype=np.float64)[:, None]
    invstd = np.asarray(save_invstd, dtype=np.float64)[:, None]
    xhat = (x - mean) * invstd
    g = dy * (np.asarray(weight, dtype=np.float64).reshape(N) if weight is not None else 1.0)
    dx = invstd * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
    dweight = (dy * xhat).sum(axis=0).reshape(ns) if weight is not None else None
    return dx.reshape(input.shape), dweight, dy.sum(axis=0).reshape(ns)
