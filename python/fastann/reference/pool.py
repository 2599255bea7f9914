"""fastann.reference: the pool family in plain NumPy float64.

2-D max / average / global-average pooling on NCHW arrays, forward and backward, with PyTorch's semantics
(``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` / ``adaptive_avg_pool2d(x, 1)``). Every function takes
float32 or float64 input and computes and returns float64 (indices: int64).

Output size of a pooled dimension of size ``I`` (PyTorch, ``aten/src/ATen/native/Pool.h``)::

    O = floor_or_ceil((I + 2*P - D*(K-1) - 1) / S) + 1
    ceil_mode: O -= 1 if (O-1)*S >= I + P      (the last window must start inside the input or left padding)

with padding ``P <= K // 2`` and ``O >= 1`` required.
"""
from __future__ import annotations

import numpy as np

from .._args.pool import (Pool2dGeometry, avg_pool2d_backward_args, first_tap_inside, flag, forward_args,
                         global_avg_pool2d_backward_args, global_forward_args, max_pool2d_backward_args)

__all__ = [
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "global_avg_pool2d",
    "global_avg_pool2d_backward",
]


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _tap_range(start: np.ndarray, K: int, D: int, I: int) -> range:
    """Taps that land inside [0, I) for at least one window (others only see padding): at most about
    (I + span of the starts) / D of them, however large K is."""
    lo = max(0, _ceil_div(-int(start.max()), D))
    hi = min(K, _ceil_div(I - int(start.min()), D))
    return range(lo, max(lo, hi))


