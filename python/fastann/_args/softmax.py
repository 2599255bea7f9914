"""Argument checks of softmax / log_softmax (forward and backward), shared by ops and reference."""
from __future__ import annotations

import numbers

from .common import array, same_device, same_dtype


def check_dim(op, dim, ndim) -> int:
    """dim: an int in [-ndim, ndim) (TypeError for a non-int, ValueError out of range); returns it >= 0."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -ndim <= dim < ndim:
        raise ValueError(f"{op}: dim {dim} is out of range for an array of ndim={ndim} "
                         f"(valid: {-ndim} .. {ndim - 1})")
    return int(dim) % ndim


def check_forward(op, input, dim) -> int:
    """input: a non-empty C-contiguous float array, ndim >= 1; returns dim >= 0."""
    array(op, "input", input)
    return check_dim(op, dim, input.ndim)


def check_backward(op, grad_output, output, dim) -> int:
    """grad_output and output: float arrays of one shape, dtype and device; returns dim >= 0."""
    array(op, "grad_output", grad_output)
    array(op, "output", output)
    same_dtype(op, grad_output=grad_output, output=output)
    same_device(op, grad_output=grad_output, output=output)
    if grad_output.shape != output.shape:
        raise ValueError(f"{op}: grad_output shape {tuple(grad_output.shape)} != output shape "
                         f"{tuple(output.shape)}")
    return check_dim(op, dim, output.ndim)


__all__ = ["check_backward", "check_dim", "check_forward"]
