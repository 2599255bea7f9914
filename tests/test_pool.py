"""Pooling kernels (max / avg / global avg, forward and backward) against fastann.reference.pool."""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_ELEMENTWISE, TOL_REDUCTION, assert_close, check_at_simd, gradcheck, to_numpy

CPU = fastann._backend.cpu
DTYPES = [np.float32, np.float64]

# (input shape, kernel_size, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((2, 3, 7, 9), 3, 2, 1, 1, True),
    ((2, 3, 7, 9), 3, 2, 1, 1, False),
    ((1, 2, 8, 8), 2, None, 0, 1, False),
    ((3, 2, 9, 11), 2, 2, 0, 1, False),  # odd sizes, floor mode: the 2x2 rungs apply
    ((3, 2, 9, 11), 2, 2, 0, 1, True),   # ceil mode: a partial last window, direct rung
    ((2, 2, 6, 6), 2, 1, 1, 1, True),    # stride < kernel (overlapping windows), padding
    ((1, 1, 5, 5), 1, 1, 0, 1, False),   # 1x1
    ((1, 1, 1, 1), 1, None, 0, 1, False),  # size-1 edge
    ((2, 2, 13, 12), 7, 3, 3, 1, True),  # 7x7
    ((1, 3, 10, 10), (2, 3), (1, 2), (1, 1), (2, 1), False),  # rectangular, dilation
    ((2, 3, 11, 11), 3, 2, 1, 2, True),  # dilation + ceil_mode
    ((2, 3, 6, 37), 2, 2, 0, 1, False),  # 2x2: 18 outputs per row (a full 16-lane step + masked tail)
    ((1, 2, 5, 70), 2, None, 0, 1, True),  # 2x2, ceil mode with even W, odd H: direct
]
# 2x2/stride-2 shapes for the rungs. Rung 2's AVX-512 loop steps 16 (float) / 8 (double) outputs; a row
# tail reads ahead and writes over the next rows of its plane unless that would leave the plane: cover OW
# below, at and above the step, many short rows, odd H (an unused last input row) and the CNN's 28 -> 14.
# Rung 2's scalar loop runs on the same shapes in test_lower_simd_paths_in_subprocess.
TWO_BY_TWO = [((1, 2, 8, 8), 2), ((3, 2, 9, 11), 2), ((2, 3, 6, 37), 2), ((1, 1, 2, 2), 2), ((2, 1, 4, 66), 2),
              ((1, 1, 3, 5), 2), ((2, 3, 31, 10), 2), ((1, 2, 40, 34), 2), ((3, 2, 28, 28), 2),
              ((2, 2, 7, 32), 2), ((1, 3, 5, 18), 2), ((2, 1, 64, 3), 2)]


# The CPU's max_pool2d rungs; each runs on the best ISA this process has (AVX-512 or scalar loops).
CPU_RUNGS = [1, 2]


def _input(rng, shape, dtype, xp):
    return xp.asarray(rng.standard_normal(shape).astype(dtype))


# ---- max_pool2d forward -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_matches_reference(xp, rng, dtype, case):
    shape, k, s, p, d, ceil = case
    x = _input(rng, shape, dtype, xp)
    out, idx = ops.max_pool2d(x, k, s, p, d, ceil)
    rout, ridx = ref.max_pool2d(to_numpy(x), k, s, p, d, ceil)
    assert out.dtype == dtype and idx.dtype == np.int64
    # A maximum is one of the inputs: exact equality, same index.
    np.testing.assert_array_equal(to_numpy(out), rout.astype(dtype))
    np.testing.assert_array_equal(to_numpy(idx), ridx)


