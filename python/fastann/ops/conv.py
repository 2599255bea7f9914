"""fastann.ops: the conv family — conv2d (forward, input and weight gradients), conv_transpose2d, upsample2d.

Layout NCHW, float32 or float64, weights as PyTorch stores them. The math (cross-correlation, as every
deep-learning library computes it; Goodfellow et al., *Deep Learning*, sec. 9.5)::

    out[n, o, i, j] = bias[o] + sum_{c, kh, kw} w[o, c, kh, kw] * xpad[n, g*Cg + c, i*s + kh*d, j*s + kw*d]

with g the output channel's group, Cg = C/groups and xpad the input padded with zeros, its mirror image
("reflect") or its edge ("replicate"). ``rung=`` picks a rung of the ladder (1 naive direct loops,
2 im2col + fastann's GEMM, 3 whole images per thread through AVX-512 micro-kernels that read the padded image's
shifted rows in place — no im2col buffer for stride 1; 4 Winograd, CPU only (Lavin & Gray, "Fast Algorithms
for Convolutional Neural Networks", CVPR 2016): F(2x2, 3x3) for 3x3 kernels with stride 1 and dilation 1, 16
multiplications per 2x2 outputs and channel pair instead of 36, and F(3x3, 2x2) for the weight gradient; for
4x4 kernels with stride 2, dilation 1 and groups=1, F(4x4, 2x2) on the input's four stride phases (2x2
kernels each), 25 multiplications per 4x4 outputs instead of 64, and F(2x2, 4x4) for the weight gradient;
None: the fastest for the shape and dtype), see docs/conv.md. All rungs compute the same result up to float rounding.
"""
from __future__ import annotations

import numpy as np

from .._args.conv import (backward_args, backward_input_args, backward_weight_args, check_conv, rung_number,
                           transpose_args, transpose_backward_args, transpose_input_padding, upsample_args,
                           upsample_backward_args)
from ._common import backend, empty

__all__ = ["conv2d", "conv2d_backward", "conv2d_backward_input", "conv2d_backward_weight", "conv_transpose2d",
           "conv_transpose2d_backward", "upsample2d", "upsample2d_backward"]


def _geometry(a):
    """The explicit hyper-parameters the compiled kernels take, in their order."""
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = a["stride"], a["pads"], a["dilation"]
    return sh, sw, pt, pb, pl, pr, dh, dw, a["groups"], a["padding_mode"]


def _rung(op, rung, xp):
    """The rung number the compiled module takes (0 = auto). Rung 4 (Winograd) is CPU-only."""
    k = rung_number(op, rung)
    if k == 4 and xp is not np:
        raise ValueError(f"{op}: rung 4 (Winograd) runs on the CPU only; the CUDA backend has "
                         f"kernels 1, 2 and 3")
    return k


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros",
           rung=None):
    """2-D convolution (cross-correlation) of a batch of images.

    Shapes: input (N, C, H, W), weight (C_out, C/groups, kH, kW), bias (C_out,) or None ->
    out (N, C_out, OH, OW) with ``OH = (H + pad_top + pad_bottom - dilation*(kH-1) - 1) // stride + 1``.
    dtypes: float32 or float64, all the same. ``stride`` and ``dilation``: int or pair, >= 1.
    ``padding``: int or pair (same on both sides), ``"valid"`` (0) or ``"same"`` (output ceil(H/stride):
    PyTorch's split for stride 1, TensorFlow's for stride > 1, the smaller half before).
    ``padding_mode``: "zeros", "reflect" (mirror without the edge, padding < input size) or "replicate".
    ``groups`` divides C and C_out (groups == C is a depthwise convolution).
    ``rung``: None (fastest), 1, 2, 3 or 4 (see the module docstring; 4 needs NumPy arrays and a 3x3 kernel
    with stride 1 and dilation 1, or a 4x4 kernel with stride 2, dilation 1 and groups=1).

    Raises TypeError for non-arrays, non-float or mixed dtypes; ValueError for wrong ndim, empty or
    non-contiguous arrays, channel mismatch, groups not dividing the channels, non-positive stride or
    dilation, negative padding, reflect padding >= input size, a kernel larger than the padded input, an
    unknown padding mode or rung number, rung=4 with another geometry or with CuPy arrays.
    """
    op = "conv2d"
    a = check_conv(op, input, weight, bias, stride, padding, dilation, groups, padding_mode)
    kern, xp = backend(op, input=input, weight=weight, bias=bias)
    k = _rung(op, rung, xp)
    out = empty(xp, (a["N"], a["OC"], a["OH"], a["OW"]), input.dtype)
    kern.conv2d_forward(out, input, weight, bias, *_geometry(a), k)
    return out


