"""fastann.ops: the norm family (batch normalization, PyTorch semantics).

:mod:`fastann.reference.norm` holds the math and is the executable spec; docs/batchnorm.md explains the
kernels (one statistics sweep + one normalize sweep per channel, fused backward).
"""
from __future__ import annotations

import numpy as np

from .._args.norm import (batch_norm_args, batch_norm_backward_args, batch_norm_relu_args,
                          batch_norm_relu_backward_args, return_stats_arg)
from ._common import backend, empty

__all__ = ["batch_norm", "batch_norm_backward", "batch_norm_relu", "batch_norm_relu_backward"]


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, return_stats=False):
    """Batch normalization over the channel axis 1 (Ioffe & Szegedy 2015), as ``torch.nn.functional.batch_norm``.

    Args:
        input: (N, C) or (N, C, H, W), float32 or float64, C-contiguous.
        running_mean, running_var: (C,) same dtype. Inference uses them; training updates them IN PLACE:
            ``running = (1 - momentum) * running + momentum * batch_stat``, with the UNBIASED batch variance
            (M/(M-1), M = N*H*W) for running_var. Either may be None in training (no update).
        weight, bias: (C,) gamma and beta, or None (gamma = 1, beta = 0).
        training: batch statistics (True) or running statistics (False).
        momentum: in [0, 1] (PyTorch's meaning; Keras' momentum=0.99 is PyTorch's 0.01).
        eps: > 0, added to the variance.
        return_stats: training only: also return save_mean and save_invstd = 1/sqrt(var + eps) (C,),
            what :func:`batch_norm_backward` needs.

    Returns:
        output with the input's shape and dtype, or (output, save_mean, save_invstd).

    Raises:
        TypeError: non-array or non-float arguments, mixed dtypes, mixed NumPy/CuPy; training or
            return_stats not a bool.
        ValueError: input not 2-D/4-D, empty or non-contiguous; per-channel arrays not (C,); running stats
            missing in inference or read-only in training; N*H*W == 1 in training; momentum outside [0, 1];
            eps <= 0; return_stats without training.
    """
    op = "batch_norm"
    _, C, _, training = batch_norm_args(op, input, running_mean, running_var, weight, bias, training, momentum, eps)
    return_stats = return_stats_arg(op, return_stats, training)
    k, xp = backend(op, input=input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    out = empty(xp, input.shape, input.dtype)
    if not training:
        k.batch_norm_forward_inference(out, input, running_mean, running_var, weight, bias, float(eps))
        return out
    save_mean = empty(xp, (C,), input.dtype)
    save_invstd = empty(xp, (C,), input.dtype)
    k.batch_norm_forward_training(out, save_mean, save_invstd, running_mean, running_var, input, weight, bias,
                                  float(momentum), float(eps))
    if return_stats:
        return out, save_mean, save_invstd
    return out


def batch_norm_backward(grad_output, input, weight, save_mean, save_invstd):
    """Gradients of training-mode :func:`batch_norm`, in one fused pass per channel.

    Args:
        grad_output, input: (N, C) or (N, C, H, W), same dtype (float32/float64).
        weight: (C,) gamma, or None (gamma = 1).
        save_mean, save_invstd: (C,) from ``batch_norm(..., training=True, return_stats=True)``.

    Returns:
        (dinput, dweight, dbias): dinput like input; dweight = sum(dy * xhat) (C,), or None when weight is
        None; dbias = sum(dy) (C,), always (it is the bias gradient whether or not the forward had a bias).
        dx = weight * invstd / M * (M*dy - sum(dy) - xhat * sum(dy*xhat)), xhat = (x - mean) * invstd.

    Raises TypeError / ValueError as :func:`batch_norm` (shape mismatch between grad_output and input,
    per-channel arrays not (C,), missing save_mean/save_invstd).
    """
    op = "batch_norm_backward"
    _, C, _ = batch_norm_backward_args(op, grad_output, input, weight, save_mean, save_invstd)
    k, xp = backend(op, grad_output=grad_output, input=input, weight=weight, save_mean=save_mean,
                    save_invstd=save_invstd)
    dinput = empty(xp, input.shape, input.dtype)
    dweight = empty(xp, (C,), input.dtype)
    dbias = empty(xp, (C,), input.dtype)
    k.batch_norm_backward(dinput, dweight, dbias, grad_output, input, weight, save_mean, save_invstd)
    return dinput, (None if weight is None else dweight), dbias


def _require_fused_kernel(op, k):
    if not hasattr(k, "batch_norm_relu_forward"):
        raise NotImplementedError(f"{op}: the fused kernel has no CUDA version yet; call batch_norm, relu and "
                                  "max_pool2d separately on GPU arrays")


def batch_norm_relu(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                    eps=1e-5, max_pool=False):
    """Fused ``relu(batch_norm(input))``, optionally followed by a 2x2 / stride-2 max pool.

    The elementwise tail of a Conv-BN-ReLU(-MaxPool) block in two sweeps over the input (statistics, then
    normalize + ReLU + pool in one), where the separate ops take five or six, writing only the pooled
    output. Same results as ``max_pool2d(relu(batch_norm(x)), 2)`` (Ioffe & Szegedy 2015 for the batch
    norm; PyTorch's conventions, see :func:`batch_norm`).

    Args:
        input: (N, C, H, W) float32 or float64, C-contiguous.
        running_mean, running_var, weight, bias, training, momentum, eps: as :func:`batch_norm`.
        max_pool: pool 2x2 windows with stride 2 (floor mode: an odd last row/column is dropped, as
            ``max_pool2d(x, 2)``). The pool runs on the normalized values before the ReLU (the same maximum);
            a tap wins when greater or NaN, like :func:`max_pool2d`.

    Returns:
        Inference: the output, (N, C, H, W) or (N, C, H//2, W//2) with max_pool, input's dtype.
        Training: ``(output, save_mean, save_invstd, window_index)``: save_* (C,) as
        ``batch_norm(..., return_stats=True)``; window_index (N, C, H//2, W//2) uint8, 2*row + column of each
        window's winner (0..3), or None without max_pool. All of it is what :func:`batch_norm_relu_backward`
        takes.

    Raises:
        TypeError / ValueError as :func:`batch_norm`; ValueError for input not 4-D or H, W < 2 with max_pool.
        NotImplementedError for CuPy arrays (no CUDA kernel yet).
    """
    op = "batch_norm_relu"
    N, C, H, W, training, max_pool = batch_norm_relu_args(op, input, running_mean, running_var, weight, bias,
                                                          training, momentum, eps, max_pool)
    k, xp = backend(op, input=input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    _require_fused_kernel(op, k)
    pool = 2 if max_pool else 1
    out = empty(xp, (N, C, H // pool, W // pool), input.dtype)
    window_index = xp.empty(out.shape, dtype=np.uint8) if max_pool else None
    save_mean = empty(xp, (C,), input.dtype) if training else None
    save_invstd = empty(xp, (C,), input.dtype) if training else None
    k.batch_norm_relu_forward(out, window_index, save_mean, save_invstd, running_mean, running_var, input, weight,
                              bias, training, float(momentum), float(eps), pool)
    if not training:
        return out
    return out, save_mean, save_invstd, window_index


def batch_norm_relu_backward(grad_output, output, input, weight, bias, save_mean, save_invstd, window_index=None):
    """Gradients of training-mode :func:`batch_norm_relu`: one sweep over the output, one over the input.

    dz = grad_output where output > 0 (the ReLU's mask, read from the forward's result), routed to each
    2x2 window's winner when the forward pooled (zero at the other taps); then batch norm's backward of dz
    (Ioffe & Szegedy 2015, by the chain rule; M = N*H*W values per channel):
    dx = weight * invstd / M * (M*dz - sum(dz) - xhat * sum(dz*xhat)).

    The sums need xhat only where output > 0, and there output = weight*xhat + bias, so they are read from
    the output (a quarter of the input's size with the pool) rather than the input. A channel whose
    ``|bias| > 16 * |weight|`` (or weight 0) reads the input instead: output - bias would lose too many
    digits of xhat there. So ``output``, ``weight`` and ``bias`` must be exactly the forward's.

    Args:
        grad_output, output: like the forward's output (float32/float64).
        input: the forward's (N, C, H, W) input. weight, bias: the forward's (C,) gamma and beta, or None.
        save_mean, save_invstd: (C,) from the training forward.
        window_index: the forward's uint8 window_index when it pooled, else None.

    Returns:
        (dinput, dweight, dbias): dinput (N, C, H, W); dweight = sum(dz * xhat) (C,), None when weight is
        None; dbias = sum(dz) (C,).

    Raises:
        TypeError (dtypes) / ValueError (shapes, window_index values outside 0..3); NotImplementedError for
        CuPy arrays.
    """
    op = "batch_norm_relu_backward"
    _, C, _, _ = batch_norm_relu_backward_args(op, grad_output, output, input, weight, bias, save_mean,
                                               save_invstd, window_index)
    k, xp = backend(op, grad_output=grad_output, output=output, input=input, weight=weight, bias=bias,
                    save_mean=save_mean, save_invstd=save_invstd)
    _require_fused_kernel(op, k)
    dinput = empty(xp, input.shape, input.dtype)
    dweight = empty(xp, (C,), input.dtype)
    dbias = empty(xp, (C,), input.dtype)
    k.batch_norm_relu_backward(dinput, dweight, dbias, grad_output, output, window_index, input, weight, bias,
                               save_mean, save_invstd, 2 if window_index is not None else 1)
    return dinput, (None if weight is None else dweight), dbias
