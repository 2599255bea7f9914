"""CUDA conv / upsample / pooling / batch-norm kernels (csrc/cuda/{conv,pool,norm}.cu).

The first half needs no GPU: fastann._cuda's C++ boundary must reject every bad argument (host arrays, wrong
dtypes, strided views, read-only outputs, wrong shapes, bad hyper-parameters, unknown rungs) with the same
exception class as fastann._cpu, before any device pointer is used. Device arrays are faked with objects that
expose a ``__cuda_array_interface__``: every such call must fail a check, never launch.

The second half (GPU only) runs every CUDA rung of every direction against fastann._cpu's kernels on the same
inputs (the CPU kernels are tested against the NumPy float64 references in test_conv.py / test_pool.py /
test_norm.py; the ops-level tests there also run on CUDA through the ``xp`` fixture). Shapes cover odd sizes,
stride > 1 with sizes that do not divide, dilation, groups and depthwise, every padding mode, 1x1 and 7x7
kernels, several 64x64 tiles and the split-K weight gradient.
"""
from __future__ import annotations

import numpy as np
import pytest

import fastann
from fastann import _backend

from helpers import assert_close

CPU = _backend.cpu
GPU = _backend.cuda
needs_module = pytest.mark.skipif(GPU is None, reason="fastann._cuda was not built")

TOL = {np.float32: 2e-6, np.float64: 1e-12}
TOL_RED = {np.float32: 1e-5, np.float64: 1e-11}
DTYPES = [np.float32, np.float64]


# ---------------------------------------------------------------------------------------------------------
# No GPU needed: the C++ boundary
# ---------------------------------------------------------------------------------------------------------

class FakeDeviceArray:
    """An object with a __cuda_array_interface__ whose pointer must never be used (every call fails a check)."""

    _next = 0xDEAD0000

    def __init__(self, shape, typestr="<f4", strides=None, readonly=False):
        ptr = FakeDeviceArray._next  # distinct, non-overlapping fake addresses
        FakeDeviceArray._next += 1 << 20
        self.__cuda_array_interface__ = {
            "shape": tuple(shape), "typestr": typestr, "data": (ptr, readonly),
            "strides": strides, "version": 3,
        }


def F(*shape, **kw):
    return FakeDeviceArray(shape, **kw)


# stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right, dilation_h, dilation_w, groups, padding_mode
GEO = (1, 1, 0, 0, 0, 0, 1, 1, 1, "zeros")


def geo(**kw):
    names = ["sh", "sw", "pt", "pb", "pl", "pr", "dh", "dw", "groups", "mode"]
    d = dict(zip(names, GEO))
    d.update(kw)
    return tuple(d[n] for n in names)


