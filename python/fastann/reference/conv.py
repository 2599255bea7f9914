"""fastann.reference: the conv family in plain NumPy float64.

A convolution (cross-correlation, as in every deep-learning library) of an input x (N, C, H, W) with a
weight w (OC, C/groups, KH, KW), stride s, dilation d and padding p::

    out[n, o, i, j] = bias[o] + sum_{c, kh, kw} w[o, c, kh, kw] * xpad[n, g*Cg + c, i*s + kh*d, j*s + kw*d]

where g = o // (OC/groups) is the output channel's group and xpad is x padded with zeros, its mirror image
("reflect", like numpy.pad's "reflect") or its edge values ("replicate"). The reference sums over the
KH*KW kernel taps, each tap one strided slice of xpad times a (OC/groups, C/groups) channel matrix.
The backward passes are the adjoints of the same sums (Goodfellow et al., Deep Learning, sec. 9.5):
the input gradient scatters dout through each tap back into xpad (then folds the padding back into x),
the weight gradient correlates dout with each tap's slice.
"""
from __future__ import annotations

import numpy as np

from .._args.conv import (backward_args, backward_input_args, backward_weight_args, check_conv, rung_number,
                           transpose_args, transpose_backward_args, transpose_input_padding, upsample_args,
                           upsample_backward_args)

__all__ = ["conv2d", "conv2d_backward", "conv2d_backward_input", "conv2d_backward_weight",
           "conv_transpose2d", "conv_transpose2d_backward", "upsample2d", "upsample2d_backward"]

_NP_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}


# ---- helpers --------------------------------------------------------------------------------------
def _pad(x, pads, mode):
    pt, pb, pl, pr = pads
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), mode=_NP_MODE[mode])


def _source_index(n, lo, hi, mode):
    """For each padded position along one axis, the input index it copies (-1 for a zero)."""
    i = np.arange(-lo, n + hi)
    if mode == "zeros":
        return np.where((i >= 0) & (i < n), i, -1)
    if mode == "reflect":
        i = np.abs(i)
        return np.where(i >= n, 2 * (n - 1) - i, i)
    return np.clip(i, 0, n - 1)


def _unpad_grad(dxp, shape, pads, mode):
    """Adjoint of _pad: every padded position's gradient goes to the input element it copied."""
    N, C, H, W = shape
    pt, pb, pl, pr = pads
    rows, cols = _source_index(H, pt, pb, mode), _source_index(W, pl, pr, mode)
    keep_r, keep_c = rows >= 0, cols >= 0
    tmp = np.zeros((N, C, H, dxp.shape[3]))
    np.add.at(tmp, (slice(None), slice(None), rows[keep_r]), dxp[:, :, keep_r])
    dx = np.zeros((N, C, H, W))
    np.add.at(dx, (slice(None), slice(None), slice(None), cols[keep_c]), tmp[:, :, :, keep_c])
    return dx


def _tap(a, kh, kw, a_geom):
    """The strided slice of the padded input that kernel tap (kh, kw) multiplies: (N, C, OH, OW)."""
    OH, OW, (sh, sw), (dh, dw) = a_geom
    return a[:, :, kh * dh: kh * dh + (OH - 1) * sh + 1: sh, kw * dw: kw * dw + (OW - 1) * sw + 1: sw]


# ---- conv2d ---------------------------------------------------------------------------------------
def _forward(x, w, a):
    G, OC = a["groups"], a["OC"]
    OCg, Cg = OC // G, a["C"] // G
    xp = _pad(np.asarray(x, np.float64), a["pads"], a["padding_mode"])
    w = np.asarray(w, np.float64)
    geom = (a["OH"], a["OW"], a["stride"], a["dilation"])
    out = np.zeros((a["N"], OC, a["OH"], a["OW"]))
    for g in range(G):
        for kh in range(a["KH"]):
            for kw in range(a["KW"]):
                patch = _tap(xp, kh, kw, geom)[:, g * Cg:(g + 1) * Cg]
                out[:, g * OCg:(g + 1) * OCg] += np.einsum("nchw,oc->nohw", patch,
                                                           w[g * OCg:(g + 1) * OCg, :, kh, kw])
    return out


