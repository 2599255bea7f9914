"""fastann.ops: the pool family (2-D max / average / global-average pooling, NCHW).

Semantics are PyTorch's (``torch.nn.functional.max_pool2d(..., return_indices=True)``, ``avg_pool2d``,
``adaptive_avg_pool2d(x, 1)`` flattened); :mod:`fastann.reference.pool` is the executable spec and
docs/pooling.md explains the kernels. float32 and float64; every output has the input's dtype, indices
are int64.
"""
from __future__ import annotations

import numpy as np

from .._args.pool import (avg_pool2d_backward_args, flag, forward_args, global_avg_pool2d_backward_args,
                          global_forward_args, max_pool2d_backward_args)
from . import _common
from ._common import backend, empty

__all__ = [
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "global_avg_pool2d",
    "global_avg_pool2d_backward",
]

#: max_pool2d rungs (docs/pooling.md): 1 direct loops over any window, 2 the 2x2/stride-2 window with its
#: four taps at fixed offsets, 3 (CUDA only) rung 2 with two adjacent outputs per thread and 128-bit loads.
#: On the CPU a rung runs on the best instruction set the CPU has (``build_info()["simd"]``). None picks the
#: fastest that applies.
MAX_POOL2D_RUNGS = (1, 2, 3)
MAX_POOL2D_RUNGS_CPU = (1, 2)


def _indices_out(xp, shape):
    # The int64 indices cannot hold NaN: under the tests' poisoning they start at -1 instead.
    if _common.POISON:
        return xp.full(shape, -1, dtype=np.int64)
    return xp.empty(shape, dtype=np.int64)


def _g(g):
    """The geometry as the compiled functions take it: (h, w) pairs."""
    return g.kernel_size, g.stride, g.padding, g.dilation, g.ceil_mode


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, rung=None):
    """2-D max pooling with argmax indices.

    Args:
        input: (N, C, H, W) float32 or float64, C-contiguous.
        kernel_size, stride, padding, dilation: int or (h, w) pair; stride defaults to kernel_size;
            padding (counted as -inf) at most kernel_size // 2.
        ceil_mode: round the output size up (the last window must still start inside the input or the
            left padding), as PyTorch.
        rung: ladder rung, None (fastest that applies), 1 direct, 2 2x2/stride-2, 3 (CUDA arrays only)
            2x2/stride-2 with two outputs per thread.

    Returns:
        (output, indices): output (N, C, OH, OW) in the input's dtype; indices (N, C, OH, OW) int64, the
        flat offset ``ih * W + iw`` of each maximum within its (H, W) plane (what ``max_pool2d_backward``
        needs). A NaN in a window wins (the last NaN's index); ties keep the first tap in row-major order.

    Raises:
        TypeError: input not a float32/float64 array; ceil_mode not a bool.
        ValueError: not 4-D, empty, non-contiguous; non-positive kernel_size/stride/dilation; negative
            padding or padding > kernel_size // 2; output size < 1; a window entirely in the padding;
            an unknown ``rung``, rung 3 with NumPy arrays, or a 2x2 rung for another geometry.

    Math: OH = floor_or_ceil((H + 2P - D(K-1) - 1) / S) + 1 (PyTorch, aten/src/ATen/native/Pool.h).
    """
    op = "max_pool2d"
    g = forward_args(op, input, kernel_size, stride, padding, dilation, ceil_mode)
    if rung is not None and (isinstance(rung, bool) or rung not in MAX_POOL2D_RUNGS):
        raise ValueError(f"{op}: rung must be None or one of {MAX_POOL2D_RUNGS}, got {rung!r}")
    k, xp = backend(op, input=input)
    if rung is not None and xp is np and rung not in MAX_POOL2D_RUNGS_CPU:
        raise ValueError(f"{op}: rung {rung} runs on CUDA only; the CPU backend has rungs "
                         f"{MAX_POOL2D_RUNGS_CPU}")
    shape = (g.N, g.C, g.OH, g.OW)
    out = empty(xp, shape, input.dtype)
    indices = _indices_out(xp, shape)
    k.max_pool2d_forward(out, indices, input, *_g(g), 0 if rung is None else int(rung))
    return out, indices