BOUNDARY = [
    # conv2d_forward: arrays
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), np.zeros((1, 2, 5, 5), np.float32), F(2, 2, 3, 3), None, *GEO, 0),
     TypeError, "input must be a cupy"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 2, 5, 5, typestr="<i4"), F(2, 2, 3, 3), None, *GEO, 0),
     TypeError, "input must be float32 or float64"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 2, 5, 5), F(2, 2, 3, 3, typestr="<f8"), None, *GEO, 0),
     TypeError, "weight has dtype float64"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 2, 5, 5), F(2, 2, 3, 3), F(2, typestr="<f8"), *GEO, 0),
     TypeError, "bias has dtype float64"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(2, 5, 5), F(2, 2, 3, 3), None, *GEO, 0), ValueError,
     "input must be 4-D"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 2, 5, 5, strides=(200, 100, 20, 8)), F(2, 2, 3, 3), None, *GEO,
                                0), ValueError, "C-contiguous"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3, readonly=True), F(1, 2, 5, 5), F(2, 2, 3, 3), None, *GEO, 0),
     ValueError, "read-only"),
    (lambda m: m.conv2d_forward(F(1, 2, 4, 3), F(1, 2, 5, 5), F(2, 2, 3, 3), None, *GEO, 0), ValueError,
     r"out must have shape \(1, 2, 3, 3\)"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 2, 5, 5), F(2, 2, 3, 3), F(3), *GEO, 0), ValueError,
     r"bias must have shape \(2,\)"),
    # conv2d_forward: geometry
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 3, 5, 5), F(2, 2, 3, 3), None, *GEO, 0), ValueError,
     "channel mismatch"),
    (lambda m: m.conv2d_forward(F(1, 3, 3, 3), F(1, 4, 5, 5), F(3, 2, 3, 3), None, *geo(groups=2), 0), ValueError,
     "does not divide the output channels"),
    (lambda m: m.conv2d_forward(F(1, 2, 1, 1), F(1, 2, 2, 2), F(2, 2, 3, 3), None, *GEO, 0), ValueError,
     "larger than the padded input"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 2, 5, 5), F(2, 2, 3, 3), None, *geo(sh=0), 0), ValueError,
     "stride must be positive"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 2, 5, 5), F(2, 2, 3, 3), None, *geo(dw=-1), 0), ValueError,
     "dilation must be positive"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 2, 5, 5), F(2, 2, 3, 3), None, *geo(pl=-1), 0), ValueError,
     "padding must be non-negative"),
    (lambda m: m.conv2d_forward(F(1, 1, 6, 2), F(1, 2, 2, 2), F(1, 2, 1, 1), None, *geo(pt=2, pb=2, mode="reflect"),
                                0), ValueError, "reflect padding"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 2, 5, 5), F(2, 2, 3, 3), None, *geo(mode="circular"), 0),
     ValueError, "padding_mode must be"),
    (lambda m: m.conv2d_forward(F(1, 2, 3, 3), F(1, 2, 5, 5), F(2, 2, 3, 3), None, *GEO, 4), ValueError,
     "rung must be 0"),
    # conv2d backward
    (lambda m: m.conv2d_backward_input(F(1, 2, 5, 5), F(1, 2, 3, 4), F(2, 2, 3, 3), *GEO, 0), ValueError,
     r"grad_output must have shape \(1, 2, 3, 3\)"),
    (lambda m: m.conv2d_backward_input(F(1, 2, 5, 5, typestr="<f8"), F(1, 2, 3, 3), F(2, 2, 3, 3), *GEO, 0),
     TypeError, "dinput has dtype float64"),
    (lambda m: m.conv2d_backward_input(F(1, 2, 5, 5), F(1, 2, 3, 3), F(2, 2, 3), *GEO, 0), ValueError,
     "weight must be 4-D"),
    (lambda m: m.conv2d_backward_weight(F(2, 2, 3, 3), F(3), F(1, 2, 3, 3), F(1, 2, 5, 5), *GEO, 0), ValueError,
     r"dbias must have shape \(2,\)"),
    (lambda m: m.conv2d_backward_weight(F(2, 2, 3, 3, typestr="<i8"), None, F(1, 2, 3, 3), F(1, 2, 5, 5), *GEO, 0),
     TypeError, "dweight must be float32 or float64, got dtype int64"),
    (lambda m: m.conv2d_backward_weight(F(2, 2, 3, 3), None, F(1, 2, 3, 3), F(1, 2, 5, 5), *GEO, -1), ValueError,
     "rung must be 0"),
    (lambda m: m.conv2d_pick_rung([1, 2, 5, 5], [2, 2, 3, 3], *GEO, 3), ValueError, "direction must be"),
    (lambda m: m.conv2d_pick_rung([1, 2, 5, 5], [2, 2, 3, 3], *GEO, 0, "float16"), ValueError, "dtype must be"),
    # upsample2d
    (lambda m: m.upsample2d_forward(F(1, 2, 6, 6), F(1, 2, 3, 3), 2, 2, "bicubic", False), ValueError,
     "mode must be 'nearest' or 'bilinear'"),
    (lambda m: m.upsample2d_forward(F(1, 2, 6, 6), F(1, 2, 3, 3), 2, 2, "nearest", True), ValueError,
     "align_corners only applies"),
    (lambda m: m.upsample2d_forward(F(1, 2, 6, 7), F(1, 2, 3, 3), 2, 2, "nearest", False), ValueError,
     r"out must have shape \(1, 2, 6, 6\)"),
    (lambda m: m.upsample2d_forward(F(1, 2, 6, 6), F(1, 2, 3, 3), 0, 2, "nearest", False), ValueError,
     "scale_factor must be positive"),
    (lambda m: m.upsample2d_forward(F(1, 0, 6, 6), F(1, 0, 3, 3), 2, 2, "nearest", False), ValueError, "empty"),
    (lambda m: m.upsample2d_backward(F(1, 2, 3, 3), np.zeros((1, 2, 6, 6), np.float32), 2, 2, "nearest", False),
     TypeError, "grad_output must be a cupy"),
    # max_pool2d
    (lambda m: m.max_pool2d_forward(F(1, 1, 2, 2), F(1, 1, 2, 2, typestr="<i4"), F(1, 1, 4, 4), (2, 2), (2, 2),
                                    (0, 0), (1, 1), False, 0), TypeError, "indices must be int64"),
    (lambda m: m.max_pool2d_forward(F(1, 1, 2, 2), F(1, 1, 2, 2, typestr="<i8", readonly=True), F(1, 1, 4, 4),
                                    (2, 2), (2, 2), (0, 0), (1, 1), False, 0), ValueError, "read-only"),
    (lambda m: m.max_pool2d_forward(F(1, 1, 2, 2), F(1, 1, 2, 2, typestr="<i8"), F(1, 1, 4, 4), (2, 2), (2, 2),
                                    (2, 0), (1, 1), False, 0), ValueError, "at most half the kernel_size"),
    (lambda m: m.max_pool2d_forward(F(1, 1, 2, 2), F(1, 1, 2, 2, typestr="<i8"), F(1, 1, 4, 4), (2, 2), (0, 2),
                                    (0, 0), (1, 1), False, 0), ValueError, "stride must be positive"),
    (lambda m: m.max_pool2d_forward(F(1, 1, 1, 1), F(1, 1, 1, 1, typestr="<i8"), F(1, 1, 2, 2), (3, 3), (1, 1),
                                    (0, 0), (1, 1), False, 0), ValueError, "output size"),
    (lambda m: m.max_pool2d_forward(F(1, 1, 2, 2), F(1, 1, 2, 2, typestr="<i8"), F(1, 1, 5, 5), (3, 3), (2, 2),
                                    (0, 0), (1, 1), False, 2), ValueError, "handles only 2x2"),
    (lambda m: m.max_pool2d_forward(F(1, 1, 2, 2), F(1, 1, 2, 2, typestr="<i8"), F(1, 1, 4, 4), (2, 2), (2, 2),
                                    (0, 0), (1, 1), False, 5), ValueError, "rung must be None"),
    (lambda m: m.max_pool2d_forward(F(1, 1, 2, 3), F(1, 1, 2, 3, typestr="<i8"), F(1, 1, 4, 4), (2, 2), (2, 2),
                                    (0, 0), (1, 1), False, 0), ValueError, r"out must have shape \(1, 1, 2, 2\)"),
    (lambda m: m.max_pool2d_backward(F(1, 1, 4, 4), F(1, 1, 2, 2), F(1, 1, 2, 3, typestr="<i8")), ValueError,
     r"indices must have shape"),
    (lambda m: m.max_pool2d_backward(F(2, 1, 4, 4), F(1, 1, 2, 2), F(1, 1, 2, 2, typestr="<i8")), ValueError,
     "disagree in N or C"),
    (lambda m: m.max_pool2d_backward(F(1, 1, 4, 4), F(1, 1, 2, 2), F(1, 1, 2, 2, typestr="<f4")), TypeError,
     "indices must be int64"),
    # avg / global pooling
    (lambda m: m.avg_pool2d_forward(F(1, 1, 2, 2), F(1, 1, 4), (2, 2), (2, 2), (0, 0), False, True), ValueError,
     "input must be 4-D"),
    (lambda m: m.avg_pool2d_forward(F(1, 1, 2, 2), F(1, 1, 4, 4), (0, 2), (2, 2), (0, 0), False, True), ValueError,
     "kernel_size must be positive"),
    (lambda m: m.avg_pool2d_backward(F(1, 1, 4, 4), F(1, 1, 3, 2), (2, 2), (2, 2), (0, 0), False, True),
     ValueError, r"grad_output must have shape \(1, 1, 2, 2\)"),
    (lambda m: m.global_avg_pool2d_forward(F(2, 3), F(2, 3, 4)), ValueError, "input must be 4-D"),
    (lambda m: m.global_avg_pool2d_forward(F(2, 4), F(2, 3, 4, 4)), ValueError, r"out must have shape \(2, 3\)"),
    (lambda m: m.global_avg_pool2d_forward(F(2, 3), F(2, 3, 0, 4)), ValueError, "empty"),
    (lambda m: m.global_avg_pool2d_backward(F(2, 3, 4, 4), F(2, 4)), ValueError, r"grad_output must have shape"),
    # batch norm
    (lambda m: m.batch_norm_forward_training(F(2, 3, 4), F(3), F(3), None, None, F(2, 3, 4), None, None, 0.1, 1e-5),
     ValueError, "2-D \\(N,C\\) or 4-D"),
    (lambda m: m.batch_norm_forward_training(F(1, 3), F(3), F(3), None, None, F(1, 3), None, None, 0.1, 1e-5),
     ValueError, "more than one value per channel"),
    (lambda m: m.batch_norm_forward_training(F(4, 3), F(3), F(3), None, None, F(4, 3), None, None, 1.5, 1e-5),
     ValueError, "momentum must be in"),
    (lambda m: m.batch_norm_forward_training(F(4, 3), F(3), F(3), None, None, F(4, 3), None, None, 0.1, 0.0),
     ValueError, "eps must be a positive"),
    (lambda m: m.batch_norm_forward_training(F(4, 3), F(3), F(3), F(4), None, F(4, 3), None, None, 0.1, 1e-5),
     ValueError, r"running_mean must have shape \(3,\)"),
    (lambda m: m.batch_norm_forward_training(F(4, 3), F(3), F(3), None, F(3, readonly=True), F(4, 3), None, None,
                                             0.1, 1e-5), ValueError, "read-only"),
    (lambda m: m.batch_norm_forward_training(F(4, 3), F(3), F(3), None, None, F(4, 3), F(3, typestr="<f8"), None,
                                             0.1, 1e-5), TypeError, "weight has dtype float64"),
    (lambda m: m.batch_norm_forward_training(F(4, 3), None, F(3), None, None, F(4, 3), None, None, 0.1, 1e-5),
     TypeError, "save_mean must be a cupy"),
    (lambda m: m.batch_norm_forward_inference(F(4, 3), F(4, 3), F(3), None, None, None, 1e-5), TypeError,
     "running_var must be a cupy"),
    (lambda m: m.batch_norm_forward_inference(F(4, 3), np.zeros((4, 3), np.float32), F(3), F(3), None, None, 1e-5),
     TypeError, "input must be a cupy"),
    (lambda m: m.batch_norm_backward(F(4, 3), F(3), F(3), F(4, 2), F(4, 3), None, F(3), F(3)), ValueError,
     r"grad_output must have shape \(4, 3\)"),
    (lambda m: m.batch_norm_backward(F(4, 3), F(3), F(2), F(4, 3), F(4, 3), None, F(3), F(3)), ValueError,
     r"dbias must have shape \(3,\)"),
    (lambda m: m.batch_norm_backward(F(4, 3), F(3), F(3), F(4, 3), F(4, 3), None, F(3), None), TypeError,
     "save_invstd must be a cupy"),
]


