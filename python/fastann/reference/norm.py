"""fastann.reference: the norm family in plain NumPy float64.

Batch normalization (Ioffe & Szegedy, "Batch Normalization", ICML 2015) with PyTorch's conventions
(``torch.nn.functional.batch_norm``), for input (N, C) or (N, C, H, W); statistics per channel C over the
M = N*H*W values::

    training:  mean = sum(x)/M,  var = sum((x - mean)^2)/M,  invstd = 1/sqrt(var + eps)
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

import numbers

import numpy as np

from .._checks import array, same_device, same_dtype
from .pool import flag

__all__ = ["batch_norm", "batch_norm_backward", "batch_norm_relu", "batch_norm_relu_backward"]


def _channel_array(op: str, name: str, a, C: int, writeable: bool = False):
    if a is None:
        return None
    array(op, name, a, ndim=1, layout="(C,)")
    if a.shape[0] != C:
        raise ValueError(f"{op}: {name} must have shape ({C},) to match the input's C={C}, got {tuple(a.shape)}")
    if writeable and not getattr(a.flags, "writeable", True):
        raise ValueError(f"{op}: {name} is read-only but training updates it in place")
    return a


def batch_norm_args(op, input, running_mean, running_var, weight, bias, training, momentum, eps):
    """Validate batch_norm's arguments (shared by fastann.ops and this reference); returns (N, C, HW)."""
    array(op, "input", input, ndim=(2, 4), layout="(N,C) or (N,C,H,W)")
    training = flag(op, "training", training)
    N, C = input.shape[:2]
    HW = int(np.prod(input.shape[2:])) if input.ndim == 4 else 1
    _channel_array(op, "running_mean", running_mean, C, writeable=training)
    _channel_array(op, "running_var", running_var, C, writeable=training)
    _channel_array(op, "weight", weight, C)
    _channel_array(op, "bias", bias, C)
    same_dtype(op, input=input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    same_device(op, input=input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    if not training and (running_mean is None or running_var is None):
        raise ValueError(f"{op}: inference mode (training=False) needs running_mean and running_var")
    if training and N * HW < 2:
        raise ValueError(f"{op}: training needs more than one value per channel, got input shape "
                         f"{tuple(input.shape)}")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= float(momentum) <= 1.0:
        raise ValueError(f"{op}: momentum must be a number in [0, 1], got {momentum!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not (0.0 < float(eps) < np.inf):
        raise ValueError(f"{op}: eps must be a positive number, got {eps!r}")
    return N, C, HW, training


def _per_channel(v, ndim):
    """(C,) -> broadcastable against (N, C) or (N, C, H, W)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


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
    if flag(op, "return_stats", return_stats) and not training:
        raise ValueError(f"{op}: return_stats=True needs training=True (inference has no batch statistics)")
    x = np.asarray(input, dtype=np.float64)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    if training:
        mean = x.mean(axis=axes)
        var = ((x - _per_channel(mean, x.ndim)) ** 2).mean(axis=axes)
        M = N * HW
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        if running_var is not None:
            running_var[...] = (1 - momentum) * running_var + momentum * var * M / (M - 1)
    else:
        mean = np.asarray(running_mean, dtype=np.float64)
        var = np.asarray(running_var, dtype=np.float64)
    invstd = 1.0 / np.sqrt(var + eps)
    y = (x - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    if weight is not None:
        y = y * _per_channel(np.asarray(weight, dtype=np.float64), x.ndim)
    if bias is not None:
        y = y + _per_channel(np.asarray(bias, dtype=np.float64), x.ndim)
    if return_stats:
        return y, mean, invstd
    return y


def batch_norm_backward_args(op, grad_output, input, weight, save_mean, save_invstd):
    """Validate batch_norm_backward's arguments (shared with fastann.ops); returns (N, C, HW)."""
    array(op, "input", input, ndim=(2, 4), layout="(N,C) or (N,C,H,W)")
    array(op, "grad_output", grad_output, ndim=(2, 4), layout="(N,C) or (N,C,H,W)")
    if grad_output.shape != input.shape:
        raise ValueError(f"{op}: grad_output {tuple(grad_output.shape)} and input {tuple(input.shape)} "
                         "must have the same shape")
    C = input.shape[1]
    _channel_array(op, "weight", weight, C)
    if save_mean is None or save_invstd is None:
        raise ValueError(f"{op}: save_mean and save_invstd (from batch_norm(..., training=True, "
                         "return_stats=True)) are required")
    _channel_array(op, "save_mean", save_mean, C)
    _channel_array(op, "save_invstd", save_invstd, C)
    same_dtype(op, grad_output=grad_output, input=input, weight=weight, save_mean=save_mean,
               save_invstd=save_invstd)
    same_device(op, grad_output=grad_output, input=input, weight=weight, save_mean=save_mean,
                save_invstd=save_invstd)
    HW = int(np.prod(input.shape[2:])) if input.ndim == 4 else 1
    return input.shape[0], C, HW


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


def batch_norm_relu_args(op, input, running_mean, running_var, weight, bias, training, momentum, eps, max_pool):
    """Validate batch_norm_relu's arguments (shared with fastann.ops); returns (N, C, H, W, training, max_pool)."""
    array(op, "input", input, ndim=4, layout="(N,C,H,W)")
    max_pool = flag(op, "max_pool", max_pool)
    N, C, _, training = batch_norm_args(op, input, running_mean, running_var, weight, bias, training, momentum, eps)
    H, W = input.shape[2:]
    if max_pool and (H < 2 or W < 2):
        raise ValueError(f"{op}: a 2x2 max pool needs H, W >= 2, got input shape {tuple(input.shape)}")
    return N, C, H, W, training, max_pool


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
    :func:`batch_norm_backward` of dz. The reference reads xhat from the input, so it only checks bias's
    shape (fastann's kernel reads it from output - bias).
    Raises ValueError for mismatched shapes or window_index values outside 0..3.
    """
    op = "batch_norm_relu_backward"
    array(op, "input", input, ndim=4, layout="(N,C,H,W)")
    if bias is not None and np.shape(bias) != (np.shape(input)[1],):
        raise ValueError(f"{op}: bias must have shape ({np.shape(input)[1]},), got {np.shape(bias)}")
    array(op, "grad_output", grad_output, ndim=4, layout="(N,C,OH,OW)")
    array(op, "output", output, ndim=4, layout="(N,C,OH,OW)")
    N, C, H, W = input.shape
    pooled = window_index is not None
    want = (N, C, H // 2, W // 2) if pooled else (N, C, H, W)
    for name, a in (("grad_output", grad_output), ("output", output)):
        if tuple(a.shape) != want:
            raise ValueError(f"{op}: {name} must have shape {want} for input {tuple(input.shape)}"
                             f"{' with window_index' if pooled else ''}, got {tuple(a.shape)}")
    dz = np.where(np.asarray(output) > 0, np.asarray(grad_output, dtype=np.float64), 0.0)
    if pooled:
        wi = np.asarray(window_index)
        if wi.shape != want or wi.dtype != np.uint8:
            raise ValueError(f"{op}: window_index must be uint8 of shape {want}, got {wi.dtype} {wi.shape}")
        if wi.size and wi.max() > 3:
            raise ValueError(f"{op}: window_index values must be 0..3 (2*row + column), found {int(wi.max())}")
        full = np.zeros((N, C, H, W))
        for t in range(4):
            r, c = divmod(t, 2)
            full[:, :, r:2 * (H // 2):2, c:2 * (W // 2):2] += np.where(wi == t, dz, 0.0)
        dz = full
    f64 = (lambda a: None if a is None else np.asarray(a, dtype=np.float64))  # noqa: E731
    return batch_norm_backward(dz, f64(input), f64(weight), f64(save_mean), f64(save_invstd))