def conv2d_backward_input(grad_output, weight, input_shape, stride=1, padding=0, dilation=1, groups=1,
                          padding_mode="zeros", rung=None):
    """Gradient of :func:`conv2d` with respect to its input.

    grad_output (N, C_out, OH, OW), weight (C_out, C/groups, kH, kW), ``input_shape`` (N, C, H, W) ->
    dinput (N, C, H, W), the adjoint of the forward map (col2im of W^T dout). Other arguments and errors
    as :func:`conv2d`; grad_output must have the forward's output shape.
    """
    op = "conv2d_backward_input"
    a = backward_input_args(op, grad_output, weight, input_shape, stride, padding, dilation, groups, padding_mode)
    kern, xp = backend(op, grad_output=grad_output, weight=weight)
    k = _rung(op, rung, xp)
    dinput = empty(xp, (a["N"], a["C"], a["H"], a["W"]), grad_output.dtype)
    kern.conv2d_backward_input(dinput, grad_output, weight, *_geometry(a), k)
    return dinput


def conv2d_backward_weight(grad_output, input, weight_shape, stride=1, padding=0, dilation=1, groups=1,
                           padding_mode="zeros", rung=None):
    """Gradient of :func:`conv2d` with respect to its weight.

    grad_output (N, C_out, OH, OW), input (N, C, H, W), ``weight_shape`` (C_out, C/groups, kH, kW) ->
    dweight of that shape: ``dweight[o, c, kh, kw] = sum_{n, i, j} dout[n, o, i, j] * xpad[n, g*Cg+c, i*s+kh*d,
    j*s+kw*d]``. Arguments and errors as :func:`conv2d`.
    """
    op = "conv2d_backward_weight"
    a = backward_weight_args(op, grad_output, input, weight_shape, stride, padding, dilation, groups, padding_mode)
    kern, xp = backend(op, grad_output=grad_output, input=input)
    k = _rung(op, rung, xp)
    dweight = empty(xp, tuple(weight_shape), input.dtype)
    kern.conv2d_backward_weight(dweight, None, grad_output, input, *_geometry(a), k)
    return dweight


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros",
                    need_input_grad=True, need_bias_grad=True, rung=None):
    """All gradients of :func:`conv2d`: returns ``(dinput or None, dweight, dbias or None)``.

    grad_output (N, C_out, OH, OW), input (N, C, H, W), weight (C_out, C/groups, kH, kW).
    ``need_input_grad=False`` skips dinput (a network's first layer never needs it); dbias (C_out,) is
    grad_output summed over N, OH, OW. Arguments and errors as :func:`conv2d`.
    """
    op = "conv2d_backward"
    a = backward_args(op, grad_output, input, weight, stride, padding, dilation, groups, padding_mode)
    kern, xp = backend(op, grad_output=grad_output, input=input, weight=weight)
    k = _rung(op, rung, xp)
    geo = _geometry(a)
    dinput = None
    if need_input_grad:
        dinput = empty(xp, input.shape, input.dtype)
        kern.conv2d_backward_input(dinput, grad_output, weight, *geo, k)
    dweight = empty(xp, weight.shape, input.dtype)
    dbias = empty(xp, (a["OC"],), input.dtype) if need_bias_grad else None
    kern.conv2d_backward_weight(dweight, dbias, grad_output, input, *geo, k)
    return dinput, dweight, dbias