@needs_module
@pytest.mark.parametrize("case", range(len(BOUNDARY)))
def test_cuda_conv_pool_norm_boundary_rejects_bad_arguments(case):
    call, exc, match = BOUNDARY[case]
    with pytest.raises(exc, match=match):
        call(GPU)


@needs_module
def test_cuda_conv_functions_match_cpu_names():
    """Every conv/pool/norm function of fastann._cpu exists in fastann._cuda (the ops call either the same way)."""
    names = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_pick_rung",
             "upsample2d_forward", "upsample2d_backward", "max_pool2d_forward", "max_pool2d_backward",
             "avg_pool2d_forward", "avg_pool2d_backward", "global_avg_pool2d_forward", "global_avg_pool2d_backward",
             "batch_norm_forward_training", "batch_norm_forward_inference", "batch_norm_backward"]
    missing = [n for n in names if not hasattr(GPU, n)]
    assert not missing, missing


@needs_module
def test_cuda_conv_pick_kernel_depthwise_and_dense():
    # depthwise: the direct loops; a dense 3x3 layer: the implicit GEMM
    assert GPU.conv2d_pick_rung([8, 32, 14, 14], [32, 1, 3, 3], 1, 1, 1, 1, 1, 1, 1, 1, 32, "zeros", 0) == 1
    for d in range(3):
        assert GPU.conv2d_pick_rung([8, 32, 14, 14], [64, 32, 3, 3], 1, 1, 1, 1, 1, 1, 1, 1, 1, "zeros", d) == 3
        assert GPU.conv2d_pick_rung([8, 32, 14, 14], [64, 32, 3, 3], 1, 1, 1, 1, 1, 1, 1, 1, 1, "zeros", d,
                                      "float64") == 3