def _taps(g: Pool2dGeometry):
    """Yield (ih, iw, valid) for every tap that touches the input: ih (OH,), iw (OW,) input coordinates of
    that tap in every window (clipped into range), valid (OH, OW) where they are real input positions."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = g.kernel_size, g.stride, g.padding, g.dilation
    h0 = np.arange(g.OH) * sh - ph
    w0 = np.arange(g.OW) * sw - pw
    for i in _tap_range(h0, kh, dh, g.H):
        ih = h0 + i * dh
        vh = (ih >= 0) & (ih < g.H)
        for j in _tap_range(w0, kw, dw, g.W):
            iw = w0 + j * dw
            vw = (iw >= 0) & (iw < g.W)
            yield np.clip(ih, 0, g.H - 1), np.clip(iw, 0, g.W - 1), vh[:, None] & vw[None, :]


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """2-D max pooling; returns ``(output, indices)``.

    input (N, C, H, W) float32/float64 -> output (N, C, OH, OW) float64 and indices (N, C, OH, OW) int64,
    the flat offset ``ih * W + iw`` of each window's maximum in its (H, W) plane (PyTorch's
    ``return_indices=True``). Padding counts as -inf. Within a window the taps are visited in row-major
    order and a tap replaces the running maximum when it is greater or NaN (PyTorch's CPU rule: a NaN wins,
    ties keep the first). Raises TypeError (dtype) / ValueError (ndim, empty, bad window arguments).
    """
    op = "max_pool2d"
    g = forward_args(op, input, kernel_size, stride, padding, dilation, ceil_mode)
    x = np.asarray(input, dtype=np.float64)
    (sh, sw), (ph, pw), (dh, dw) = g.stride, g.padding, g.dilation
    h0 = np.arange(g.OH) * sh - ph  # window starts (input coordinates)
    w0 = np.arange(g.OW) * sw - pw
    # Before any tap is taken the index is the window's first tap inside the input (PyTorch's start value).
    first_h = h0 + first_tap_inside(h0, dh) * dh
    first_w = w0 + first_tap_inside(w0, dw) * dw
    best = np.full((g.N, g.C, g.OH, g.OW), -np.inf)
    index = np.broadcast_to(first_h[:, None] * g.W + first_w[None, :], best.shape).copy()
    for ih, iw, valid in _taps(g):  # row-major tap order
        v = np.where(valid, x[:, :, ih[:, None], iw[None, :]], -np.inf)  # padding is -inf: never taken
        take = (v > best) | np.isnan(v)
        best = np.where(take, v, best)
        index = np.where(take, ih[:, None] * g.W + iw[None, :], index)
    return best, index.astype(np.int64)


def max_pool2d_backward(grad_output, indices, input_shape):
    """Backward of :func:`max_pool2d`: each output's gradient goes to the input element its index names
    (summed where windows overlap). grad_output, indices (N, C, OH, OW) -> dinput ``input_shape`` float64.
    Raises ValueError for an index outside [0, H*W)."""
    op = "max_pool2d_backward"
    N, C, H, W = max_pool2d_backward_args(op, grad_output, indices, input_shape)
    idx = np.asarray(indices).reshape(N * C, -1)
    if idx.size and (idx.min() < 0 or idx.max() >= H * W):
        raise ValueError(f"{op}: indices must lie in [0, H*W) = [0, {H * W})")
    dx = np.zeros((N * C, H * W))
    rows = np.repeat(np.arange(N * C), idx.shape[1])
    np.add.at(dx, (rows, idx.reshape(-1)), np.asarray(grad_output, dtype=np.float64).reshape(-1))
    return dx.reshape(N, C, H, W)


def _avg_divisor(g: Pool2dGeometry, count_include_pad: bool) -> np.ndarray:
    """(OH, OW) divisors, PyTorch's CPU rule: the window clipped to the padded input (count_include_pad)
    or to the real input."""
    counts = []
    for O, S, P, K, I in ((g.OH, g.stride[0], g.padding[0], g.kernel_size[0], g.H),
                          (g.OW, g.stride[1], g.padding[1], g.kernel_size[1], g.W)):
        start = np.arange(O) * S - P
        end = np.minimum(start + K, I + P)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(np.minimum(end, I) - np.maximum(start, 0))
    return (counts[0][:, None] * counts[1][None, :]).astype(np.float64)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """2-D average pooling. input (N, C, H, W) -> (N, C, OH, OW) float64.

    Each window's sum of real input elements (padding is zero) divided by: the window size clipped to the
    padded input when ``count_include_pad`` (so a ceil_mode window running past the padding counts only
    up to it, as PyTorch), else the number of real input elements in the window.
    Raises TypeError / ValueError as :func:`max_pool2d`.
    """
    op = "avg_pool2d"
    g = forward_args(op, input, kernel_size, stride, padding, 1, ceil_mode)
    cip = flag(op, "count_include_pad", count_include_pad)
    x = np.asarray(input, dtype=np.float64)
    total = np.zeros((g.N, g.C, g.OH, g.OW))
    for ih, iw, valid in _taps(g):  # padding is zero: only real input elements add
        total += np.where(valid, x[:, :, ih[:, None], iw[None, :]], 0.0)
    return total / _avg_divisor(g, cip)


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Backward of :func:`avg_pool2d`: each output's gradient divided by its divisor and added to every real
    input element of its window. grad_output (N, C, OH, OW) -> dinput ``input_shape`` float64."""
    op = "avg_pool2d_backward"
    shape, g, cip = avg_pool2d_backward_args(op, grad_output, input_shape, kernel_size, stride, padding,
                                             ceil_mode, count_include_pad)
    share = np.asarray(grad_output, dtype=np.float64) / _avg_divisor(g, cip)
    dx = np.zeros(shape)
    for ih, iw, valid in _taps(g):
        # add.at: clipped positions of padding taps repeat; their (zero) shares must still all be added
        np.add.at(dx, (slice(None), slice(None), ih[:, None], iw[None, :]), np.where(valid, share, 0.0))
    return dx


def global_avg_pool2d(input):
    """Mean over each (H, W) plane: input (N, C, H, W) -> (N, C) float64."""
    global_forward_args("global_avg_pool2d", input)
    return np.asarray(input, dtype=np.float64).mean(axis=(2, 3))


def global_avg_pool2d_backward(grad_output, input_shape):
    """Backward of :func:`global_avg_pool2d`: grad_output (N, C) -> dinput ``input_shape`` = g / (H*W)."""
    op = "global_avg_pool2d_backward"
    N, C, H, W = global_avg_pool2d_backward_args(op, grad_output, input_shape)
    g = np.asarray(grad_output, dtype=np.float64) / (H * W)
    return np.broadcast_to(g[:, :, None, None], (N, C, H, W)).copy()