def _backward_input(dout, w, a):
    G, OC, C = a["groups"], a["OC"], a["C"]
    OCg, Cg = OC // G, C // G
    pt, pb, pl, pr = a["pads"]
    dout, w = np.asarray(dout, np.float64), np.asarray(w, np.float64)
    geom = (a["OH"], a["OW"], a["stride"], a["dilation"])
    dxp = np.zeros((a["N"], C, a["H"] + pt + pb, a["W"] + pl + pr))
    for g in range(G):
        for kh in range(a["KH"]):
            for kw in range(a["KW"]):
                view = _tap(dxp, kh, kw, geom)[:, g * Cg:(g + 1) * Cg]  # a view: += writes into dxp
                view += np.einsum("nohw,oc->nchw", dout[:, g * OCg:(g + 1) * OCg],
                                  w[g * OCg:(g + 1) * OCg, :, kh, kw])
    return _unpad_grad(dxp, (a["N"], C, a["H"], a["W"]), a["pads"], a["padding_mode"])


def _backward_weight(dout, x, a):
    G, OC, C = a["groups"], a["OC"], a["C"]
    OCg, Cg = OC // G, C // G
    xp = _pad(np.asarray(x, np.float64), a["pads"], a["padding_mode"])
    dout = np.asarray(dout, np.float64)
    geom = (a["OH"], a["OW"], a["stride"], a["dilation"])
    dw = np.zeros((OC, Cg, a["KH"], a["KW"]))
    for g in range(G):
        for kh in range(a["KH"]):
            for kw in range(a["KW"]):
                patch = _tap(xp, kh, kw, geom)[:, g * Cg:(g + 1) * Cg]
                dw[g * OCg:(g + 1) * OCg, :, kh, kw] = np.einsum("nohw,nchw->oc",
                                                                 dout[:, g * OCg:(g + 1) * OCg], patch)
    return dw


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros",
           rung=None):
    """2-D convolution (cross-correlation), float64. input (N, C, H, W), weight (OC, C/groups, KH, KW),
    bias (OC,) or None -> (N, OC, OH, OW). ``rung`` must be None or a rung number of the kernels (1-4); the
    reference itself has one version. Raises as ``fastann.ops.conv2d`` does for bad arguments."""
    rung_number("conv2d", rung)
    a = check_conv("conv2d", input, weight, bias, stride, padding, dilation, groups, padding_mode)
    out = _forward(input, weight, a)
    if bias is not None:
        out += np.asarray(bias, np.float64)[None, :, None, None]
    return out


def conv2d_backward_input(grad_output, weight, input_shape, stride=1, padding=0, dilation=1, groups=1,
                          padding_mode="zeros", rung=None):
    """Gradient of conv2d with respect to its input: (N, C, H, W) = ``input_shape``."""
    op = "conv2d_backward_input"
    rung_number(op, rung)
    a = backward_input_args(op, grad_output, weight, input_shape, stride, padding, dilation, groups, padding_mode)
    return _backward_input(grad_output, weight, a)


def conv2d_backward_weight(grad_output, input, weight_shape, stride=1, padding=0, dilation=1, groups=1,
                           padding_mode="zeros", rung=None):
    """Gradient of conv2d with respect to its weight: (OC, C/groups, KH, KW) = ``weight_shape``."""
    op = "conv2d_backward_weight"
    rung_number(op, rung)
    a = backward_weight_args(op, grad_output, input, weight_shape, stride, padding, dilation, groups, padding_mode)
    return _backward_weight(grad_output, input, a)


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", need_input_grad=True, need_bias_grad=True, rung=None):
    """(dinput or None, dweight, dbias or None) of conv2d; dbias (OC,) = grad_output summed over N, OH, OW."""
    op = "conv2d_backward"
    rung_number(op, rung)
    a = backward_args(op, grad_output, input, weight, stride, padding, dilation, groups, padding_mode)
    dx = _backward_input(grad_output, weight, a) if need_input_grad else None
    dw = _backward_weight(grad_output, input, a)
    db = np.asarray(grad_output, np.float64).sum(axis=(0, 2, 3)) if need_bias_grad else None
    return dx, dw, db