# ---------------------------------------------------------------------------------------------------------
# GPU: every CUDA rung against the CPU kernels
# ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def cp():
    if not fastann.cuda.is_available():
        pytest.skip(f"no usable GPU: {fastann.cuda.why_unavailable()}")
    return pytest.importorskip("cupy")


def cpu_has(*names):
    missing = [n for n in names if not hasattr(CPU, n)]
    if missing:
        pytest.skip(f"fastann._cpu lacks {missing} in this build")


# (input shape, weight shape, (sh, sw), (pt, pb, pl, pr), (dh, dw), groups, padding_mode)
CONV_CASES = [
    ((2, 3, 9, 11), (8, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "zeros"),
    ((1, 4, 8, 7), (6, 2, 3, 2), (2, 1), (1, 0, 2, 1), (2, 1), 2, "zeros"),
    ((2, 6, 7, 7), (6, 1, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 6, "zeros"),       # depthwise
    ((1, 3, 6, 5), (4, 3, 3, 3), (1, 2), (2, 1, 1, 2), (1, 1), 1, "reflect"),
    ((2, 2, 5, 6), (3, 2, 2, 3), (2, 2), (1, 1, 2, 0), (1, 2), 1, "replicate"),
    ((1, 2, 9, 9), (3, 2, 7, 7), (1, 1), (3, 3, 3, 3), (1, 1), 1, "zeros"),       # 7x7
    ((3, 5, 4, 4), (70, 5, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, "zeros"),      # 1x1, two row tiles
    ((1, 1, 1, 1), (1, 1, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, "zeros"),       # everything size 1
    ((4, 16, 14, 14), (32, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "zeros"),  # many tiles, split-K
    ((2, 8, 10, 9), (12, 4, 3, 3), (2, 2), (1, 1, 1, 1), (2, 2), 2, "reflect"),
]


def _conv_call(cp, fn_name, out_shape, out_dtype, arrays, case, rung, xp_module, extra_first=()):
    xs, ws, (sh, sw), (pt, pb, pl, pr), (dh, dw), groups, mode = case
    mod = GPU if xp_module is not np else CPU
    outs = [xp_module.full(s, np.nan, out_dtype) for s in out_shape]
    args = [xp_module.asarray(a) if a is not None else None for a in arrays]
    getattr(mod, fn_name)(*outs, *args, sh, sw, pt, pb, pl, pr, dh, dw, groups, mode, rung)
    return [o.get() if xp_module is not np else o for o in outs]


def _out_hw(case):
    xs, ws, (sh, sw), (pt, pb, pl, pr), (dh, dw), _, _ = case
    oh = (xs[2] + pt + pb - dh * (ws[2] - 1) - 1) // sh + 1
    ow = (xs[3] + pl + pr - dw * (ws[3] - 1) - 1) // sw + 1
    return oh, ow


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rung", [1, 2, 3])
@pytest.mark.parametrize("case", CONV_CASES)
def test_cuda_conv2d_rungs_match_cpu(cp, rng, case, rung, dtype):
    cpu_has("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight")
    xs, ws = case[0], case[1]
    oh, ow = _out_hw(case)
    ys = (xs[0], ws[0], oh, ow)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    dy = rng.standard_normal(ys).astype(dtype)
    tol = TOL_RED[dtype]
    # forward, with and without bias
    for bias in (b, None):
        (ref,) = _conv_call(cp, "conv2d_forward", [ys], dtype, [x, w, bias], case, 0, np)
        (got,) = _conv_call(cp, "conv2d_forward", [ys], dtype, [x, w, bias], case, rung, cp)
        assert_close(got, ref, tol, f"forward rung={rung}")
    (ref,) = _conv_call(cp, "conv2d_backward_input", [xs], dtype, [dy, w], case, 0, np)
    (got,) = _conv_call(cp, "conv2d_backward_input", [xs], dtype, [dy, w], case, rung, cp)
    assert_close(got, ref, tol, f"backward_input rung={rung}")
    ref_w, ref_b = _conv_call(cp, "conv2d_backward_weight", [ws, (ws[0],)], dtype, [dy, x], case, 0, np)
    got_w, got_b = _conv_call(cp, "conv2d_backward_weight", [ws, (ws[0],)], dtype, [dy, x], case, rung, cp)
    assert_close(got_w, ref_w, tol, f"backward_weight rung={rung}")
    assert_close(got_b, ref_b, tol, f"bias grad rung={rung}")


@pytest.mark.gpu
def test_cuda_conv2d_nan_propagates(cp, rng):
    case = CONV_CASES[0]
    x = rng.standard_normal(case[0]).astype(np.float32)
    x[0, 1, 4, 5] = np.nan
    w = rng.standard_normal(case[1]).astype(np.float32)
    oh, ow = _out_hw(case)
    for rung in (1, 2, 3):
        (got,) = _conv_call(cp, "conv2d_forward", [(2, 8, oh, ow)], np.float32, [x, w, None], case, rung, cp)
        assert np.isnan(got[0, :, 3:6, 4:7]).all() and not np.isnan(got[1]).any(), rung


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, scale, mode, align", [
    ((2, 3, 5, 7), (2, 2), "nearest", False), ((1, 2, 4, 3), (3, 1), "nearest", False),
    ((2, 3, 5, 7), (2, 2), "bilinear", False), ((1, 2, 4, 3), (3, 2), "bilinear", True),
    ((1, 1, 1, 1), (2, 3), "bilinear", True), ((1, 1, 1, 2), (2, 2), "bilinear", False)])
def test_cuda_upsample2d_matches_cpu(cp, rng, shape, scale, mode, align, dtype):
    cpu_has("upsample2d_forward", "upsample2d_backward")
    N, C, H, W = shape
    big = (N, C, H * scale[0], W * scale[1])
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(big).astype(dtype)
    ref, got = np.full(big, np.nan, dtype), cp.full(big, np.nan, dtype)
    CPU.upsample2d_forward(ref, x, *scale, mode, align)
    GPU.upsample2d_forward(got, cp.asarray(x), *scale, mode, align)
    assert_close(got.get(), ref, TOL[dtype], "upsample forward")
    ref, got = np.full(shape, np.nan, dtype), cp.full(shape, np.nan, dtype)
    CPU.upsample2d_backward(ref, dy, *scale, mode, align)
    GPU.upsample2d_backward(got, cp.asarray(dy), *scale, mode, align)
    assert_close(got.get(), ref, TOL_RED[dtype], "upsample backward")


# (input shape, kernel_size, stride, padding, dilation, ceil_mode)
POOL_CASES = [
    ((2, 3, 8, 10), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 3, 7, 9), (2, 2), (2, 2), (0, 0), (1, 1), False),    # odd: last row/column dropped
    ((1, 2, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1), True),
    ((1, 2, 9, 8), (3, 2), (1, 2), (1, 1), (2, 1), False),
    ((2, 1, 5, 5), (7, 7), (1, 1), (3, 3), (1, 1), False),
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0), (1, 1), False),
    ((1, 2, 6, 6), (3, 3), (3, 3), (1, 1), (1, 1), True),
]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_cuda_max_pool2d_rungs_match_cpu(cp, rng, case, dtype):
    cpu_has("max_pool2d_forward", "max_pool2d_backward")
    shape, k, s, p, d, ceil = case
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[::7] = x.reshape(-1)[1]           # ties: the first tap must win on both
    if x.size > 5:
        x.reshape(-1)[5] = np.nan                   # NaN wins its windows
    out_shape = (shape[0], shape[1], _pool_out(shape[2], k[0], s[0], p[0], d[0], ceil),
                 _pool_out(shape[3], k[1], s[1], p[1], d[1], ceil))
    # The CPU's direct rung is the reference; every CUDA rung must give the same values and indices.
    ref = np.full(out_shape, np.nan, dtype)
    ref_i = np.full(out_shape, -1, np.int64)
    CPU.max_pool2d_forward(ref, ref_i, x, k, s, p, d, ceil, 1)
    is_2x2 = k == (2, 2) and s == (2, 2) and p == (0, 0) and d == (1, 1) and not ceil
    for rung in ([1, 2, 3] if is_2x2 else [1]) + [0]:
        got = cp.full(out_shape, np.nan, dtype)
        got_i = cp.full(out_shape, -1, np.int64)
        GPU.max_pool2d_forward(got, got_i, cp.asarray(x), k, s, p, d, ceil, rung)
        np.testing.assert_array_equal(got_i.get(), ref_i, err_msg=f"indices rung={rung}")
        np.testing.assert_array_equal(got.get(), ref, err_msg=f"values rung={rung}")
    dy = rng.standard_normal(out_shape).astype(dtype)
    dref = np.full(shape, np.nan, dtype)
    CPU.max_pool2d_backward(dref, dy, ref_i)
    dgot = cp.full(shape, np.nan, dtype)
    GPU.max_pool2d_backward(dgot, cp.asarray(dy), cp.asarray(ref_i))
    assert_close(dgot.get(), dref, TOL_RED[dtype], "max_pool2d backward")


