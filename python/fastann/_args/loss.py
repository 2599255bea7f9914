"""Argument checks of the loss family, shared by ops and reference.

Elementwise losses take input and target of one shape and dtype; the class losses take (N, C) input and
either (N,) int32/int64 labels or an (N, C) float target; ``eps`` is a clip bound in [0, 0.5);
``grad_output`` is a scalar (a number, or an array of shape () or (1,)).
"""
from __future__ import annotations

import numbers

import numpy as np

from .common import array, is_cupy, real, same_device, same_dtype

LABEL_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def check_pair(op, input, target):
    """input and target: non-empty C-contiguous float arrays of one dtype, shape and device."""
    array(op, "input", input)
    array(op, "target", target)
    same_dtype(op, input=input, target=target)
    same_device(op, input=input, target=target)
    if input.shape != target.shape:
        raise ValueError(f"{op}: target shape {tuple(target.shape)} != input shape {tuple(input.shape)}")


def check_class_target(op, input, target) -> bool:
    """input (N, C) float; target (N,) int32/int64 labels or (N, C) float of input's dtype.

    Returns True for labels. TypeError: a float 1-D target, a target dtype other than int32/int64/float.
    ValueError: shapes. (Label ranges are checked by :func:`check_labels`; the compiled kernels do it too.)
    """
    array(op, "input", input, ndim=2, layout="(N, C)")
    array(op, "target", target, float_only=False)
    same_device(op, input=input, target=target)
    n, c = input.shape
    if target.dtype in LABEL_DTYPES:
        if target.shape != (n,):
            raise ValueError(f"{op}: integer class labels must have shape (N,) = ({n},), got {tuple(target.shape)}")
        return True
    if target.dtype.kind != "f":
        raise TypeError(f"{op}: target must be int32/int64 class labels of shape (N,) or float probabilities "
                        f"of shape (N, C), got dtype {target.dtype}")
    if target.ndim == 1:
        raise TypeError(f"{op}: a 1-D target must hold integer class labels (int32 or int64), got dtype "
                        f"{target.dtype}; float targets must have shape (N, C)")
    same_dtype(op, input=input, target=target)
    if target.shape != input.shape:
        raise ValueError(f"{op}: target shape {tuple(target.shape)} != input shape {tuple(input.shape)}")
    return False


def check_labels(op, labels, num_classes):
    """Every label in [0, C); ValueError naming the first bad one and its index otherwise."""
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{op}: target label {int(labels[i])} at index {i} is out of range "
                         f"[0, {num_classes}) for C={num_classes} classes")


def check_eps(op, eps):
    e = real(op, "eps", eps)
    if not 0.0 <= e < 0.5:
        raise ValueError(f"{op}: eps must be in [0, 0.5), got {eps!r}")
    return e


def check_delta(op, delta):
    """Huber's delta: a finite real number > 0 (ValueError otherwise; TypeError for a bool or a non-number)."""
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real):
        raise TypeError(f"{op}: delta must be a real number, got {type(delta).__name__}")
    try:
        value = float(delta)
    except OverflowError:  # an int past the float range
        value = float("inf")
    if not (np.isfinite(value) and value > 0.0):
        raise ValueError(f"{op}: delta must be a finite number > 0, got {delta!r}")
    return value


def scalar(op, name, v) -> float:
    """A real number (Python or NumPy, not bool) or a NumPy / CuPy array of shape () or (1,) holding one,
    as a float; TypeError otherwise."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a real number, got bool")
    if isinstance(v, (numbers.Real, np.floating, np.integer)):
        return real(op, name, v)
    if (isinstance(v, np.ndarray) or is_cupy(v)) and tuple(v.shape) in ((), (1,)) and v.dtype.kind in "fiu":
        return float(v.reshape(()))
    raise TypeError(f"{op}: {name} must be a real number or an array of shape () or (1,), got "
                    f"{type(v).__name__}{' of shape ' + str(tuple(v.shape)) if hasattr(v, 'shape') else ''}")


__all__ = ["LABEL_DTYPES", "check_class_target", "check_delta", "check_eps", "check_labels", "check_pair", "scalar"]