# ---- conv_transpose2d -----------------------------------------------------------------------------
def _zero_extended(xp, input, a):
    """conv_transpose2d's input as the gradient of the conv2d ``a``: itself, or (output_padding >= stride)
    a copy with the zero rows / columns :func:`fastann._args.conv.transpose_input_padding` counts appended."""
    eh, ew = transpose_input_padding(a, input.shape)
    if eh == 0 and ew == 0:
        return input
    out = xp.zeros(input.shape[:2] + (input.shape[2] + eh, input.shape[3] + ew), dtype=input.dtype)
    out[:, :, :input.shape[2], :input.shape[3]] = input
    return out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution ("fractionally strided", Dumoulin & Visin 2016): the adjoint of conv2d.

    input (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW) as torch stores it, bias (C_out,) or None ->
    (N, C_out, OH, OW), ``OH = (H-1)*stride - 2*padding + dilation*(kH-1) + output_padding + 1``.
    Computed by conv2d's input-gradient kernel (the same code). float32/float64.
    Raises TypeError for dtypes; ValueError for ndim, channel mismatch, groups not dividing the channels,
    non-positive stride/dilation, output_padding >= both stride and dilation (PyTorch's rule), a
    non-positive output size.
    """
    op = "conv_transpose2d"
    a = transpose_args(op, input, weight, bias, stride, padding, output_padding, groups, dilation)
    kern, xp = backend(op, input=input, weight=weight, bias=bias)
    out = empty(xp, (a["N"], a["C"], a["H"], a["W"]), input.dtype)
    kern.conv2d_backward_input(out, _zero_extended(xp, input, a), weight, *_geometry(a), 0)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def conv_transpose2d_backward(grad_output, input, weight, stride=1, padding=0, output_padding=0, groups=1,
                              dilation=1):
    """Gradients of :func:`conv_transpose2d`: ``(dinput, dweight, dbias)``.

    grad_output (N, C_out, OH, OW), input (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW).
    dinput = conv2d(grad_output, weight) (conv2d's forward kernel), dweight = conv2d's weight gradient with
    input and grad_output in swapped roles, dbias (C_out,) = grad_output summed over N, OH, OW.
    Errors as :func:`conv_transpose2d`; grad_output must have the forward's output shape.
    """
    op = "conv_transpose2d_backward"
    a = transpose_backward_args(op, grad_output, input, weight, stride, padding, output_padding, groups, dilation)
    kern, xp = backend(op, grad_output=grad_output, input=input, weight=weight)
    geo = _geometry(a)
    extended = _zero_extended(xp, input, a)
    dinput = empty(xp, extended.shape, input.dtype)
    kern.conv2d_forward(dinput, grad_output, weight, None, *geo, 0)
    if extended is not input:  # the appended zero rows / columns are no input: drop their gradient
        dinput = xp.ascontiguousarray(dinput[:, :, :input.shape[2], :input.shape[3]])
    dweight = empty(xp, weight.shape, input.dtype)
    kern.conv2d_backward_weight(dweight, None, extended, grad_output, *geo, 0)
    dbias = grad_output.sum(axis=(0, 2, 3))
    return dinput, dweight, dbias


# ---- upsample2d -----------------------------------------------------------------------------------
def upsample2d(input, scale_factor=2, mode="nearest", align_corners=False):
    """Upsample images by integer factors: input (N, C, H, W) -> (N, C, H*sh, W*sw), float32/float64.

    ``scale_factor``: positive int or pair (sh, sw). ``mode="nearest"`` repeats each pixel in an sh x sw
    block; ``"bilinear"`` interpolates between the 4 nearest source pixels with the source coordinates of
    torch.nn.functional.interpolate (``align_corners=False``: ``src = (dst + 0.5)/scale - 0.5`` clamped at 0;
    ``True``: corners map onto corners). Raises TypeError for dtypes, ValueError for ndim, a non-positive
    scale, an unknown mode or align_corners with nearest.
    """
    op = "upsample2d"
    sh, sw = upsample_args(op, input, scale_factor, mode, align_corners)
    kern, xp = backend(op, input=input)
    N, C, H, W = input.shape
    out = empty(xp, (N, C, H * sh, W * sw), input.dtype)
    kern.upsample2d_forward(out, input, sh, sw, mode, bool(align_corners))
    return out


def upsample2d_backward(grad_output, input_shape, scale_factor=2, mode="nearest", align_corners=False):
    """Gradient of :func:`upsample2d`: grad_output (N, C, H*sh, W*sw) -> dinput (N, C, H, W) = ``input_shape``.
    Each input pixel collects the gradient of every output it was interpolated into, with the same weights.
    Errors as :func:`upsample2d`; grad_output must have the forward's output shape."""
    op = "upsample2d_backward"
    N, C, H, W, sh, sw = upsample_backward_args(op, grad_output, input_shape, scale_factor, mode, align_corners)
    kern, xp = backend(op, grad_output=grad_output)
    dinput = empty(xp, (N, C, H, W), grad_output.dtype)
    kern.upsample2d_backward(dinput, grad_output, sh, sw, mode, bool(align_corners))
    return dinput
