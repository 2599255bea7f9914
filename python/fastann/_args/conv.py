"""Argument checks of the conv family (conv2d, conv_transpose2d, upsample2d), shared by ops and reference.

Both layers turn ``stride`` / ``padding`` / ``dilation`` / ``groups`` / ``padding_mode`` into the same
explicit numbers (and raise the same exception class for the same bad value), so the kernels and the
reference agree on what a convolution means.

Output size of a convolution along one axis (PyTorch's formula)::

    out = floor((in + pad_lo + pad_hi - dilation * (k - 1) - 1) / stride) + 1
"""
from __future__ import annotations

import numbers

from .common import array, nonneg_int, output_size, pair, positive_int, same_device, same_dtype

PADDING_MODES = ("zeros", "reflect", "replicate")


def out_size(n: int, pad_lo: int, pad_hi: int, k: int, stride: int, dilation: int) -> int:
    return (n + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


def resolve_padding(op: str, padding, in_hw, k_hw, stride, dilation):
    """Explicit ``(top, bottom, left, right)`` padding from an int, a pair, ``"valid"`` or ``"same"``.

    ``"same"`` with stride 1 pads ``dilation*(k-1)`` in total, the smaller half first (like PyTorch).
    With stride > 1 PyTorch refuses ``"same"``; fastann computes it the TensorFlow way instead: the output
    has ``ceil(in / stride)`` elements and the padding needed for that is split, the smaller half first.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            pads = []
            for n, k, s, d in zip(in_hw, k_hw, stride, dilation):
                out = -(-n // s)  # ceil(n / s); equals n for stride 1
                total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
                pads += [total // 2, total - total // 2]
            return pads[0], pads[1], pads[2], pads[3]
        raise ValueError(f"{op}: padding must be an int, a pair of ints, 'valid' or 'same', got {padding!r}")
    ph, pw = pair(op, "padding", padding, check=nonneg_int)
    return ph, ph, pw, pw


def conv2d_args(op: str, input_shape, weight_shape, stride, padding, dilation, groups, padding_mode):
    """Validate conv2d hyper-parameters against the shapes; return a dict of explicit numbers.

    ``input_shape`` (N, C, H, W), ``weight_shape`` (OC, C/groups, KH, KW). Raises ValueError for a channel
    mismatch, groups not dividing the channels, a non-positive stride or dilation, negative padding, an
    unknown padding mode, reflect padding >= the input size, or a kernel larger than the padded input.
    """
    N, C, H, W = (int(v) for v in input_shape)
    OC, Cg, KH, KW = (int(v) for v in weight_shape)
    groups = positive_int(op, "groups", groups)
    sh, sw = pair(op, "stride", stride)
    dh, dw = pair(op, "dilation", dilation)
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{op}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    if C % groups:
        raise ValueError(f"{op}: groups={groups} does not divide the input channels C={C}")
    if OC % groups:
        raise ValueError(f"{op}: groups={groups} does not divide the output channels C_out={OC}")
    if Cg * groups != C:
        raise ValueError(f"{op}: channel mismatch: weight {tuple(weight_shape)} expects C_in/groups={Cg} "
                         f"(C_in={Cg * groups}) but input {tuple(input_shape)} has C={C} with groups={groups}")
    pt, pb, pl, pr = resolve_padding(op, padding, (H, W), (KH, KW), (sh, sw), (dh, dw))
    if padding_mode == "reflect" and (max(pt, pb) >= H or max(pl, pr) >= W):
        raise ValueError(f"{op}: reflect padding ({pt}, {pb}, {pl}, {pr}) must be smaller than the input "
                         f"size (H, W)=({H}, {W})")
    if dh * (KH - 1) + 1 > H + pt + pb or dw * (KW - 1) + 1 > W + pl + pr:
        raise ValueError(f"{op}: kernel ({KH}, {KW}) with dilation ({dh}, {dw}) is larger than the padded "
                         f"input ({H + pt + pb}, {W + pl + pr})")
    OH, OW = out_size(H, pt, pb, KH, sh, dh), out_size(W, pl, pr, KW, sw, dw)
    return dict(N=N, C=C, H=H, W=W, OC=OC, KH=KH, KW=KW, OH=OH, OW=OW, stride=(sh, sw),
                pads=(pt, pb, pl, pr), dilation=(dh, dw), groups=groups, padding_mode=padding_mode)


def transpose_output_hw(op: str, in_hw, k_hw, stride, padding, output_padding, dilation):
    """Output (H, W) of conv_transpose2d, PyTorch's formula:
    ``(in - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.
    ``output_padding`` must be smaller than stride or dilation (PyTorch's rule: smaller than their maximum)."""
    sh, sw = pair(op, "stride", stride)
    dh, dw = pair(op, "dilation", dilation)
    ph, pw = pair(op, "padding", padding, check=nonneg_int)
    oph, opw = pair(op, "output_padding", output_padding, check=nonneg_int)
    for o, s, d in ((oph, sh, dh), (opw, sw, dw)):
        if o >= s and o >= d:
            raise ValueError(f"{op}: output_padding must be smaller than stride or dilation, got "
                             f"output_padding=({oph}, {opw}), stride=({sh}, {sw}), dilation=({dh}, {dw})")
    oh = (in_hw[0] - 1) * sh - 2 * ph + dh * (k_hw[0] - 1) + oph + 1
    ow = (in_hw[1] - 1) * sw - 2 * pw + dw * (k_hw[1] - 1) + opw + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{op}: output size ({oh}, {ow}) is not positive (padding too large)")
    return (oh, ow), (sh, sw), (ph, pw), (dh, dw)


def scale_pair(op: str, scale_factor):
    """Integer scale factors (an int or a pair) of upsample2d."""
    return pair(op, "scale_factor", scale_factor)


#: The conv2d ladder of the CPU kernels (the CUDA backend has rungs 1-3); see docs/conv.md.
CONV2D_RUNGS = (1, 2, 3, 4)


def rung_number(op: str, rung, choices=CONV2D_RUNGS):
    """The rung number the compiled modules take: 0 for None (pick per shape), else ``rung`` itself.
    ValueError naming ``op`` when ``rung`` is not None or one of ``choices`` (bools refused)."""
    if rung is None:
        return 0
    if isinstance(rung, bool) or not isinstance(rung, numbers.Integral) or rung not in choices:
        raise ValueError(f"{op}: rung must be None or one of {choices}, got {rung!r}")
    return int(rung)


def shape4(op: str, name: str, shape):
    """A (N, C, H, W) tuple of positive ints."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 4:
        raise ValueError(f"{op}: {name} must be a 4-tuple (N, C, H, W), got {shape!r}")
    return tuple(positive_int(op, name, v) for v in shape)


# ---- array checks shared by fastann.ops.conv and fastann.reference.conv --------------------------------
def check_conv(op, input, weight, bias, stride, padding, dilation, groups, padding_mode):
    """Check conv2d's arrays (input (N, C, H, W), weight (C_out, C/groups, kH, kW), bias (C_out,) or None:
    ndim, layout, one device, one dtype) and return :func:`conv2d_args` of their shapes."""
    array(op, "input", input, ndim=4, layout="(N, C, H, W)")
    array(op, "weight", weight, ndim=4, layout="(C_out, C_in/groups, kH, kW)")
    if bias is not None:
        array(op, "bias", bias, ndim=1, layout="(C_out,)")
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"{op}: bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    gpu = same_device(op, input=input, weight=weight, bias=bias)
    same_dtype(op, input=input, weight=weight, bias=bias)
    a = conv2d_args(op, input.shape, weight.shape, stride, padding, dilation, groups, padding_mode)
    output_size(op, (a["N"], a["OC"], a["OH"], a["OW"]), input.dtype, gpu)
    return a


def backward_input_args(op, grad_output, weight, input_shape, stride, padding, dilation, groups, padding_mode):
    """conv2d_backward_input's arguments: weight (C_out, C/groups, kH, kW), ``input_shape`` (N, C, H, W),
    grad_output of the forward's output shape, one dtype and device. Returns :func:`conv2d_args`."""
    array(op, "weight", weight, ndim=4, layout="(C_out, C_in/groups, kH, kW)")
    a = conv2d_args(op, shape4(op, "input_shape", input_shape), weight.shape, stride, padding, dilation, groups,
                    padding_mode)
    check_grad_output(op, grad_output, a)
    same_dtype(op, grad_output=grad_output, weight=weight)
    gpu = same_device(op, grad_output=grad_output, weight=weight)
    output_size(op, (a["N"], a["C"], a["H"], a["W"]), weight.dtype, gpu, name="dinput")
    return a


def backward_weight_args(op, grad_output, input, weight_shape, stride, padding, dilation, groups, padding_mode):
    """conv2d_backward_weight's arguments: input (N, C, H, W), ``weight_shape`` (C_out, C/groups, kH, kW),
    grad_output of the forward's output shape, one dtype and device. Returns :func:`conv2d_args`."""
    array(op, "input", input, ndim=4, layout="(N, C, H, W)")
    weight_shape = shape4(op, "weight_shape", weight_shape)
    a = conv2d_args(op, input.shape, weight_shape, stride, padding, dilation, groups, padding_mode)
    check_grad_output(op, grad_output, a)
    same_dtype(op, grad_output=grad_output, input=input)
    gpu = same_device(op, grad_output=grad_output, input=input)
    output_size(op, weight_shape, input.dtype, gpu, name="dweight")
    return a


def backward_args(op, grad_output, input, weight, stride, padding, dilation, groups, padding_mode):
    """conv2d_backward's arguments: conv2d's (without bias) and grad_output of the forward's output shape.
    Returns :func:`conv2d_args`."""
    a = check_conv(op, input, weight, None, stride, padding, dilation, groups, padding_mode)
    check_grad_output(op, grad_output, a)
    same_dtype(op, grad_output=grad_output, input=input)
    same_device(op, grad_output=grad_output, input=input)
    return a


def check_grad_output(op, grad_output, a):
    """grad_output must be (N, C_out, OH, OW) as the conv2d arguments ``a`` give them."""
    array(op, "grad_output", grad_output, ndim=4, layout="(N, C_out, OH, OW)")
    want = (a["N"], a["OC"], a["OH"], a["OW"])
    if tuple(grad_output.shape) != want:
        raise ValueError(f"{op}: grad_output must have shape {want}, got {tuple(grad_output.shape)}")


def transpose_args(op, input, weight, bias, stride, padding, output_padding, groups, dilation):
    """Check conv_transpose2d's arrays (input (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW), bias
    (C_out,) or None) and return the :func:`conv2d_args` of the conv2d it is the input gradient of."""
    array(op, "input", input, ndim=4, layout="(N, C_in, H, W)")
    array(op, "weight", weight, ndim=4, layout="(C_in, C_out/groups, kH, kW)")
    if bias is not None:
        array(op, "bias", bias, ndim=1, layout="(C_out,)")
    same_dtype(op, input=input, weight=weight, bias=bias)
    gpu = same_device(op, input=input, weight=weight, bias=bias)
    N, Cin, H, W = input.shape
    groups = positive_int(op, "groups", groups)
    if Cin != weight.shape[0]:
        raise ValueError(f"{op}: channel mismatch: weight {tuple(weight.shape)} expects C_in={weight.shape[0]} "
                         f"but input {tuple(input.shape)} has C_in={Cin}")
    (OH, OW), s, p, d = transpose_output_hw(op, (H, W), weight.shape[2:], stride, padding, output_padding,
                                            dilation)
    # conv_transpose2d(x) is conv2d's input gradient: x plays conv2d's grad_output, the output conv2d's input.
    # That conv2d's output has H + output_padding // stride rows (W likewise): more than the input's H when
    # output_padding >= stride (allowed while output_padding < dilation). The extra rows of that gradient
    # are zeros: callers pad the input with them (:func:`transpose_input_padding`).
    out_shape = (N, weight.shape[1] * groups, OH, OW)
    output_size(op, out_shape, input.dtype, gpu)
    a = conv2d_args(op, out_shape, weight.shape, s, p, d, groups, "zeros")
    if bias is not None and bias.shape[0] != out_shape[1]:
        raise ValueError(f"{op}: bias must have shape ({out_shape[1]},), got {tuple(bias.shape)}")
    return a


def transpose_backward_args(op, grad_output, input, weight, stride, padding, output_padding, groups, dilation):
    """conv_transpose2d_backward's arguments: conv_transpose2d's (without bias) and grad_output of its
    output shape. Returns :func:`transpose_args`."""
    a = transpose_args(op, input, weight, None, stride, padding, output_padding, groups, dilation)
    array(op, "grad_output", grad_output, ndim=4, layout="(N, C_out, OH, OW)")
    want = (a["N"], a["C"], a["H"], a["W"])
    if tuple(grad_output.shape) != want:
        raise ValueError(f"{op}: grad_output must have shape {want}, got {tuple(grad_output.shape)}")
    same_dtype(op, grad_output=grad_output, input=input)
    same_device(op, grad_output=grad_output, input=input)
    return a


def transpose_input_padding(a, input_shape) -> tuple[int, int]:
    """Zero rows and columns to append to conv_transpose2d's input so it has the shape of the gradient of
    the conv2d ``a`` describes: (output_padding_h // stride_h, output_padding_w // stride_w), (0, 0) unless
    output_padding >= stride."""
    return a["OH"] - input_shape[2], a["OW"] - input_shape[3]


def upsample_check(op, mode, align_corners):
    """upsample2d's mode is 'nearest' or 'bilinear'; align_corners only with 'bilinear'."""
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"{op}: mode must be 'nearest' or 'bilinear', got {mode!r}")
    if mode == "nearest" and align_corners:
        raise ValueError(f"{op}: align_corners only applies to mode='bilinear'")


def upsample_args(op, input, scale_factor, mode, align_corners) -> tuple[int, int]:
    """upsample2d's arguments: input (N, C, H, W), integer scale factors, mode; returns (sh, sw)."""
    array(op, "input", input, ndim=4, layout="(N, C, H, W)")
    sh, sw = scale_pair(op, scale_factor)
    upsample_check(op, mode, align_corners)
    N, C, H, W = input.shape
    output_size(op, (N, C, H * sh, W * sw), input.dtype, same_device(op, input=input))
    return sh, sw


def upsample_backward_args(op, grad_output, input_shape, scale_factor, mode, align_corners):
    """upsample2d_backward's arguments: grad_output (N, C, H*sh, W*sw) for ``input_shape`` (N, C, H, W);
    returns (N, C, H, W, sh, sw)."""
    array(op, "grad_output", grad_output, ndim=4, layout="(N, C, OH, OW)")
    N, C, H, W = shape4(op, "input_shape", input_shape)
    sh, sw = scale_pair(op, scale_factor)
    upsample_check(op, mode, align_corners)
    if tuple(grad_output.shape) != (N, C, H * sh, W * sw):
        raise ValueError(f"{op}: grad_output must have shape {(N, C, H * sh, W * sw)}, "
                         f"got {tuple(grad_output.shape)}")
    return N, C, H, W, sh, sw


__all__ = ["CONV2D_RUNGS", "PADDING_MODES", "backward_args", "backward_input_args", "backward_weight_args",
           "check_conv", "check_grad_output", "conv2d_args", "out_size", "resolve_padding", "rung_number", "scale_pair",
           "shape4",
           "transpose_args", "transpose_backward_args", "transpose_input_padding", "transpose_output_hw",
           "upsample_args", "upsample_backward_args", "upsample_check"]
