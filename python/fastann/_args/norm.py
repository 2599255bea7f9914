"""Argument checks of the norm family (batch_norm, batch_norm_relu, forward and backward), shared by ops and
reference.

The input is (N, C) or (N, C, H, W) (batch_norm_relu: (N, C, H, W) only); every per-channel array is (C,)
of the input's dtype and device; the running statistics are updated in place in training, so they must
be writeable there.
"""
from __future__ import annotations


import numpy as np

from .common import array, flag, real, same_device, same_dtype


def channel_array(op: str, name: str, a, C: int, writeable: bool = False):
    """None, or a (C,) float array (writeable when ``writeable``)."""
    if a is None:
        return None
    array(op, name, a, ndim=1, layout="(C,)")
    if a.shape[0] != C:
        raise ValueError(f"{op}: {name} must have shape ({C},) to match the input's C={C}, got {tuple(a.shape)}")
    if writeable and not getattr(a.flags, "writeable", True):
        raise ValueError(f"{op}: {name} is read-only but training updates it in place")
    return a


def batch_norm_args(op, input, running_mean, running_var, weight, bias, training, momentum, eps):
    """batch_norm's arguments; returns (N, C, HW, training)."""
    array(op, "input", input, ndim=(2, 4), layout="(N,C) or (N,C,H,W)")
    training = flag(op, "training", training)
    N, C = input.shape[:2]
    HW = int(np.prod(input.shape[2:])) if input.ndim == 4 else 1
    channel_array(op, "running_mean", running_mean, C, writeable=training)
    channel_array(op, "running_var", running_var, C, writeable=training)
    channel_array(op, "weight", weight, C)
    channel_array(op, "bias", bias, C)
    same_dtype(op, input=input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    same_device(op, input=input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    if not training and (running_mean is None or running_var is None):
        raise ValueError(f"{op}: inference mode (training=False) needs running_mean and running_var")
    if training and N * HW < 2:
        raise ValueError(f"{op}: training needs more than one value per channel, got input shape "
                         f"{tuple(input.shape)}")
    if not 0.0 <= real(op, "momentum", momentum) <= 1.0:
        raise ValueError(f"{op}: momentum must be a number in [0, 1], got {momentum!r}")
    if not 0.0 < real(op, "eps", eps) < np.inf:
        raise ValueError(f"{op}: eps must be a positive number, got {eps!r}")
    return N, C, HW, training


def return_stats_arg(op, return_stats, training) -> bool:
    """return_stats: a bool, True only in training."""
    if flag(op, "return_stats", return_stats) and not training:
        raise ValueError(f"{op}: return_stats=True needs training=True (inference has no batch statistics)")
    return bool(return_stats)


def batch_norm_backward_args(op, grad_output, input, weight, save_mean, save_invstd):
    """batch_norm_backward's arguments; returns (N, C, HW)."""
    array(op, "input", input, ndim=(2, 4), layout="(N,C) or (N,C,H,W)")
    array(op, "grad_output", grad_output, ndim=(2, 4), layout="(N,C) or (N,C,H,W)")
    if grad_output.shape != input.shape:
        raise ValueError(f"{op}: grad_output {tuple(grad_output.shape)} and input {tuple(input.shape)} "
                         "must have the same shape")
    C = input.shape[1]
    channel_array(op, "weight", weight, C)
    for name, a in (("save_mean", save_mean), ("save_invstd", save_invstd)):
        if a is None:
            raise TypeError(f"{op}: {name} must be the (C,) array batch_norm(..., training=True, "
                            "return_stats=True) returned, got NoneType")
    channel_array(op, "save_mean", save_mean, C)
    channel_array(op, "save_invstd", save_invstd, C)
    same_dtype(op, grad_output=grad_output, input=input, weight=weight, save_mean=save_mean,
               save_invstd=save_invstd)
    same_device(op, grad_output=grad_output, input=input, weight=weight, save_mean=save_mean,
                save_invstd=save_invstd)
    HW = int(np.prod(input.shape[2:])) if input.ndim == 4 else 1
    return input.shape[0], C, HW


def batch_norm_relu_args(op, input, running_mean, running_var, weight, bias, training, momentum, eps, max_pool):
    """batch_norm_relu's arguments; returns (N, C, H, W, training, max_pool)."""
    array(op, "input", input, ndim=4, layout="(N,C,H,W)")
    max_pool = flag(op, "max_pool", max_pool)
    N, C, _, training = batch_norm_args(op, input, running_mean, running_var, weight, bias, training, momentum, eps)
    H, W = input.shape[2:]
    if max_pool and (H < 2 or W < 2):
        raise ValueError(f"{op}: a 2x2 max pool needs H, W >= 2, got input shape {tuple(input.shape)}")
    return N, C, H, W, training, max_pool


def batch_norm_relu_backward_args(op, grad_output, output, input, weight, bias, save_mean, save_invstd,
                                  window_index):
    """batch_norm_relu_backward's arguments: input (N, C, H, W); grad_output and output (N, C, H, W), or
    (N, C, H//2, W//2) with window_index, uint8 of that shape; weight, bias (C,) or None; save_mean,
    save_invstd (C,); one device. Returns (N, C, H, W). The float dtypes are not matched here: the
    reference computes in float64 from any mix (tests feed it the kernel's float32 output), the compiled
    kernel refuses a mix (TypeError). window_index values outside 0..3 are refused where they are read."""
    array(op, "input", input, ndim=4, layout="(N,C,H,W)")
    array(op, "grad_output", grad_output, ndim=4, layout="(N,C,OH,OW)")
    array(op, "output", output, ndim=4, layout="(N,C,OH,OW)")
    N, C, H, W = input.shape
    channel_array(op, "weight", weight, C)
    channel_array(op, "bias", bias, C)
    for name, a in (("save_mean", save_mean), ("save_invstd", save_invstd)):
        if a is None:
            raise TypeError(f"{op}: {name} must be the (C,) array batch_norm_relu(..., training=True) returned, "
                            "got NoneType")
        channel_array(op, name, a, C)
    pooled = window_index is not None
    if pooled:
        array(op, "window_index", window_index, ndim=4, float_only=False)
        if window_index.dtype != np.uint8:
            raise TypeError(f"{op}: window_index must be uint8, got dtype {window_index.dtype}")
    same_device(op, grad_output=grad_output, output=output, input=input, weight=weight, bias=bias,
                save_mean=save_mean, save_invstd=save_invstd, window_index=window_index)
    want = (N, C, H // 2, W // 2) if pooled else (N, C, H, W)
    for name, a in (("grad_output", grad_output), ("output", output)) + ((("window_index", window_index),)
                                                                          if pooled else ()):
        if tuple(a.shape) != want:
            raise ValueError(f"{op}: {name} must have shape {want} for input {tuple(input.shape)}"
                             f"{' with window_index' if pooled else ''}, got {tuple(a.shape)}")
    return N, C, H, W


__all__ = ["batch_norm_args", "batch_norm_backward_args", "batch_norm_relu_args", "batch_norm_relu_backward_args",
           "channel_array", "return_stats_arg"]
