"""fastann.ops, internal: fused epilogues the models run in place of separate layers (``models/_fusion.py``).

Not part of the ``torch.nn.functional`` face (``fastann.ops`` does not export them): each computes exactly
what a chain of public ops computes, in fewer sweeps over memory, and exists so a model can run that chain
as one kernel call.
"""
from __future__ import annotations

import numpy as np

from .._args.common import array
from ._common import backend, empty

__all__ = ["relu_max_pool2d", "relu_max_pool2d_backward"]


def _require_cpu(op, k):
    if not hasattr(k, "relu_max_pool2_forward"):
        raise NotImplementedError(f"{op}: the fused kernel has no CUDA version; call relu and max_pool2d "
                                  "separately on GPU arrays")


def _image(op, name, x):
    array(op, name, x, ndim=4, layout="(N, C, H, W)", contiguous=False)


def relu_max_pool2d(input):
    """``max_pool2d(relu(input), 2)`` in one sweep, with a byte per output naming its window's winner.

    The Conv-ReLU-MaxPool block's tail after the convolution (whose store already added the bias): the same
    loops as :func:`fastann.ops.batch_norm_relu` with the identity normalization, so the values are exactly
    those of ``max_pool2d(relu(input), 2)`` (the pool runs before the ReLU: the same maximum; a tap wins when
    greater or NaN, as :func:`fastann.ops.max_pool2d`), and no full-size ReLU output or int64 indices are
    written.

    Args:
        input: (N, C, H, W) float32 or float64, C-contiguous, H, W >= 2.

    Returns:
        ``(output, window_index)``: output (N, C, H//2, W//2), input's dtype (floor mode: an odd last row or
        column is in no window); window_index uint8, like output, 2*row + column of each window's winner.

    Raises:
        TypeError (not an array, dtype) / ValueError (ndim, H or W < 2); NotImplementedError for CuPy arrays.
    """
    op = "relu_max_pool2d"
    _image(op, "input", input)
    k, xp = backend(op, input=input)
    _require_cpu(op, k)
    N, C, H, W = input.shape
    if H < 2 or W < 2:
        raise ValueError(f"{op}: a 2x2 max pool needs H, W >= 2, got input shape {tuple(input.shape)}")
    out = empty(xp, (N, C, H // 2, W // 2), input.dtype)
    window_index = xp.empty(out.shape, dtype=np.uint8)
    k.relu_max_pool2_forward(out, window_index, xp.ascontiguousarray(input))
    return out, window_index


def relu_max_pool2d_backward(grad_output, output, window_index, input_shape):
    """Gradient of :func:`relu_max_pool2d`: ``relu_backward(max_pool2d_backward(grad_output, ...), input)``
    in one sweep, reading the pooled output instead of the input. At each window's winner dinput is
    ``(0 + grad_output) * relu'`` with relu' read from the output (1 where > 0, NaN where NaN, 0 where 0;
    a window whose output is 0 pooled four zeros after the ReLU, so its winner is the first tap, as
    max_pool2d's); zero at the other taps and at an odd last row or column. So the bits are the separate
    ops', except one case: a NaN input that is not its window's winner (or lies in no window) gets 0 where
    relu_backward gives NaN (that window's output is NaN already).

    Args:
        grad_output, output: (N, C, H//2, W//2) float32 or float64 (output: the forward's).
        window_index: the forward's uint8 window_index. input_shape: the forward's (N, C, H, W).

    Returns:
        dinput, (N, C, H, W), grad_output's dtype.

    Raises:
        TypeError / ValueError for mismatched arrays (also from the kernel: shapes, window_index outside
        0..3); NotImplementedError for CuPy arrays.
    """
    op = "relu_max_pool2d_backward"
    _image(op, "grad_output", grad_output)
    k, xp = backend(op, grad_output=grad_output, output=output, window_index=window_index)
    _require_cpu(op, k)
    dinput = empty(xp, tuple(int(s) for s in input_shape), grad_output.dtype)
    k.relu_max_pool2_backward(dinput, xp.ascontiguousarray(grad_output), output, window_index)
    return dinput
