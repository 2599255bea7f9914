"""fastann.reference: the norm family in plain NumPy float64.

Batch normalization (Ioffe & Szegedy, "Batch Normalization", ICML 2015) with PyTorch's conventions
(``torch.nn.functional.batch_norm``), for input (N, C) or (N, C, H, W); statistics per channel C over the
M = N*H*W values::

    training:  mean = sum(x)/M,  var = sum((x - mean)^2)/M,  invstd = 1/sqrt(var + eps)
               (where the squares overflow, float64 values spread past ~1e154, sqrt(var + eps) is computed
               from the deviations scaled by 2^-600: invstd stays finite, var itself is +inf; PyTorch's
               variance is +inf there and its output 0)
               y = (x - mean) * invstd * weight + bias
               running_mean <- (1 - momentum) * running_mean + momentum * mean
               running_var  <- (1 - momentum) * running_var  + momentum * var * M/(M-1)   (unbiased)
    inference: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias
    backward (training), xhat = (x - mean) * invstd:
               dbias = sum(dy),  dweight = sum(dy * xhat)
               dx = weight * invstd / M * (M*dy - sum(dy) - xhat * sum(dy * xhat))

The fused ``batch_norm_relu`` is the composition relu(batch_norm(x)), optionally followed by a 2x2/stride-2
max pool, written here as exactly that composition of the references.
"""
from __future__ import annotations

import numpy as np

from .._args.norm import (batch_norm_args, batch_norm_backward_args, batch_norm_relu_args,
                          batch_norm_relu_backward_args, return_stats_arg)

__all__ = ["batch_norm", "batch_norm_backward", "batch_norm_relu", "batch_norm_relu_backward"]