@pytest.mark.parametrize("rung", CPU_RUNGS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k", TWO_BY_TWO)
def test_max_pool2d_rungs(rng, rung, dtype, shape, k):
    x = rng.standard_normal(shape).astype(dtype)
    out, idx = ops.max_pool2d(x, k, rung=rung)
    rout, ridx = ref.max_pool2d(x, k)
    np.testing.assert_array_equal(out, rout.astype(dtype))
    np.testing.assert_array_equal(idx, ridx)


@pytest.mark.parametrize("rung", CPU_RUNGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_ties_nan_and_inf(rng, rung, dtype):
    # Few distinct values (many ties: the first tap wins), NaNs (a NaN wins, the last one's index) and
    # all--inf windows (index of the first tap), on every rung that handles 2x2/stride 2.
    x = rng.integers(-2, 3, size=(3, 4, 10, 38)).astype(dtype)
    x[rng.random(x.shape) < 0.05] = np.nan
    x[rng.random(x.shape) < 0.05] = -np.inf
    x[0, 0, :2, :2] = -np.inf
    x[0, 1, :2, :2] = [[np.nan, 1], [np.nan, 5]]
    out, idx = ops.max_pool2d(x, 2, rung=rung)
    rout, ridx = ref.max_pool2d(x, 2)
    np.testing.assert_array_equal(out, rout.astype(dtype))  # NaN == NaN for assert_array_equal
    np.testing.assert_array_equal(idx, ridx)
    assert idx[0, 0, 0, 0] == 0 and np.isneginf(out[0, 0, 0, 0])
    assert idx[0, 1, 0, 0] == x.shape[3] and np.isnan(out[0, 1, 0, 0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nan_propagates_general(xp, rng, dtype):
    x = rng.standard_normal((2, 2, 9, 9)).astype(dtype)
    x[1, 1, 4, 4] = np.nan
    out, idx = ops.max_pool2d(xp.asarray(x), 3, 2, 1, ceil_mode=True)
    rout, ridx = ref.max_pool2d(x, 3, 2, 1, ceil_mode=True)
    out = to_numpy(out)
    assert np.isnan(out[1, 1]).sum() == np.isnan(rout[1, 1]).sum() > 0
    np.testing.assert_array_equal(out, rout.astype(dtype))
    np.testing.assert_array_equal(to_numpy(idx), ridx)


# ---- max_pool2d backward ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_backward_matches_reference(xp, rng, dtype, case):
    shape, k, s, p, d, ceil = case
    x = _input(rng, shape, dtype, xp)
    out, idx = ops.max_pool2d(x, k, s, p, d, ceil)
    g = xp.asarray(rng.standard_normal(out.shape).astype(dtype))
    dx = ops.max_pool2d_backward(g, idx, shape)
    rdx = ref.max_pool2d_backward(to_numpy(g), to_numpy(idx), shape)
    assert dx.dtype == dtype
    assert_close(dx, rdx, TOL_ELEMENTWISE[dtype], "max_pool2d_backward")


@pytest.mark.parametrize("case", [((2, 2, 5, 6), 2, None, 0, 1, False), ((1, 2, 7, 7), 3, 2, 1, 1, True),
                                  ((1, 1, 7, 8), (3, 2), (2, 1), (1, 1), (2, 2), False)])
def test_max_pool2d_gradcheck(rng, case):
    shape, k, s, p, d, ceil = case
    # Distinct values at least 0.01 apart: the finite-difference step never changes the argmax.
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01
    idx = ops.max_pool2d(x, k, s, p, d, ceil)[1]
    gradcheck(lambda a: ops.max_pool2d(a, k, s, p, d, ceil)[0],
              lambda g, a: ops.max_pool2d_backward(g, idx, shape), [x], rng)


# ---- avg_pool2d ---------------------------------------------------------------------------------------

# (input shape, kernel_size, stride, padding, ceil_mode)
AVG_CASES = [
    ((2, 3, 7, 9), 3, 2, 1, True),   # ceil_mode window running past the padding
    ((2, 3, 7, 9), 3, 2, 1, False),
    ((1, 2, 8, 8), 2, None, 0, False),
    ((3, 2, 9, 11), 2, 2, 0, True),
    ((2, 2, 6, 5), 3, 1, 1, False),  # overlapping windows
    ((1, 1, 5, 5), 1, 1, 0, False),
    ((1, 1, 1, 1), 1, None, 0, True),
    ((2, 2, 13, 12), 7, 3, 3, True),
    ((1, 3, 10, 11), (2, 3), (3, 2), (1, 1), True),
]


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_matches_reference(xp, rng, dtype, case, count_include_pad):
    shape, k, s, p, ceil = case
    x = _input(rng, shape, dtype, xp)
    out = ops.avg_pool2d(x, k, s, p, ceil, count_include_pad)
    assert out.dtype == dtype
    # Scaled by the mean of |x| over each window: a window's values may cancel (see helpers.rel_err).
    xn = to_numpy(x)
    assert_close(out, ref.avg_pool2d(xn, k, s, p, ceil, count_include_pad), TOL_ELEMENTWISE[dtype],
                 "avg_pool2d", scale=ref.avg_pool2d(np.abs(xn), k, s, p, ceil, count_include_pad))
    g = xp.asarray(rng.standard_normal(out.shape).astype(dtype))
    dx = ops.avg_pool2d_backward(g, shape, k, s, p, ceil, count_include_pad)
    assert dx.dtype == dtype
    assert_close(dx, ref.avg_pool2d_backward(to_numpy(g), shape, k, s, p, ceil, count_include_pad),
                 TOL_ELEMENTWISE[dtype], "avg_pool2d_backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k", TWO_BY_TWO)
def test_avg_pool2d_2x2_fast_path(xp, rng, dtype, shape, k):
    # The 2x2/stride-2 path (AVX-512 with full-width tails where available) on the same shape list.
    x = _input(rng, shape, dtype, xp)
    out = ops.avg_pool2d(x, k)
    # Scaled by the windows' mean |x|: shape (1, 1, 2, 2) has a single output, which may be near zero.
    xn = to_numpy(x)
    assert_close(out, ref.avg_pool2d(xn, k), TOL_ELEMENTWISE[dtype], "avg_pool2d 2x2",
                 scale=ref.avg_pool2d(np.abs(xn), k))
    g = xp.asarray(rng.standard_normal(out.shape).astype(dtype))
    assert_close(ops.avg_pool2d_backward(g, shape, k), ref.avg_pool2d_backward(to_numpy(g), shape, k),
                 TOL_ELEMENTWISE[dtype], "avg_pool2d_backward 2x2")


LOWER_SIMD_SCRIPT = """
from test_pool import TWO_BY_TWO
for shape, k in TWO_BY_TWO:
    for dt in (np.float32, np.float64):
        x = rng.standard_normal(shape).astype(dt)
        x[rng.random(shape) < 0.05] = np.nan
        rout, ridx = ref.max_pool2d(x, k)
        for rung in (None, 1, 2):
            out, idx = ops.max_pool2d(x, k, rung=rung)
            assert np.array_equal(out, rout.astype(dt), equal_nan=True), (shape, rung)
            assert np.array_equal(idx, ridx), (shape, rung)
        assert np.allclose(ops.avg_pool2d(x, k), ref.avg_pool2d(x, k), rtol=1e-5, atol=1e-6, equal_nan=True)
"""


@pytest.mark.parametrize("level", ["scalar", "avx2"])
def test_lower_simd_paths_in_subprocess(level):
    # FASTANN_SIMD=scalar / avx2 take the scalar 2x2 loops (pool has no AVX2 file), as on a CPU without
    # AVX-512; simd_level() is fixed at first use, hence a fresh interpreter.
    check_at_simd(level, LOWER_SIMD_SCRIPT)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("case", [((2, 1, 5, 6), 3, 2, 1, True), ((1, 2, 4, 5), 2, 1, 0, False)])
def test_avg_pool2d_gradcheck(rng, case, count_include_pad):
    shape, k, s, p, ceil = case
    x = rng.standard_normal(shape)
    gradcheck(lambda a: ops.avg_pool2d(a, k, s, p, ceil, count_include_pad),
              lambda g, a: ops.avg_pool2d_backward(g, shape, k, s, p, ceil, count_include_pad), [x], rng)


def test_avg_pool2d_divisor_rules():
    # 1x1x3x3 of ones, rung 2, stride 2, padding 1, ceil_mode: windows at -1 and 1 per dim.
    x = np.ones((1, 1, 3, 3))
    # count_include_pad: corner window covers 1 real + 3 padding -> 1/4; the last window [1, 3) is clipped
    # to the padded edge 4 -> still 2 taps wide, all real in that dim.
    np.testing.assert_allclose(ops.avg_pool2d(x, 2, 2, 1, True, True)[0, 0], [[0.25, 0.5], [0.5, 1.0]])
    np.testing.assert_allclose(ops.avg_pool2d(x, 2, 2, 1, True, False)[0, 0], [[1, 1], [1, 1]])
    # ceil_mode window running past the padded edge: H=4, k=3, s=2, p=1 -> windows [-1,2), [1,4), [3,6)->[3,5)
    y = ops.avg_pool2d(np.ones((1, 1, 4, 4)), 3, 2, 1, True, True)
    np.testing.assert_allclose(y[0, 0, 2, 2], 1.0 / (2 * 2))


# ---- global_avg_pool2d --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (1, 1, 1, 1), (4, 5, 1, 13), (3, 64, 14, 14)])
def test_global_avg_pool2d(xp, rng, dtype, shape):
    x = _input(rng, shape, dtype, xp)
    out = ops.global_avg_pool2d(x)
    assert out.shape == shape[:2] and out.dtype == dtype
    assert_close(out, ref.global_avg_pool2d(to_numpy(x)), TOL_REDUCTION[dtype], "global_avg_pool2d")
    g = xp.asarray(rng.standard_normal(shape[:2]).astype(dtype))
    dx = ops.global_avg_pool2d_backward(g, shape)
    assert_close(dx, ref.global_avg_pool2d_backward(to_numpy(g), shape), TOL_ELEMENTWISE[dtype],
                 "global_avg_pool2d_backward")


def test_global_avg_pool2d_gradcheck(rng):
    shape = (2, 3, 3, 4)
    gradcheck(ops.global_avg_pool2d, lambda g, a: ops.global_avg_pool2d_backward(g, shape),
              [rng.standard_normal(shape)], rng)


def test_nan_propagates_avg(rng):
    x = rng.standard_normal((1, 2, 6, 6))
    x[0, 1, 2, 3] = np.nan
    assert np.isnan(ops.avg_pool2d(x, 2)[0, 1, 1, 1]) and not np.isnan(ops.avg_pool2d(x, 2)[0, 0]).any()
    assert np.isnan(ops.global_avg_pool2d(x)[0, 1]) and not np.isnan(ops.global_avg_pool2d(x)[0, 0])


def test_large_2x2_uses_threads(rng):
    # Enough planes for parallel_for to split over threads (when there are several): same answer.
    x = rng.standard_normal((8, 32, 28, 28)).astype(np.float32)
    out, idx = ops.max_pool2d(x, 2)
    rout, ridx = ref.max_pool2d(x, 2)
    np.testing.assert_array_equal(out, rout.astype(np.float32))
    np.testing.assert_array_equal(idx, ridx)


# ---- bad input -------------------------------------------------------------------------------------------

X = np.zeros((2, 3, 8, 8), np.float32)

BAD_FORWARD = [
    # (description, exception, callable taking (module) -> call)
    ("int dtype", TypeError, lambda m: m.max_pool2d(X.astype(np.int32), 2)),
    ("ndim 3", ValueError, lambda m: m.max_pool2d(X[0], 2)),
    ("ndim 5", ValueError, lambda m: m.avg_pool2d(X[None], 2)),
    ("kernel 0", ValueError, lambda m: m.max_pool2d(X, 0)),
    ("kernel -1", ValueError, lambda m: m.avg_pool2d(X, -1)),
    ("stride 0", ValueError, lambda m: m.max_pool2d(X, 2, 0)),
    ("stride -2", ValueError, lambda m: m.avg_pool2d(X, 2, (1, -2))),
    ("padding > k/2", ValueError, lambda m: m.max_pool2d(X, 3, 1, 2)),
    ("negative padding", ValueError, lambda m: m.avg_pool2d(X, 3, 1, -1)),
    ("output too small", ValueError, lambda m: m.max_pool2d(X, 9)),
    ("dilated window too big", ValueError, lambda m: m.max_pool2d(X, 3, dilation=4)),
    ("window in padding", ValueError, lambda m: m.max_pool2d(np.zeros((1, 1, 1, 1), np.float32), 2, 1, 1, 2)),
    ("kernel_size triple", ValueError, lambda m: m.avg_pool2d(X, (2, 2, 2))),
    ("non-contiguous", ValueError, lambda m: m.max_pool2d(X[:, :, ::2], 2)),
    ("negative stride view", ValueError, lambda m: m.avg_pool2d(X[..., ::-1], 2)),
    ("empty", ValueError, lambda m: m.max_pool2d(np.zeros((0, 3, 8, 8), np.float32), 2)),
    ("ceil_mode not bool", TypeError, lambda m: m.max_pool2d(X, 2, ceil_mode="yes")),
    ("count_include_pad not bool", TypeError, lambda m: m.avg_pool2d(X, 2, count_include_pad=None)),
    ("list input", TypeError, lambda m: m.global_avg_pool2d(X.tolist())),
    ("global ndim 2", ValueError, lambda m: m.global_avg_pool2d(X[0, 0])),
    ("max backward int64 grad", TypeError,
     lambda m: m.max_pool2d_backward(np.zeros((2, 3, 4, 4), np.int64), np.zeros((2, 3, 4, 4), np.int64), X.shape)),
    ("max backward int32 indices", TypeError,
     lambda m: m.max_pool2d_backward(np.zeros((2, 3, 4, 4), np.float32), np.zeros((2, 3, 4, 4), np.int32), X.shape)),
    ("max backward shape mismatch", ValueError,
     lambda m: m.max_pool2d_backward(np.zeros((2, 3, 4, 4), np.float32), np.zeros((2, 3, 4, 3), np.int64), X.shape)),
    ("max backward index out of range", ValueError,
     lambda m: m.max_pool2d_backward(np.zeros((2, 3, 4, 4), np.float32), np.full((2, 3, 4, 4), 64, np.int64), X.shape)),
    ("max backward negative index", ValueError,
     lambda m: m.max_pool2d_backward(np.zeros((2, 3, 4, 4), np.float32), np.full((2, 3, 4, 4), -1, np.int64), X.shape)),
    ("max backward bad input_shape", ValueError,
     lambda m: m.max_pool2d_backward(np.zeros((2, 3, 4, 4), np.float32), np.zeros((2, 3, 4, 4), np.int64), (2, 3, 8))),
    ("avg backward grad shape", ValueError,
     lambda m: m.avg_pool2d_backward(np.zeros((2, 3, 4, 5), np.float32), X.shape, 2)),
    ("global backward grad shape", ValueError,
     lambda m: m.global_avg_pool2d_backward(np.zeros((2, 4), np.float32), X.shape)),
]


@pytest.mark.parametrize("desc,exc,call", BAD_FORWARD, ids=[c[0] for c in BAD_FORWARD])
@pytest.mark.parametrize("module", ["ops", "reference"])
def test_bad_input(desc, exc, call, module):
    with pytest.raises(exc, match="pool"):
        call(ops if module == "ops" else ref)


def test_bad_kernel_rung():
    with pytest.raises(ValueError, match="rung"):
        ops.max_pool2d(X, 2, rung=4)
    with pytest.raises(ValueError, match="CUDA only"):  # rung 3 is the CUDA backend's
        ops.max_pool2d(X, 2, rung=3)
    with pytest.raises(ValueError, match="2x2"):
        ops.max_pool2d(X, 3, 1, 1, rung=2)
    with pytest.raises(ValueError, match="2x2"):
        ops.max_pool2d(np.zeros((1, 1, 5, 5)), 2, ceil_mode=True, rung=2)


P2, S2, Z2, D1 = (2, 2), (2, 2), (0, 0), (1, 1)


def _mp(out=None, idx=None, inp=X, k=P2, s=S2, p=Z2, d=D1, ceil=False, rung=0):
    out = np.zeros((2, 3, 4, 4), np.float32) if out is None else out
    idx = np.zeros((2, 3, 4, 4), np.int64) if idx is None else idx
    return CPU.max_pool2d_forward(out, idx, inp, k, s, p, d, ceil, rung)


BAD_DIRECT = [
    ("input dtype", TypeError, lambda: _mp(inp=X.astype(np.int32))),
    ("out dtype", TypeError, lambda: _mp(out=np.zeros((2, 3, 4, 4)))),
    ("indices dtype", TypeError, lambda: _mp(idx=np.zeros((2, 3, 4, 4), np.int32))),
    ("input ndim", ValueError, lambda: _mp(inp=X[0])),
    ("out shape", ValueError, lambda: _mp(out=np.zeros((2, 3, 4, 5), np.float32))),
    ("indices shape", ValueError, lambda: _mp(idx=np.zeros((2, 3, 5, 4), np.int64))),
    ("kernel 0", ValueError, lambda: _mp(k=(0, 2))),
    ("stride 0", ValueError, lambda: _mp(s=(2, 0))),
    ("stride negative", ValueError, lambda: _mp(s=(-2, 2))),
    ("dilation 0", ValueError, lambda: _mp(d=(0, 1))),
    ("padding too large", ValueError, lambda: _mp(p=(2, 0))),
    ("output too small", ValueError, lambda: _mp(k=(9, 9))),
    ("non-contiguous input", ValueError, lambda: _mp(inp=np.zeros((2, 3, 8, 16), np.float32)[..., ::2])),
    ("negative stride input", ValueError, lambda: _mp(inp=X[:, :, ::-1])),
    ("read-only out", ValueError, lambda: _mp(out=np.broadcast_to(np.float32(0), (2, 3, 4, 4)))),
    ("empty input", ValueError,
     lambda: _mp(inp=np.zeros((0, 3, 8, 8), np.float32), out=np.zeros((0, 3, 4, 4), np.float32),
                 idx=np.zeros((0, 3, 4, 4), np.int64))),
    ("unknown rung", ValueError, lambda: _mp(rung=9)),
    ("CUDA-only rung", ValueError, lambda: _mp(rung=3)),
    ("2x2 rung on 3x3", ValueError, lambda: CPU.max_pool2d_forward(
        np.zeros((2, 3, 6, 6), np.float32), np.zeros((2, 3, 6, 6), np.int64), X, (3, 3), (1, 1), (0, 0), D1, False, 2)),
    ("max backward bad index", ValueError, lambda: CPU.max_pool2d_backward(
        np.zeros_like(X), np.zeros((2, 3, 4, 4), np.float32), np.full((2, 3, 4, 4), 10**12, np.int64))),
    ("max backward N mismatch", ValueError, lambda: CPU.max_pool2d_backward(
        np.zeros_like(X), np.zeros((1, 3, 4, 4), np.float32), np.zeros((1, 3, 4, 4), np.int64))),
    ("max backward dtype mix", TypeError, lambda: CPU.max_pool2d_backward(
        np.zeros(X.shape), np.zeros((2, 3, 4, 4), np.float32), np.zeros((2, 3, 4, 4), np.int64))),
    ("avg forward out shape", ValueError, lambda: CPU.avg_pool2d_forward(
        np.zeros((2, 3, 3, 3), np.float32), X, P2, S2, Z2, False, True)),
    ("avg forward padding", ValueError, lambda: CPU.avg_pool2d_forward(
        np.zeros((2, 3, 5, 5), np.float32), X, P2, S2, (2, 2), False, True)),
    ("avg backward grad shape", ValueError, lambda: CPU.avg_pool2d_backward(
        np.zeros_like(X), np.zeros((2, 3, 4, 3), np.float32), P2, S2, Z2, False, True)),
    ("avg backward dtype", TypeError, lambda: CPU.avg_pool2d_backward(
        np.zeros_like(X), np.zeros((2, 3, 4, 4), np.float64), P2, S2, Z2, False, True)),
    ("global forward out shape", ValueError, lambda: CPU.global_avg_pool2d_forward(np.zeros((2, 4), np.float32), X)),
    ("global forward ndim", ValueError, lambda: CPU.global_avg_pool2d_forward(np.zeros((2, 3), np.float32), X[0])),
    ("global backward shape", ValueError, lambda: CPU.global_avg_pool2d_backward(
        np.zeros_like(X), np.zeros((3, 2), np.float32))),
    ("global backward dtype", TypeError, lambda: CPU.global_avg_pool2d_backward(
        np.zeros_like(X), np.zeros((2, 3), np.int32))),
]


@pytest.mark.parametrize("desc,exc,call", BAD_DIRECT, ids=[c[0] for c in BAD_DIRECT])
def test_bad_input_direct_cpu(desc, exc, call):
    with pytest.raises(exc, match="pool"):
        call()


def test_reference_matches_torch_if_installed(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((2, 3, 9, 8))
    t = torch.from_numpy(x)
    for k, s, p, d, ceil in [(3, 2, 1, 1, True), ((2, 3), (1, 2), 1, 2, False), (2, 2, 0, 1, True)]:
        out, idx = ref.max_pool2d(x, k, s, p, d, ceil)
        tout, tidx = F.max_pool2d(t, k, s, p, d, ceil, return_indices=True)
        np.testing.assert_array_equal(out, tout.numpy())
        np.testing.assert_array_equal(idx, tidx.numpy())
    for k, s, p, ceil in [(3, 2, 1, True), (2, 2, 1, True), ((3, 2), (2, 3), (1, 1), True), (3, 1, 1, False)]:
        for cip in (True, False):
            np.testing.assert_allclose(ref.avg_pool2d(x, k, s, p, ceil, cip),
                                       F.avg_pool2d(t, k, s, p, ceil, cip).numpy(), rtol=1e-12, atol=1e-12)


def test_same_result_for_any_thread_count(rng):
    x = rng.standard_normal((8, 16, 28, 28)).astype(np.float32)  # 128 planes: enough to split
    old = fastann.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            fastann.set_num_threads(n)
            out, idx = ops.max_pool2d(x, 2)
            outs.append((out, idx, ops.avg_pool2d(x, 3, 2, 1), ops.max_pool2d_backward(out, idx, x.shape)))
    finally:
        fastann.set_num_threads(old)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


def test_huge_window_with_padding_is_fast(rng):
    # kernel 2^20 with padding 2^19 on a tiny input is legal (output 4x5); the kernels and the reference
    # must only visit taps that land in the input, not 2^40 padding taps.
    x = rng.standard_normal((1, 2, 3, 4))
    k, p = 2 ** 20, 2 ** 19
    out, idx = ops.max_pool2d(x, k, 1, p)
    rout, ridx = ref.max_pool2d(x, k, 1, p)
    np.testing.assert_array_equal(out, rout)
    np.testing.assert_array_equal(idx, ridx)
    for cip in (True, False):
        assert_close(ops.avg_pool2d(x, k, 1, p, False, cip), ref.avg_pool2d(x, k, 1, p, False, cip), 1e-12, "avg")
        g = rng.standard_normal(out.shape)
        assert_close(ops.avg_pool2d_backward(g, x.shape, k, 1, p, False, cip),
                     ref.avg_pool2d_backward(g, x.shape, k, 1, p, False, cip), 1e-12, "avg backward")
