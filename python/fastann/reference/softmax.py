"""fastann.reference: softmax and log-softmax over one axis in plain NumPy float64.

softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j (subtracting m changes nothing
mathematically and keeps exp from overflowing); log_softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m),
in that order: x_i - (m + log sum) loses the log sum when |m| is large (1e8 + 0.69 is 1e8 in float32).
Backward from the saved output y (Goodfellow et al., Deep Learning, 6.2.2.3; torch.nn.functional):
softmax: dx = y * (g - sum_j g_j y_j); log_softmax: dx = g - exp(y) * sum_j g_j.
"""
from __future__ import annotations

import numpy as np

from .._args.softmax import check_backward, check_forward

__all__ = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward"]


def _logsumexp_parts(x, dim):
    m = np.max(x, axis=dim, keepdims=True)  # np.max propagates NaN
    return m, np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True))


def softmax(input, dim=-1):
    """Softmax along ``dim`` of a float array of any shape (float64 result)."""
    dim = check_forward("softmax", input, dim)
    x = np.asarray(input, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def log_softmax(input, dim=-1):
    """log(softmax(input)) along ``dim``, computed as (x - max) - log sum exp(x - max)."""
    dim = check_forward("log_softmax", input, dim)
    x = np.asarray(input, dtype=np.float64)
    m, lse = _logsumexp_parts(x, dim)
    return (x - m) - lse  # not x - (m + lse): lse is rounded away when |m| is large


def softmax_backward(grad_output, output, dim=-1):
    """Gradient of softmax w.r.t. its input from its output y: y * (g - sum(g * y))."""
    dim = check_backward("softmax_backward", grad_output, output, dim)
    g, y = np.asarray(grad_output, np.float64), np.asarray(output, np.float64)
    return y * (g - np.sum(g * y, axis=dim, keepdims=True))


def log_softmax_backward(grad_output, output, dim=-1):
    """Gradient of log_softmax w.r.t. its input from its output y: g - exp(y) * sum(g)."""
    dim = check_backward("log_softmax_backward", grad_output, output, dim)
    g, y = np.asarray(grad_output, np.float64), np.asarray(output, np.float64)
    return g - np.exp(y) * np.sum(g, axis=dim, keepdims=True)
