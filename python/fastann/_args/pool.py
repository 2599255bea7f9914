"""Argument checks of the pool family (max / average / global-average 2-D pooling), shared by ops and reference.

Output size of a pooled dimension of size ``I`` (PyTorch, ``aten/src/ATen/native/Pool.h``)::

    O = floor_or_ceil((I + 2*P - D*(K-1) - 1) / S) + 1
    ceil_mode: O -= 1 if (O-1)*S >= I + P      (the last window must start inside the input or left padding)

with padding ``P <= K // 2``, ``O >= 1`` and K, S, D <= 2^30 required. Any other int (past int64 included)
is a ValueError naming the argument.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .common import array, flag, nonneg_int, output_size, pair, positive_int, same_device

#: The largest kernel_size, stride and dilation the pooling kernels take (csrc/cpu/pool.cpp).
WINDOW_MAX = 2**30


class Pool2dGeometry(NamedTuple):
    """A validated 2-D pooling call: input (N,C,H,W) -> output (N,C,OH,OW)."""

    N: int
    C: int
    H: int
    W: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    ceil_mode: bool
    OH: int
    OW: int


def pool2d_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """PyTorch's pooled output size of one dimension (may be <= 0; the caller rejects that)."""
    num = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-num // stride) if ceil_mode else num // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def input_shape_arg(op: str, input_shape) -> tuple[int, int, int, int]:
    """A 4-tuple of positive ints (N, C, H, W), as the backward functions take it."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 4:
        raise ValueError(f"{op}: input_shape must be a 4-tuple (N, C, H, W), got {input_shape!r}")
    return tuple(positive_int(op, "input_shape", v) for v in input_shape)  # type: ignore[return-value]


def pool2d_geometry(op: str, input_shape, kernel_size, stride=None, padding=0, dilation=1,
                    ceil_mode=False) -> Pool2dGeometry:
    """Validate the pooling arguments against an (N,C,H,W) shape; ValueError/TypeError naming ``op``."""
    N, C, H, W = input_shape
    kh, kw = pair(op, "kernel_size", kernel_size)
    sh, sw = (kh, kw) if stride is None else pair(op, "stride", stride)
    ph, pw = pair(op, "padding", padding, check=nonneg_int)
    dh, dw = pair(op, "dilation", dilation)
    ceil_mode = flag(op, "ceil_mode", ceil_mode)
    for name, v in (("kernel_size", (kh, kw)), ("stride", (sh, sw)), ("dilation", (dh, dw))):
        if max(v) > WINDOW_MAX:
            raise ValueError(f"{op}: {name} must be at most 2^30 (the kernels' limit), got {v}")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half the kernel_size {(kh, kw)}")
    oh = pool2d_output_size(H, kh, sh, ph, dh, ceil_mode)
    ow = pool2d_output_size(W, kw, sw, pw, dw, ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: output size {(oh, ow)} is too small for input {(H, W)}, kernel_size "
                         f"{(kh, kw)}, stride {(sh, sw)}, padding {(ph, pw)}, dilation {(dh, dw)}")
    for O, S, P, K, D, I in ((oh, sh, ph, kh, dh, H), (ow, sw, pw, kw, dw, W)):
        start = np.arange(O) * S - P
        k_first = first_tap_inside(start, D)  # a window misses the input if its first tap >= 0 is past it
        if np.any((k_first >= K) | (start + k_first * D >= I)):
            raise ValueError(f"{op}: with this padding {(ph, pw)} and dilation {(dh, dw)} a pooling window "
                             f"lies entirely in the padding of input {(H, W)}")
    return Pool2dGeometry(N, C, H, W, (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode, oh, ow)


def max_pool2d_backward_args(op: str, grad_output, indices, input_shape) -> tuple[int, int, int, int]:
    """Check max_pool2d_backward's arrays against ``input_shape``; returns it as (N, C, H, W)."""
    array(op, "grad_output", grad_output, ndim=4, layout="(N,C,OH,OW)")
    array(op, "indices", indices, ndim=4, layout="(N,C,OH,OW)", float_only=False)
    if indices.dtype != np.int64:
        raise TypeError(f"{op}: indices must be int64, got dtype {indices.dtype}")
    shape = input_shape_arg(op, input_shape)
    if tuple(indices.shape) != tuple(grad_output.shape) or tuple(grad_output.shape[:2]) != shape[:2]:
        raise ValueError(f"{op}: grad_output {tuple(grad_output.shape)}, indices {tuple(indices.shape)} and "
                         f"input_shape {shape} disagree")
    output_size(op, shape, grad_output.dtype, same_device(op, grad_output=grad_output, indices=indices),
                name="dinput")
    return shape


def avg_pool2d_backward_args(op: str, grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                             count_include_pad):
    """Check avg_pool2d_backward's arguments; returns (input shape, Pool2dGeometry, count_include_pad)."""
    array(op, "grad_output", grad_output, ndim=4, layout="(N,C,OH,OW)")
    shape = input_shape_arg(op, input_shape)
    g = pool2d_geometry(op, shape, kernel_size, stride, padding, 1, ceil_mode)
    cip = flag(op, "count_include_pad", count_include_pad)
    if tuple(grad_output.shape) != (g.N, g.C, g.OH, g.OW):
        raise ValueError(f"{op}: grad_output must have shape {(g.N, g.C, g.OH, g.OW)}, got "
                         f"{tuple(grad_output.shape)}")
    output_size(op, shape, grad_output.dtype, same_device(op, grad_output=grad_output), name="dinput")
    return shape, g, cip


def global_avg_pool2d_backward_args(op: str, grad_output, input_shape) -> tuple[int, int, int, int]:
    """Check global_avg_pool2d_backward's arguments; returns the input shape (N, C, H, W)."""
    array(op, "grad_output", grad_output, ndim=2, layout="(N,C)")
    shape = input_shape_arg(op, input_shape)
    if tuple(grad_output.shape) != shape[:2]:
        raise ValueError(f"{op}: grad_output must have shape {shape[:2]}, got {tuple(grad_output.shape)}")
    output_size(op, shape, grad_output.dtype, same_device(op, grad_output=grad_output), name="dinput")
    return shape


def first_tap_inside(start: np.ndarray, dilation: int) -> np.ndarray:
    """Per window start, the first tap k with start + k*dilation >= 0."""
    return np.where(start < 0, (-start + dilation - 1) // dilation, 0)


def forward_args(op, input, kernel_size, stride, padding, dilation, ceil_mode) -> Pool2dGeometry:
    """A pooling forward's arguments: input (N, C, H, W) float and the window; returns its geometry."""
    array(op, "input", input, ndim=4, layout="(N,C,H,W)")
    g = pool2d_geometry(op, input.shape, kernel_size, stride, padding, dilation, ceil_mode)
    output_size(op, (g.N, g.C, g.OH, g.OW), input.dtype, same_device(op, input=input))
    return g


def global_forward_args(op, input) -> None:
    """global_avg_pool2d's input: (N, C, H, W) float."""
    array(op, "input", input, ndim=4, layout="(N,C,H,W)")


__all__ = ["Pool2dGeometry", "avg_pool2d_backward_args", "flag", "forward_args", "global_avg_pool2d_backward_args",
           "global_forward_args", "input_shape_arg", "max_pool2d_backward_args", "pool2d_geometry",
           "pool2d_output_size"]
