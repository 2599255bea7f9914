"""Argument checks of the prelu family (forward and backward), shared by ops and reference.

The input has rank >= 1; its channel axis is 1 (rank >= 2) or it is one channel (rank 1), as
``torch.nn.functional.prelu``; the weight is 1-D with one value per channel or a single shared value.
"""
from __future__ import annotations

from .common import array, same_device, same_dtype


def prelu_args(op, input, weight):
    """prelu's arguments; returns C (the input's channels)."""
    array(op, "input", input)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have at least 1 dimension, got a 0-D array")
    array(op, "weight", weight, ndim=1, layout="(C,) or (1,)")
    C = input.shape[1] if input.ndim >= 2 else 1
    if weight.shape[0] not in (1, C):
        raise ValueError(f"{op}: weight must have 1 value or one per channel ({C}, input shape "
                         f"{tuple(input.shape)}), got {weight.shape[0]}")
    same_dtype(op, input=input, weight=weight)
    same_device(op, input=input, weight=weight)
    return C


def prelu_backward_args(op, grad_output, input, weight):
    """prelu_backward's arguments; returns C."""
    C = prelu_args(op, input, weight)
    array(op, "grad_output", grad_output)
    if grad_output.shape != input.shape:
        raise ValueError(f"{op}: grad_output {tuple(grad_output.shape)} and input {tuple(input.shape)} must have "
                         "the same shape")
    same_dtype(op, grad_output=grad_output, input=input)
    same_device(op, grad_output=grad_output, input=input)
    return C


__all__ = ["prelu_args", "prelu_backward_args"]
