"""fastann.ops: softmax and log-softmax over one axis, forward and backward (torch.nn.functional names).

Arrays: float32/float64 NumPy (CPU) or CuPy (CUDA), any ndim >= 1, C-contiguous, non-empty; ``dim`` an int
in [-ndim, ndim) (default the last axis). The output has the input's shape and dtype. Numerically stable
(the max along the axis is subtracted before exp); NaN anywhere on a line makes that line NaN. The
backwards take the forward's OUTPUT (what a layer keeps): softmax: dx = y * (g - sum(g * y));
log_softmax: dx = g - exp(y) * sum(g) (Goodfellow et al., Deep Learning, sec. 6.2.2.3).
Raises TypeError (dtype, a non-int dim), ValueError (dim out of range, shapes, empty, non-contiguous).
"""
from __future__ import annotations

from .._args.softmax import check_backward, check_forward
from ._common import backend, empty

__all__ = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward"]


def _forward(op, input, dim):
    dim = check_forward(op, input, dim)
    k, xp = backend(op, input=input)
    out = empty(xp, input.shape, input.dtype)
    getattr(k, op + "_forward")(out, input, dim)
    return out


def _backward(op, grad_output, output, dim):
    dim = check_backward(op, grad_output, output, dim)
    k, xp = backend(op, grad_output=grad_output, output=output)
    dinput = empty(xp, output.shape, output.dtype)
    getattr(k, op)(dinput, grad_output, output, dim)
    return dinput


def softmax(input, dim=-1):
    """``exp(x - max) / sum exp(x - max)`` along ``dim``. input: float array, any shape; same shape out."""
    return _forward("softmax", input, dim)


def softmax_backward(grad_output, output, dim=-1):
    """Gradient of :func:`softmax` w.r.t. its input, from its output y: ``y * (g - sum(g * y, dim))``."""
    return _backward("softmax_backward", grad_output, output, dim)


def log_softmax(input, dim=-1):
    """``(x - max) - log sum exp(x - max)`` along ``dim`` (log of softmax without underflow; in that order,
    so the log sum is not rounded away when |max| is large)."""
    return _forward("log_softmax", input, dim)


def log_softmax_backward(grad_output, output, dim=-1):
    """Gradient of :func:`log_softmax` w.r.t. its input, from its output y: ``g - exp(y) * sum(g, dim)``."""
    return _backward("log_softmax_backward", grad_output, output, dim)