def _per_channel(v, ndim):
    """(C,) -> broadcastable against (N, C) or (N, C, H, W)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _scaled_sd(x, mean, axes, eps, over, sd, var):
    """sqrt(var + eps) and var for the channels ``over`` whose squared deviations overflow: computed from
    the deviations scaled by 2^-600 (exact, a power of two), so sd and 1/sd are finite where var (+inf past
    1.8e308) is not. Returns (sd, var) with those channels replaced."""
    down = 2.0**-600
    with np.errstate(over="ignore"):
        v = (((x - _per_channel(mean, x.ndim)) * down) ** 2).mean(axis=axes)
        return (np.where(over, np.sqrt(v + eps * down * down) / down, sd),
                np.where(over, v / down / down, var))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, return_stats=False):
    """Batch normalization (see the module docstring for the math), float64 result.

    input (N, C) or (N, C, H, W); running_mean, running_var, weight, bias (C,) or None. In training mode the
    running statistics (if given) are updated IN PLACE. With ``return_stats`` (training only) returns
    ``(output, save_mean, save_invstd)`` as :func:`batch_norm_backward` takes them.
    Raises TypeError (dtype), ValueError (shapes, N*H*W == 1 in training, momentum/eps out of range,
    return_stats outside training).
    """
    op = "batch_norm"
    N, C, HW, training = batch_norm_args(op, input, running_mean, running_var, weight, bias, training,
                                         momentum, eps)
    return_stats = return_stats_arg(op, return_stats, training)
    x = np.asarray(input, dtype=np.float64)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    if training:
        mean = x.mean(axis=axes)
        with np.errstate(over="ignore"):
            var = ((x - _per_channel(mean, x.ndim)) ** 2).mean(axis=axes)
        sd = np.sqrt(var + eps)
        over = np.isinf(var)
        if over.any():  # float64 values spread past ~1e154: the squares overflow
            sd, var = _scaled_sd(x, mean, axes, eps, over, sd, var)
        M = N * HW
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        if running_var is not None:
            running_var[...] = (1 - momentum) * running_var + momentum * var * M / (M - 1)
    else:
        mean = np.asarray(running_mean, dtype=np.float64)
        var = np.asarray(running_var, dtype=np.float64)
        sd = np.sqrt(var + eps)
    invstd = 1.0 / sd
    y = (x - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    if weight is not None:
        y = y * _per_channel(np.asarray(weight, dtype=np.float64), x.ndim)
    if bias is not None:
        y = y + _per_channel(np.asarray(bias, dtype=np.float64), x.ndim)
    if return_stats:
        return y, mean, invstd
    return y


def batch_norm_backward(grad_output, input, weight, save_mean, save_invstd):
    """Backward of training-mode :func:`batch_norm`; returns ``(dinput, dweight, dbias)`` in float64.

    grad_output, input (N, C[, H, W]); weight (C,) or None (then gamma = 1 and dweight is None);
    save_mean, save_invstd (C,) from the forward's ``return_stats``. dbias = sum(dy) is always returned
    (it is the gradient of a bias whether or not the forward had one). Formulas in the module docstring.
    """
    op = "batch_norm_backward"
    N, C, HW = batch_norm_backward_args(op, grad_output, input, weight, save_mean, save_invstd)
    x = np.asarray(input, dtype=np.float64)
    dy = np.asarray(grad_output, dtype=np.float64)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    M = N * HW
    invstd = np.asarray(save_invstd, dtype=np.float64)
    xhat = (x - _per_channel(np.asarray(save_mean, dtype=np.float64), x.ndim)) * _per_channel(invstd, x.ndim)
    dbias = dy.sum(axis=axes)
    dweight = (dy * xhat).sum(axis=axes)
    gamma = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    k = _per_channel(gamma * invstd / M, x.ndim)
    dx = k * (M * dy - _per_channel(dbias, x.ndim) - xhat * _per_channel(dweight, x.ndim))
    return dx, (None if weight is None else dweight), dbias


def batch_norm_relu(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                    eps=1e-5, max_pool=False):
    """relu(batch_norm(input)), then with ``max_pool`` a 2x2 / stride-2 max pool (floor mode), in float64.

    input (N, C, H, W); the other arguments as :func:`batch_norm` (running statistics updated in place in
    training). Returns the output (N, C, H, W), or (N, C, H//2, W//2) with ``max_pool``; in training a tuple
    ``(output, save_mean, save_invstd, window_index)``, window_index (N, C, H//2, W//2) uint8 = 2*row + column
    of each window's winner inside the window (None without ``max_pool``). The pool runs on the normalized
    values z before the ReLU (relu(max z) = max relu(z)), with :func:`max_pool2d`'s rule: row-major taps, a
    tap wins when greater or NaN. The ReLU keeps NaN.
    Raises TypeError / ValueError as :func:`batch_norm`, and ValueError for non-4-D input or H, W < 2 with
    ``max_pool``.
    """
    from .pool import max_pool2d  # noqa: PLC0415

    op = "batch_norm_relu"
    N, C, H, W, training, max_pool = batch_norm_relu_args(op, input, running_mean, running_var, weight, bias,
                                                          training, momentum, eps, max_pool)
    res = batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps,
                     return_stats=training)
    z, stats = (res[0], res[1:]) if training else (res, None)
    window_index = None
    if max_pool:
        z, flat = max_pool2d(z, 2)
        OH, OW = z.shape[2:]
        row = flat // W - 2 * np.arange(OH)[:, None]
        col = flat % W - 2 * np.arange(OW)[None, :]
        window_index = (2 * row + col).astype(np.uint8)
    y = np.where((z > 0) | np.isnan(z), z, 0.0)
    if not training:
        return y
    return y, stats[0], stats[1], window_index


def batch_norm_relu_backward(grad_output, output, input, weight, bias, save_mean, save_invstd, window_index=None):
    """Backward of training-mode :func:`batch_norm_relu`; returns ``(dinput, dweight, dbias)`` in float64.

    grad_output, output (the forward's result) like the output; input (N, C, H, W); weight, bias (C,) or
    None; window_index from the forward when it pooled, else None. dz = grad_output where output > 0 (the
    ReLU mask), routed to each window's winner (zero elsewhere) when pooled; then
    :func:`batch_norm_backward` of dz. The reference reads xhat from the input (fastann's kernel reads it
    from output - bias), so bias only takes part in the argument checks here.
    Raises ValueError for mismatched shapes or window_index values outside 0..3.
    """
    op = "batch_norm_relu_backward"
    N, C, H, W = batch_norm_relu_backward_args(op, grad_output, output, input, weight, bias, save_mean, save_invstd,
                                               window_index)
    pooled = window_index is not None
    dz = np.where(np.asarray(output) > 0, np.asarray(grad_output, dtype=np.float64), 0.0)
    if pooled:
        wi = np.asarray(window_index)
        if wi.size and wi.max() > 3:
            raise ValueError(f"{op}: window_index values must be 0..3 (2*row + column), found {int(wi.max())}")
        full = np.zeros((N, C, H, W))
        for t in range(4):
            r, c = divmod(t, 2)
            full[:, :, r:2 * (H // 2):2, c:2 * (W // 2):2] += np.where(wi == t, dz, 0.0)
        dz = full
    f64 = (lambda a: None if a is None else np.asarray(a, dtype=np.float64))  # noqa: E731
    return batch_norm_backward(dz, f64(input), f64(weight), f64(save_mean), f64(save_invstd))