def _pool_out(n, k, s, p, d, ceil):
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)
    o = num // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


@pytest.mark.gpu
def test_cuda_max_pool2d_backward_rejects_bad_index_and_recovers(cp):
    dinput = cp.full((1, 2, 4, 4), np.nan, np.float32)
    dy = cp.ones((1, 2, 2, 2), np.float32)
    idx = cp.zeros((1, 2, 2, 2), np.int64)
    idx[0, 1, 1, 1] = 16                             # H*W: one past the plane
    with pytest.raises(ValueError, match=r"indices must lie in \[0, H\*W\) = \[0, 16\), got 16"):
        GPU.max_pool2d_backward(dinput, dy, idx)
    idx[0, 1, 1, 1] = -3
    with pytest.raises(ValueError, match="got -3"):
        GPU.max_pool2d_backward(dinput, dy, idx)
    idx[0, 1, 1, 1] = 15                             # the context is still healthy
    GPU.max_pool2d_backward(dinput, dy, idx)
    out = dinput.get()
    assert out[0, 0, 0, 0] == 4 and out[0, 1, 0, 0] == 3 and out[0, 1, 3, 3] == 1 and out.sum() == 8


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cip", [True, False])
@pytest.mark.parametrize("case", [c for c in POOL_CASES if c[4] == (1, 1)])
def test_cuda_avg_pool2d_matches_cpu(cp, rng, case, cip, dtype):
    cpu_has("avg_pool2d_forward", "avg_pool2d_backward")
    shape, k, s, p, _, ceil = case
    out_shape = (shape[0], shape[1], _pool_out(shape[2], k[0], s[0], p[0], 1, ceil),
                 _pool_out(shape[3], k[1], s[1], p[1], 1, ceil))
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(out_shape).astype(dtype)
    ref, got = np.full(out_shape, np.nan, dtype), cp.full(out_shape, np.nan, dtype)
    CPU.avg_pool2d_forward(ref, x, k, s, p, ceil, cip)
    GPU.avg_pool2d_forward(got, cp.asarray(x), k, s, p, ceil, cip)
    assert_close(got.get(), ref, TOL_RED[dtype], "avg forward")
    ref, got = np.full(shape, np.nan, dtype), cp.full(shape, np.nan, dtype)
    CPU.avg_pool2d_backward(ref, dy, k, s, p, ceil, cip)
    GPU.avg_pool2d_backward(got, cp.asarray(dy), k, s, p, ceil, cip)
    assert_close(got.get(), ref, TOL_RED[dtype], "avg backward")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 1, 1, 1), (3, 70, 33, 31), (1, 2, 1, 1000)])