# ---- conv_transpose2d -----------------------------------------------------------------------------
def _zero_extended(x, a):
    """x (N, C_in, H, W) as the gradient of the conv2d ``a``: with zero rows / columns appended when
    output_padding >= stride (that conv2d's output is then larger than H, W; the extra rows are no input)."""
    eh, ew = transpose_input_padding(a, x.shape)
    return np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (0, eh), (0, ew)))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution (the adjoint of conv2d, 'fractionally strided'; Dumoulin & Visin 2016).
    input (N, C_in, H, W), weight (C_in, C_out/groups, KH, KW) as torch stores it, bias (C_out,) ->
    (N, C_out, (H-1)*s - 2p + d*(KH-1) + output_padding + 1, ...)."""
    a = transpose_args("conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups,
                        dilation)
    out = _backward_input(_zero_extended(input, a), weight, a)
    if bias is not None:
        out += np.asarray(bias, np.float64)[None, :, None, None]
    return out


def conv_transpose2d_backward(grad_output, input, weight, stride=1, padding=0, output_padding=0, groups=1,
                              dilation=1):
    """(dinput, dweight, dbias) of conv_transpose2d: dinput is conv2d(grad_output, weight), dweight is
    conv2d's weight gradient with the roles of input and grad_output swapped."""
    op = "conv_transpose2d_backward"
    a = transpose_backward_args(op, grad_output, input, weight, stride, padding, output_padding, groups, dilation)
    dx = _forward(grad_output, weight, a)[:, :, :input.shape[2], :input.shape[3]]
    dw = _backward_weight(_zero_extended(input, a), grad_output, a)
    db = np.asarray(grad_output, np.float64).sum(axis=(0, 2, 3))
    return dx, dw, db


# ---- upsample2d -----------------------------------------------------------------------------------
def _linear_weights(n_in, n_out, scale, align_corners):
    """For each output index along one axis: the two source indices and the weight of the second
    (torch.nn.functional.interpolate's bilinear source coordinates)."""
    j = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = j * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((j + 0.5) / scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def upsample2d(input, scale_factor=2, mode="nearest", align_corners=False):
    """Upsampling by integer factors: input (N, C, H, W) -> (N, C, H*sh, W*sw). 'nearest' repeats pixels,
    'bilinear' interpolates like torch.nn.functional.interpolate (align_corners as there), each output from
    its four source pixels as two lerps along W and one along H: ``top = a + lw (b - a)``, ``bot = c + lw
    (d - c)``, ``out = top + lh (bot - top)``.

    Non-finite values stay local, as in PyTorch: an output sees only its own source pixels. A lerp
    multiplies its weight into the difference of its two pixels, so a source pixel that is +-inf makes every
    output that reads it NaN (``0 * inf`` at weight 0, ``inf - inf``), and a lerp between two equal infinities
    is NaN too, where PyTorch's weighted sum ``(1 - l) a + l b`` may give +-inf (docs/conv.md, upsample2d)."""
    op = "upsample2d"
    sh, sw = upsample_args(op, input, scale_factor, mode, align_corners)
    x = np.asarray(input, np.float64)
    H, W = x.shape[2], x.shape[3]
    if mode == "nearest":
        return x[:, :, np.arange(H * sh) // sh][:, :, :, np.arange(W * sw) // sw]
    h0, h1, lh = _linear_weights(H, H * sh, sh, align_corners)
    w0, w1, lw = _linear_weights(W, W * sw, sw, align_corners)
    r0, r1 = x[:, :, h0], x[:, :, h1]
    top = r0[..., w0] + lw * (r0[..., w1] - r0[..., w0])
    bot = r1[..., w0] + lw * (r1[..., w1] - r1[..., w0])
    return top + lh[:, None] * (bot - top)


def upsample2d_backward(grad_output, input_shape, scale_factor=2, mode="nearest", align_corners=False):
    """Gradient of upsample2d with respect to its input: each input pixel sums the gradients of the outputs
    that read it, times their weight. 'nearest': the sum over its sh x sw block; 'bilinear': every output
    scatters ``(1-lh)(1-lw) g``, ``(1-lh) lw g``, ``lh (1-lw) g`` and ``lh lw g`` to its four source pixels
    (as PyTorch's upsample_bilinear2d_backward does, so a +-inf or NaN gradient reaches all four, weight 0
    included: ``0 * inf`` is NaN), and nothing else."""
    op = "upsample2d_backward"
    N, C, H, W, sh, sw = upsample_backward_args(op, grad_output, input_shape, scale_factor, mode, align_corners)
    g = np.asarray(grad_output, np.float64)
    if mode == "nearest":
        return g.reshape(N, C, H, sh, W, sw).sum(axis=(3, 5))
    h0, h1, lh = _linear_weights(H, H * sh, sh, align_corners)
    w0, w1, lw = _linear_weights(W, W * sw, sw, align_corners)
    lh, lw = lh[:, None], lw[None, :]
    d = np.zeros((N, C, H, W))
    for hi, wi, weight in ((h0, w0, (1 - lh) * (1 - lw)), (h0, w1, (1 - lh) * lw), (h1, w0, lh * (1 - lw)),
                           (h1, w1, lh * lw)):
        np.add.at(d, (slice(None), slice(None), hi[:, None], wi[None, :]), weight * g)
    return d