def max_pool2d_backward(grad_output, indices, input_shape):
    """Gradient of :func:`max_pool2d` with respect to its input.

    grad_output (N, C, OH, OW) float32/float64 and indices (N, C, OH, OW) int64 (from the forward) ->
    dinput ``input_shape`` = (N, C, H, W), zero except at the indexed maxima, where the gradients of the
    windows that chose them add up. Raises TypeError (dtypes), ValueError (shapes disagree, an index
    outside [0, H*W)).
    """
    op = "max_pool2d_backward"
    shape = max_pool2d_backward_args(op, grad_output, indices, input_shape)
    k, xp = backend(op, grad_output=grad_output, indices=indices)
    dinput = empty(xp, shape, grad_output.dtype)
    k.max_pool2d_backward(dinput, grad_output, indices)
    return dinput


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """2-D average pooling.

    input (N, C, H, W) float32/float64 -> (N, C, OH, OW), same dtype. Window arguments and output size as
    :func:`max_pool2d` (no dilation); padding counts as zero. Divisor exactly as PyTorch's CPU kernel: with
    ``count_include_pad`` the window clipped to the padded input (a ceil_mode window running past the
    padding counts only up to it), else the number of real input elements in the window.
    Raises TypeError / ValueError as :func:`max_pool2d` (count_include_pad not a bool: TypeError).
    """
    op = "avg_pool2d"
    g = forward_args(op, input, kernel_size, stride, padding, 1, ceil_mode)
    cip = flag(op, "count_include_pad", count_include_pad)
    k, xp = backend(op, input=input)
    out = empty(xp, (g.N, g.C, g.OH, g.OW), input.dtype)
    k.avg_pool2d_forward(out, input, g.kernel_size, g.stride, g.padding, g.ceil_mode, cip)
    return out


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Gradient of :func:`avg_pool2d` with respect to its input.

    grad_output (N, C, OH, OW) float32/float64 -> dinput ``input_shape`` (N, C, H, W): each output's
    gradient divided by its window's divisor and added to every real input element of the window.
    The window arguments must be those of the forward; grad_output's shape is checked against them.
    """
    op = "avg_pool2d_backward"
    shape, g, cip = avg_pool2d_backward_args(op, grad_output, input_shape, kernel_size, stride, padding,
                                             ceil_mode, count_include_pad)
    k, xp = backend(op, grad_output=grad_output)
    dinput = empty(xp, shape, grad_output.dtype)
    k.avg_pool2d_backward(dinput, grad_output, g.kernel_size, g.stride, g.padding, g.ceil_mode, cip)
    return dinput


def global_avg_pool2d(input):
    """Mean of each (H, W) plane: input (N, C, H, W) float32/float64 -> (N, C), same dtype (summed in
    double). Raises TypeError (dtype), ValueError (not 4-D, empty, non-contiguous)."""
    op = "global_avg_pool2d"
    global_forward_args(op, input)
    k, xp = backend(op, input=input)
    out = empty(xp, tuple(input.shape[:2]), input.dtype)
    k.global_avg_pool2d_forward(out, input)
    return out


def global_avg_pool2d_backward(grad_output, input_shape):
    """Gradient of :func:`global_avg_pool2d`: grad_output (N, C) -> dinput ``input_shape`` (N, C, H, W)
    filled with grad_output / (H*W). Raises TypeError (dtype), ValueError (shapes disagree)."""
    op = "global_avg_pool2d_backward"
    shape = global_avg_pool2d_backward_args(op, grad_output, input_shape)
    k, xp = backend(op, grad_output=grad_output)
    dinput = empty(xp, shape, grad_output.dtype)
    k.global_avg_pool2d_backward(dinput, grad_output)
    return dinput