def test_cuda_global_avg_pool2d_matches_cpu(cp, rng, shape, dtype):
    cpu_has("global_avg_pool2d_forward", "global_avg_pool2d_backward")
    x = (rng.standard_normal(shape) + 3).astype(dtype)
    dy = rng.standard_normal(shape[:2]).astype(dtype)
    ref, got = np.full(shape[:2], np.nan, dtype), cp.full(shape[:2], np.nan, dtype)
    CPU.global_avg_pool2d_forward(ref, x)
    GPU.global_avg_pool2d_forward(got, cp.asarray(x))
    assert_close(got.get(), ref, TOL[dtype], "global avg forward")
    ref, got = np.full(shape, np.nan, dtype), cp.full(shape, np.nan, dtype)
    CPU.global_avg_pool2d_backward(ref, dy)
    GPU.global_avg_pool2d_backward(got, cp.asarray(dy))
    assert_close(got.get(), ref, TOL[dtype], "global avg backward")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 5), (3, 4, 5, 7), (128, 32, 6, 6), (2, 3, 1, 1), (1000, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_cuda_batch_norm_matches_cpu(cp, rng, shape, affine, dtype):
    cpu_has("batch_norm_forward_training", "batch_norm_forward_inference", "batch_norm_backward")
    C = shape[1]
    # a large mean and small spread: the statistics must not cancel catastrophically
    w = rng.standard_normal(C).astype(dtype) if affine else None
    b = rng.standard_normal(C).astype(dtype) if affine else None
    g = lambda a: None if a is None else cp.asarray(a)  # noqa: E731
    rm_c, rv_c = np.zeros(C, dtype), np.ones(C, dtype)
    rm_g, rv_g = cp.zeros(C, dtype), cp.ones(C, dtype)
    tol = TOL_RED[dtype]
    for step in range(3):                               # running statistics after several steps
        x = (rng.standard_normal(shape) * 0.1 + 100 + step).astype(dtype)
        outs_c = [np.full(shape, np.nan, dtype), np.full(C, np.nan, dtype), np.full(C, np.nan, dtype)]
        outs_g = [cp.full(shape, np.nan, dtype), cp.full(C, np.nan, dtype), cp.full(C, np.nan, dtype)]
        CPU.batch_norm_forward_training(*outs_c, rm_c, rv_c, x, w, b, 0.1, 1e-5)
        GPU.batch_norm_forward_training(*outs_g, rm_g, rv_g, cp.asarray(x), g(w), g(b), 0.1, 1e-5)
        for c_, g_, name in zip(outs_c, outs_g, ["out", "save_mean", "save_invstd"]):
            assert_close(g_.get(), c_, tol, f"training {name} step {step}")
        assert_close(rm_g.get(), rm_c, tol, f"running_mean step {step}")
        assert_close(rv_g.get(), rv_c, tol, f"running_var step {step}")
    dy = rng.standard_normal(shape).astype(dtype)
    grads_c = [np.full(shape, np.nan, dtype), np.full(C, np.nan, dtype), np.full(C, np.nan, dtype)]
    grads_g = [cp.full(shape, np.nan, dtype), cp.full(C, np.nan, dtype), cp.full(C, np.nan, dtype)]
    CPU.batch_norm_backward(*grads_c, dy, x, w, outs_c[1], outs_c[2])
    GPU.batch_norm_backward(*grads_g, cp.asarray(dy), cp.asarray(x), g(w), cp.asarray(outs_c[1]),
                            cp.asarray(outs_c[2]))
    for c_, g_, name in zip(grads_c, grads_g, ["dinput", "dweight", "dbias"]):
        assert_close(g_.get(), c_, 10 * tol, f"backward {name}")
    ref, got = np.full(shape, np.nan, dtype), cp.full(shape, np.nan, dtype)
    CPU.batch_norm_forward_inference(ref, x, rm_c, rv_c, w, b, 1e-5)
    GPU.batch_norm_forward_inference(got, cp.asarray(x), cp.asarray(rm_c), cp.asarray(rv_c), g(w), g(b), 1e-5)
    assert_close(got.get(), ref, TOL[dtype] * 4, "inference")


@pytest.mark.gpu
def test_cuda_batch_norm_nan_propagates(cp):
    x = cp.ones((4, 2, 3, 3), cp.float32)
    x[1, 0, 2, 2] = cp.nan
    out, sm, si = cp.empty_like(x), cp.empty(2, cp.float32), cp.empty(2, cp.float32)
    GPU.batch_norm_forward_training(out, sm, si, None, None, x, None, None, 0.1, 1e-5)
    o = out.get()
    assert np.isnan(o[:, 0]).all() and not np.isnan(o[:, 1]).any()
