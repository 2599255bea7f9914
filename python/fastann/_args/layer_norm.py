"""Argument checks of the layer_norm family (forward and backward), shared by ops and reference.

The input is (..., *normalized_shape): ``normalized_shape`` (an int or a sequence of ints, as
``torch.nn.functional.layer_norm`` takes it) names its trailing dimensions; weight and bias have shape
normalized_shape; the saved statistics are (M,), one per row, M = input.size // prod(normalized_shape).
"""
from __future__ import annotations

import numbers

import numpy as np

from .common import array, real, same_device, same_dtype


def normalized_shape_arg(op, normalized_shape, input) -> tuple:
    """normalized_shape as a tuple of ints equal to the input's trailing dimensions (TypeError for a non-int,
    ValueError for a mismatch)."""
    ns = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else normalized_shape
    if isinstance(ns, (str, bytes)) or not hasattr(ns, "__len__") or any(
            isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral) for d in ns):
        raise TypeError(f"{op}: normalized_shape must be an int or a sequence of ints, got {normalized_shape!r}")
    ns = tuple(int(d) for d in ns)
    if not 1 <= len(ns) <= input.ndim or tuple(input.shape[input.ndim - len(ns):]) != ns:
        raise ValueError(f"{op}: normalized_shape {list(ns)} must equal the input's trailing dimensions, got "
                         f"input shape {tuple(input.shape)}")
    return ns


def _param(op, name, a, ns):
    if a is None:
        return None
    array(op, name, a, ndim=len(ns), layout=f"normalized_shape {ns}")
    if tuple(a.shape) != ns:
        raise ValueError(f"{op}: {name} must have shape {ns} (normalized_shape), got {tuple(a.shape)}")
    return a


def layer_norm_args(op, input, normalized_shape, weight, bias, eps):
    """layer_norm's arguments; returns (normalized_shape as a tuple, M, N)."""
    array(op, "input", input, ndim=None)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have at least 1 dimension, got a 0-D array")
    ns = normalized_shape_arg(op, normalized_shape, input)
    _param(op, "weight", weight, ns)
    _param(op, "bias", bias, ns)
    same_dtype(op, input=input, weight=weight, bias=bias)
    same_device(op, input=input, weight=weight, bias=bias)
    if not 0.0 < real(op, "eps", eps) < np.inf:
        raise ValueError(f"{op}: eps must be a positive number, got {eps!r}")
    N = int(np.prod(ns))
    return ns, input.size // N, N


def layer_norm_backward_args(op, grad_output, input, normalized_shape, weight, save_mean, save_invstd):
    """layer_norm_backward's arguments; returns (normalized_shape as a tuple, M, N)."""
    array(op, "input", input, ndim=None)
    array(op, "grad_output", grad_output, ndim=None)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have at least 1 dimension, got a 0-D array")
    if grad_output.shape != input.shape:
        raise ValueError(f"{op}: grad_output {tuple(grad_output.shape)} and input {tuple(input.shape)} "
                         "must have the same shape")
    ns = normalized_shape_arg(op, normalized_shape, input)
    _param(op, "weight", weight, ns)
    N = int(np.prod(ns))
    M = input.size // N
    for name, a in (("save_mean", save_mean), ("save_invstd", save_invstd)):
        if a is None:
            raise TypeError(f"{op}: {name} must be the (M,) array layer_norm(..., return_stats=True) returned, "
                            "got NoneType")
        array(op, name, a, ndim=1, layout="(M,)")
        if a.shape[0] != M:
            raise ValueError(f"{op}: {name} must have shape ({M},) (one value per row of the input), got "
                             f"{tuple(a.shape)}")
    same_dtype(op, grad_output=grad_output, input=input, weight=weight, save_mean=save_mean,
               save_invstd=save_invstd)
    same_device(op, grad_output=grad_output, input=input, weight=weight, save_mean=save_mean,
                save_invstd=save_invstd)
    return ns, M, N


__all__ = ["layer_norm_args", "layer_norm_backward_args", "normalized_shape_arg"]
