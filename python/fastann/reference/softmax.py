"""fastann.reference: softmax and log-softmax over one axis in plain NumPy float64.

softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j (subtracting m changes nothing
mathematically and keeps exp from overflowing); log_softmax(x)_i = x_i - m - log sum_j exp(x_j - m).
Backward from the saved output y (Goodfellow et al., Deep Learning, 6.2.2.3; torch.nn.functional):
softmax: dx = y * (g - sum_j g_j y_j); log_softmax: dx = g - exp(y) * sum_j g_j.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import array, same_device, same_dtype

__all__ = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward", "check_dim"]


def check_dim(op, dim, ndim) -> int:
    """dim: an int in [-ndim, ndim) (TypeError for a non-int, ValueError out of range); returns it >= 0."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -ndim <= dim < ndim:
        raise ValueError(f"{op}: dim {dim} is out of range for an array of ndim={ndim} "
                         f"(valid: {-ndim} .. {ndim - 1})")
    return int(dim) % ndim


def _check_backward(op, grad_output, output, dim):
    array(op, "grad_output", grad_output)
    array(op, "output", output)
    same_dtype(op, grad_output=grad_output, output=output)
    same_device(op, grad_output=grad_output, output=output)
    if grad_output.shape != output.shape:
        raise ValueError(f"{op}: grad_output shape {tuple(grad_output.shape)} != output shape "
                         f"{tuple(output.shape)}")
    return check_dim(op, dim, output.ndim)


def _logsumexp_parts(x, dim):
    m = np.max(x, axis=dim, keepdims=True)  # np.max propagates NaN
    return m, np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True))


def softmax(input, dim=-1):
    """Softmax along ``dim`` of a float array of any shape (float64 result)."""
    array("softmax", "input", input)
    dim = check_dim("softmax", dim, input.ndim)
    x = np.asarray(input, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def log_softmax(input, dim=-1):
    """log(softmax(input)) along ``dim``, computed as x - max - log sum exp(x - max)."""
    array("log_softmax", "input", input)
    dim = check_dim("log_softmax", dim, input.ndim)
    x = np.asarray(input, dtype=np.float64)
    m, lse = _logsumexp_parts(x, dim)
    return x - m - lse


def softmax_backward(grad_output, output, dim=-1):
    """Gradient of softmax w.r.t. its input from its output y: y * (g - sum(g * y))."""
    dim = _check_backward("softmax_backward", grad_output, output, dim)
    g, y = np.asarray(grad_output, np.float64), np.asarray(output, np.float64)
    return y * (g - np.sum(g * y, axis=dim, keepdims=True))


def log_softmax_backward(grad_output, output, dim=-1):
    """Gradient of log_softmax w.r.t. its input from its output y: g - exp(y) * sum(g)."""
    dim = _check_backward("log_softmax_backward", grad_output, output, dim)
    g, y = np.asarray(grad_output, np.float64), np.asarray(output, np.float64)
    return g - np.exp(y) * np.sum(g, axis=dim, keepdims=True)
