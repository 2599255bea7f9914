"""Tests of the gemm family: every GEMM rung, linear forward/backward, bad input (ops and fastann._cpu)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastann
from fastann import ops, reference
from fastann import _cpu
from helpers import TOL_REDUCTION, assert_close, check_at_simd, gradcheck, to_numpy

DTYPES = [np.float32, np.float64]
RUNGS = [None, 1, 2, 3, 4]
# (M, N, K): size-1 edges, odd sizes, shapes crossing the AVX-512 micro-tile (MR=6, NR=64 fp32 / 32 fp64)
# the fp64 / fp32 KC blocks (512 / 1024), the NC block (1024), and a larger product rung 4 splits across threads.
SHAPES = [(1, 1, 1), (7, 13, 5), (33, 65, 17), (6, 64, 3), (13, 129, 1030), (9, 1090, 7), (257, 300, 129)]


@pytest.fixture
def two_threads():
    """Run with 2 OpenMP threads (rung 4 then really splits C), restoring the previous count."""
    old = fastann.get_num_threads()
    fastann.set_num_threads(2)
    yield
    fastann.set_num_threads(old)


def _operands(rng, m, n, k, dtype, trans_a, trans_b):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


# ---- GEMM vs the float64 reference ---------------------------------------------------------------

@pytest.mark.parametrize("rung", RUNGS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm_matches_reference(xp, rng, two_threads, rung, dtype, trans_a, trans_b, shape):
    m, n, k = shape
    a, b = _operands(rng, m, n, k, dtype, trans_a, trans_b)
    out = ops.gemm(xp.asarray(a), xp.asarray(b), trans_a=trans_a, trans_b=trans_b, rung=rung)
    assert out.dtype == dtype and out.shape == (m, n)
    ref = reference.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert_close(out, ref, TOL_REDUCTION[dtype], f"gemm rung={rung}")


@pytest.mark.parametrize("rung", RUNGS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7, 13, 5), (70, 130, 40)], ids=lambda s: "x".join(map(str, s)))
def test_gemm_alpha_beta_in_place(xp, rng, two_threads, rung, dtype, shape):
    m, n, k = shape
    a, b = _operands(rng, m, n, k, dtype, True, False)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    c = xp.asarray(c0.copy())
    out = ops.gemm(xp.asarray(a), xp.asarray(b), c=c, alpha=-0.7, beta=1.3, trans_a=True, rung=rung)
    assert out is c  # updated in place and returned
    ref = reference.gemm(a, b, c=c0, alpha=-0.7, beta=1.3, trans_a=True)
    assert_close(out, ref, TOL_REDUCTION[dtype], f"gemm rung={rung} alpha/beta")


@pytest.mark.parametrize("rung", RUNGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_beta_zero_does_not_read_c(xp, rng, rung, dtype):
    """beta=0: C is write-only (BLAS), so a NaN-filled C must not leak into the result."""
    a, b = _operands(rng, 19, 70, 33, dtype, False, True)
    c = xp.full((19, 70), np.nan, dtype=dtype)
    out = ops.gemm(xp.asarray(a), xp.asarray(b), c=c, alpha=2.0, beta=0.0, trans_b=True, rung=rung)
    assert np.all(np.isfinite(to_numpy(out)))
    assert_close(out, reference.gemm(a, b, alpha=2.0, trans_b=True), TOL_REDUCTION[dtype])


@pytest.mark.parametrize("rung", RUNGS)
def test_gemm_propagates_nan(xp, rng, rung):
    a, b = _operands(rng, 9, 70, 12, np.float32, False, False)
    a[4, 3] = np.nan
    b[5, 66] = np.nan
    out = to_numpy(ops.gemm(xp.asarray(a), xp.asarray(b), rung=rung))
    assert np.all(np.isnan(out[4, :])) and np.all(np.isnan(out[:, 66]))
    mask = np.ones_like(out, dtype=bool)
    mask[4, :] = False
    mask[:, 66] = False
    assert np.all(np.isfinite(out[mask]))


def test_gemm_threads_agree(rng):
    """Rung 4 on 1 and on 2 threads computes the same C (tiles are disjoint, sums in the same order)."""
    a, b = _operands(rng, 301, 517, 77, np.float32, False, False)
    old = fastann.get_num_threads()
    try:
        fastann.set_num_threads(1)
        one = ops.gemm(a, b, rung=4)
        fastann.set_num_threads(2)
        two = ops.gemm(a, b, rung=4)
    finally:
        fastann.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("level", ["avx2", "scalar"])
def test_gemm_fallback_paths(level):
    """The AVX2 and scalar micro-kernels (forced with FASTANN_SIMD in a fresh process) match NumPy."""
    check_at_simd(level, """
        for dt in (np.float32, np.float64):
            for (m, n, k) in [(1, 1, 1), (7, 13, 5), (25, 37, 300), (130, 70, 513), (7, 20, 1030)]:
                for ta in (False, True):
                    for tb in (False, True):
                        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
                        b = rng.standard_normal((n, k) if tb else (k, n)).astype(dt)
                        ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
                        for kern in (3, 4):
                            out = ops.gemm(a, b, trans_a=ta, trans_b=tb, rung=kern)
                            err = np.linalg.norm(out - ref) / np.linalg.norm(ref)
                            assert err < 1e-5, (dt, m, n, k, ta, tb, kern, err)
                for (n, in_f, out_f) in [(9, 20, 70), (128, 300, 100)]:  # the second runs as y^T = W x^T
                    x = rng.standard_normal((n, in_f)).astype(dt)
                    w = rng.standard_normal((out_f, in_f)).astype(dt)
                    bias = rng.standard_normal(out_f).astype(dt)
                    y = ops.linear(x, w, bias, activation="relu")
                    ref = np.maximum(x.astype(np.float64) @ w.T.astype(np.float64) + bias, 0)
                    assert np.linalg.norm(y - ref) / np.linalg.norm(ref) < 1e-5
        """)


def test_gemm_k_zero_direct(rng):
    """K = 0 through the compiled module: op(A)op(B) is the zero matrix, so C = beta*C."""
    a = np.empty((4, 0), np.float32)
    b = np.empty((0, 5), np.float32)
    c0 = rng.standard_normal((4, 5)).astype(np.float32)
    for rung in range(5):
        c = c0.copy()
        _cpu.gemm(c, a, b, False, False, 1.0, 0.5, rung)
        np.testing.assert_allclose(c, 0.5 * c0, rtol=1e-6)
        c = np.full((4, 5), np.nan, np.float32)
        _cpu.gemm(c, a, b, False, False, 1.0, 0.0, rung)
        assert np.all(c == 0)


def test_fma_peak_probe():
    peak = _cpu.fma_peak_gflops(0.02)
    assert np.isfinite(peak) and peak > 1.0
    with pytest.raises(ValueError, match="fma_peak_gflops"):
        _cpu.fma_peak_gflops(-1.0)


# ---- linear --------------------------------------------------------------------------------------

# (N, in, out); 1 or 2 outputs run as dot products (gemm.cpp, kLinearNarrowMaxOut*), not through the GEMM
LINEAR_SHAPES = [(1, 1, 1), (7, 13, 5), (37, 70, 45), (128, 100, 300), (9, 331, 1), (33, 70, 2), (5, 3, 1),
                 (11, 257, 4), (6, 19, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("shape", LINEAR_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_linear_forward(xp, rng, dtype, activation, use_bias, shape):
    n, in_f, out_f = shape
    x = rng.standard_normal((n, in_f)).astype(dtype)
    w = rng.standard_normal((out_f, in_f)).astype(dtype)
    bias = rng.standard_normal(out_f).astype(dtype) if use_bias else None
    y = ops.linear(xp.asarray(x), xp.asarray(w), None if bias is None else xp.asarray(bias), activation=activation)
    assert y.shape == (n, out_f) and y.dtype == dtype
    # Against |x| |w|^T + |bias| (see helpers.rel_err): for (1, 1, 1) the one output x*w + bias may cancel.
    scale = np.abs(x.astype(np.float64)) @ np.abs(w.astype(np.float64)).T
    if bias is not None:
        scale += np.abs(bias.astype(np.float64))
    assert_close(y, reference.linear(x, w, bias, activation), TOL_REDUCTION[dtype], "linear", scale=scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("need", [(True, True), (False, True), (True, False), (False, False)])
@pytest.mark.parametrize("shape", LINEAR_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_linear_backward(xp, rng, dtype, activation, need, shape):
    n, in_f, out_f = shape
    x = rng.standard_normal((n, in_f)).astype(dtype)
    w = rng.standard_normal((out_f, in_f)).astype(dtype)
    bias = rng.standard_normal(out_f).astype(dtype)
    y = reference.linear(x, w, bias, activation).astype(dtype)
    gy = rng.standard_normal((n, out_f)).astype(dtype)
    got = ops.linear_backward(xp.asarray(gy), xp.asarray(x), xp.asarray(w), output=xp.asarray(y),
                              activation=activation, need_input_grad=need[0], need_bias_grad=need[1])
    want = reference.linear_backward(gy, x, w, output=y, activation=activation, need_input_grad=need[0],
                                     need_bias_grad=need[1])
    for name, g, r in zip(("dinput", "dweight", "dbias"), got, want):
        if r is None:
            assert g is None, name
        else:
            assert g.dtype == dtype
            assert_close(g, r, TOL_REDUCTION[dtype], f"linear_backward {name}")


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("out_f", [6, 1, 3], ids=["gemm", "narrow-1", "narrow-forward-3"])
def test_linear_gradcheck(rng, activation, out_f):
    # 1 output runs both passes as dot products / row updates, 3 the forward only (gemm.cpp, kLinearNarrowMaxOut*)
    n, in_f = 5, 7
    x = rng.standard_normal((n, in_f))
    w = rng.standard_normal((out_f, in_f))
    bias = rng.standard_normal(out_f)

    def forward(x, w, bias):
        return ops.linear(x, w, bias, activation=activation)

    def backward(g, x, w, bias):
        y = ops.linear(x, w, bias, activation=activation)
        return ops.linear_backward(g, x, w, output=y, activation=activation)

    gradcheck(forward, backward, [x, w, bias], rng, names=["input", "weight", "bias"])


def test_linear_relu_keeps_nan(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    x[2, 1] = np.nan
    w = rng.standard_normal((5, 3)).astype(np.float32)
    y = ops.linear(x, w, activation="relu")
    assert np.all(np.isnan(y[2])) and np.all(np.isfinite(np.delete(y, 2, axis=0)))
    # A NaN output passes its gradient (it is not clamped to 0), as torch's threshold_backward does.
    gy = np.ones((4, 5), np.float32)
    _, dw, db = ops.linear_backward(gy, x, w, output=y, activation="relu")
    # dweight = dz^T x: the NaN of x[2, 1] reaches column 1 of dweight (dz[2] is not zeroed), only that column.
    assert np.all(np.isnan(dw[:, 1])) and np.all(np.isfinite(np.delete(dw, 1, axis=1)))
    assert np.all(np.isfinite(db))


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_narrow_same_bits_at_any_thread_count(rng, dtype):
    """A layer with 1 output (up to 4 for the forward) runs as dot products and row updates (gemm.cpp), each
    output element summed by one thread in a fixed order: 1 and 2 threads give the same bits."""
    old = fastann.get_num_threads()
    try:
        for n, in_f, out_f in [(128, 6272, 1), (300, 1000, 2), (64, 3, 1), (130, 777, 4)]:
            x = rng.standard_normal((n, in_f)).astype(dtype)
            w = rng.standard_normal((out_f, in_f)).astype(dtype)
            bias = rng.standard_normal(out_f).astype(dtype)
            gy = rng.standard_normal((n, out_f)).astype(dtype)
            runs = []
            for threads in (1, 2):
                fastann.set_num_threads(threads)
                y = ops.linear(x, w, bias, activation="relu")
                runs.append((y,) + ops.linear_backward(gy, x, w, output=y, activation="relu"))
            for a, b in zip(*runs):
                np.testing.assert_array_equal(a, b)
            assert_close(runs[0][0], reference.linear(x, w, bias, "relu"), TOL_REDUCTION[dtype], "narrow forward")
    finally:
        fastann.set_num_threads(old)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_forward_bits_do_not_depend_on_its_orientation(rng, dtype, threads):
    """linear may compute y^T = W x^T and transpose it in its store (where that pads less: N = 128 with 300 or
    100 outputs, csrc/cpu/gemm.cpp forward_transposed_pays); it does so only where every element is computed
    by the same operations in the same order, so y is bit for bit act(x W^T + bias) of the untransposed GEMM."""
    old = fastann.get_num_threads()
    fastann.set_num_threads(threads)
    try:
        for n, in_f, out_f in [(128, 784, 300), (128, 300, 100), (112, 300, 100), (256, 40, 200), (100, 33, 70),
                               (128, 100, 10), (64, 1100, 300)]:
            x = rng.standard_normal((n, in_f)).astype(dtype)
            x[5, 3] = np.nan  # row 5 of y is NaN whichever way it is computed
            w = rng.standard_normal((out_f, in_f)).astype(dtype)
            bias = rng.standard_normal(out_f).astype(dtype)
            z = ops.gemm(x, w, trans_b=True)
            np.testing.assert_array_equal(ops.linear(x, w), z)
            z += bias
            np.testing.assert_array_equal(ops.linear(x, w, bias), z)
            np.testing.assert_array_equal(ops.linear(x, w, bias, activation="relu"), np.where(z < 0, 0, z))
    finally:
        fastann.set_num_threads(old)


# ---- bad input through ops (and the same exception class from the reference) ---------------------

def _bad_gemm_cases():
    f = np.ones((4, 3), np.float32)
    g = np.ones((3, 5), np.float32)
    return [
        ("int dtype", dict(a=np.ones((4, 3), np.int32), b=g), TypeError),
        ("mixed dtypes", dict(a=f, b=g.astype(np.float64)), TypeError),
        ("not an array", dict(a=[[1.0]], b=g), TypeError),
        ("1-D a", dict(a=np.ones(3, np.float32), b=g), ValueError),
        ("3-D b", dict(a=f, b=np.ones((3, 5, 1), np.float32)), ValueError),
        ("inner mismatch", dict(a=f, b=np.ones((4, 5), np.float32)), ValueError),
        ("trans mismatch", dict(a=f, b=g, trans_a=True), ValueError),
        ("non-contiguous", dict(a=np.ones((4, 6), np.float32)[:, ::2], b=g), ValueError),
        ("negative stride", dict(a=f[::-1], b=g), ValueError),
        ("empty", dict(a=np.ones((0, 3), np.float32), b=g), ValueError),
        ("c wrong shape", dict(a=f, b=g, c=np.zeros((5, 4), np.float32)), ValueError),
        ("c wrong dtype", dict(a=f, b=g, c=np.zeros((4, 5), np.float64)), TypeError),
        ("beta without c", dict(a=f, b=g, beta=1.0), ValueError),
        ("rung 0", dict(a=f, b=g, rung=0), ValueError),
        ("rung 5", dict(a=f, b=g, rung=5), ValueError),
        ("rung str", dict(a=f, b=g, rung="fast"), ValueError),
        ("rung bool", dict(a=f, b=g, rung=True), ValueError),
        ("alpha str", dict(a=f, b=g, alpha="2"), TypeError),
    ]


@pytest.mark.parametrize("case", _bad_gemm_cases(), ids=lambda c: c[0])
def test_gemm_bad_input(case):
    _, kwargs, exc = case
    with pytest.raises(exc, match="gemm"):
        ops.gemm(**kwargs)
    with pytest.raises(exc, match="gemm"):
        reference.gemm(**kwargs)


def test_gemm_read_only_c():
    c = np.zeros((4, 5), np.float32)
    c.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.gemm(np.ones((4, 3), np.float32), np.ones((3, 5), np.float32), c=c)


def _bad_linear_cases():
    x = np.ones((4, 3), np.float32)
    w = np.ones((5, 3), np.float32)
    return [
        ("int input", dict(input=x.astype(np.int64), weight=w), TypeError),
        ("mixed dtypes", dict(input=x, weight=w.astype(np.float64)), TypeError),
        ("bias dtype", dict(input=x, weight=w, bias=np.ones(5, np.float64)), TypeError),
        ("1-D input", dict(input=np.ones(3, np.float32), weight=w), ValueError),
        ("weight in mismatch", dict(input=x, weight=np.ones((5, 4), np.float32)), ValueError),
        ("bias shape", dict(input=x, weight=w, bias=np.ones(4, np.float32)), ValueError),
        ("bias 2-D", dict(input=x, weight=w, bias=np.ones((1, 5), np.float32)), ValueError),
        ("non-contiguous weight", dict(input=x, weight=np.ones((3, 5), np.float32).T), ValueError),
        ("negative stride input", dict(input=x[::-1], weight=w), ValueError),
        ("empty input", dict(input=np.ones((0, 3), np.float32), weight=w), ValueError),
        ("unknown activation", dict(input=x, weight=w, activation="tanh"), ValueError),
        ("activation not str", dict(input=x, weight=w, activation=1), TypeError),
    ]


@pytest.mark.parametrize("case", _bad_linear_cases(), ids=lambda c: c[0])
def test_linear_bad_input(case):
    _, kwargs, exc = case
    with pytest.raises(exc, match="linear"):
        ops.linear(**kwargs)
    with pytest.raises(exc, match="linear"):
        reference.linear(**kwargs)


def _bad_linear_backward_cases():
    x = np.ones((4, 3), np.float32)
    w = np.ones((5, 3), np.float32)
    gy = np.ones((4, 5), np.float32)
    return [
        ("grad dtype", dict(grad_output=gy.astype(np.float64), input=x, weight=w), TypeError),
        ("grad shape", dict(grad_output=np.ones((4, 6), np.float32), input=x, weight=w), ValueError),
        ("grad 1-D", dict(grad_output=np.ones(20, np.float32), input=x, weight=w), ValueError),
        ("relu without output", dict(grad_output=gy, input=x, weight=w, activation="relu"), ValueError),
        ("output shape", dict(grad_output=gy, input=x, weight=w, output=np.ones((4, 4), np.float32),
                              activation="relu"), ValueError),
        ("output non-contiguous", dict(grad_output=gy, input=x, weight=w,
                                       output=np.ones((5, 4), np.float32).T, activation="relu"), ValueError),
        ("unknown activation", dict(grad_output=gy, input=x, weight=w, activation="gelu"), ValueError),
    ]


@pytest.mark.parametrize("case", _bad_linear_backward_cases(), ids=lambda c: c[0])
def test_linear_backward_bad_input(case):
    _, kwargs, exc = case
    with pytest.raises(exc, match="linear_backward"):
        ops.linear_backward(**kwargs)
    with pytest.raises(exc, match="linear_backward"):
        reference.linear_backward(**kwargs)


# ---- bad input straight into the compiled module (the C++ boundary checks) -----------------------

def _direct_cases():
    f32 = np.float32
    a, b, c = np.ones((4, 3), f32), np.ones((3, 5), f32), np.zeros((4, 5), f32)
    ro = np.zeros((4, 5), f32)
    ro.flags.writeable = False
    big = np.zeros(40, f32)
    x, w, bias, y = np.ones((4, 3), f32), np.ones((5, 3), f32), np.ones(5, f32), np.zeros((4, 5), f32)
    dw, dx, db = np.zeros((5, 3), f32), np.zeros((4, 3), f32), np.zeros(5, f32)
    gemm = _cpu.gemm
    lf, lb = _cpu.linear_forward, _cpu.linear_backward
    return [
        ("gemm int a", lambda: gemm(c, a.astype(np.int32), b, False, False, 1.0, 0.0, 0), TypeError),
        ("gemm mixed", lambda: gemm(c, a, b.astype(np.float64), False, False, 1.0, 0.0, 0), TypeError),
        ("gemm c dtype", lambda: gemm(c.astype(np.float64), a, b, False, False, 1.0, 0.0, 0), TypeError),
        ("gemm ndim", lambda: gemm(c, np.ones(3, f32), b, False, False, 1.0, 0.0, 0), ValueError),
        ("gemm inner", lambda: gemm(c, a, np.ones((4, 5), f32), False, False, 1.0, 0.0, 0), ValueError),
        ("gemm c shape", lambda: gemm(np.zeros((5, 4), f32), a, b, False, False, 1.0, 0.0, 0), ValueError),
        ("gemm strided", lambda: gemm(c, np.ones((4, 6), f32)[:, ::2], b, False, False, 1.0, 0.0, 0), ValueError),
        ("gemm negative stride", lambda: gemm(c, a, b[::-1], False, False, 1.0, 0.0, 0), ValueError),
        ("gemm strided c", lambda: gemm(np.zeros((4, 10), f32)[:, ::2], a, b, False, False, 1.0, 0.0, 0),
         ValueError),
        ("gemm read-only c", lambda: gemm(ro, a, b, False, False, 1.0, 0.0, 0), ValueError),
        ("gemm rung 5", lambda: gemm(c, a, b, False, False, 1.0, 0.0, 5), ValueError),
        ("gemm rung -1", lambda: gemm(c, a, b, False, False, 1.0, 0.0, -1), ValueError),
        ("gemm c aliases a", lambda: gemm(big[:16].reshape(4, 4), big[4:20].reshape(4, 4),
                                          np.ones((4, 4), f32), False, False, 1.0, 0.0, 0), ValueError),
        ("gemm None", lambda: gemm(c, None, b, False, False, 1.0, 0.0, 0), TypeError),
        ("linear int", lambda: lf(y, x.astype(np.int32), w, bias, None), TypeError),
        ("linear shape", lambda: lf(y, x, np.ones((5, 4), f32), bias, None), ValueError),
        ("linear out shape", lambda: lf(np.zeros((4, 4), f32), x, w, bias, None), ValueError),
        ("linear bias shape", lambda: lf(y, x, w, np.ones(4, f32), None), ValueError),
        ("linear bias type", lambda: lf(y, x, w, [1.0] * 5, None), TypeError),
        ("linear activation", lambda: lf(y, x, w, bias, "swish"), ValueError),
        ("linear activation type", lambda: lf(y, x, w, bias, 3), TypeError),
        ("linear out aliases input", lambda: lf(x, x, np.ones((3, 3), f32), None, None), ValueError),
        ("linear strided", lambda: lf(y, np.ones((4, 6), f32)[:, ::2], w, bias, None), ValueError),
        ("backward relu no output", lambda: lb(dx, dw, db, y, x, w, None, "relu"), ValueError),
        ("backward dweight shape", lambda: lb(dx, np.zeros((3, 5), f32), db, y, x, w, None, None), ValueError),
        ("backward dinput dtype", lambda: lb(dx.astype(np.float64), dw, db, y, x, w, None, None), TypeError),
        ("backward grad shape", lambda: lb(dx, dw, db, np.zeros((4, 6), f32), x, w, None, None), ValueError),
        ("backward output shape", lambda: lb(dx, dw, db, y, x, w, np.zeros((4, 6), f32), "relu"), ValueError),
        ("backward dweight aliases weight", lambda: lb(dx, w, db, y, x, w, None, None), ValueError),
    ]


@pytest.mark.parametrize("case", _direct_cases(), ids=lambda c: c[0])
def test_direct_cpu_bad_input(case):
    _, call, exc = case
    with pytest.raises(exc):
        call()


def test_direct_cpu_messages_name_the_problem():
    c = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"gemm: inner dimensions differ.*\(4, 3\).*\(4, 5\)"):
        _cpu.gemm(c, np.ones((4, 3), np.float32), np.ones((4, 5), np.float32), False, False, 1.0, 0.0, 0)
    with pytest.raises(TypeError, match="gemm: a must be float32 or float64, got dtype int32"):
        _cpu.gemm(c, np.ones((4, 3), np.int32), np.ones((3, 5), np.float32), False, False, 1.0, 0.0, 0)
    with pytest.raises(ValueError, match="rung must be 0 .* got 9"):
        _cpu.gemm(c, np.ones((4, 3), np.float32), np.ones((3, 5), np.float32), False, False, 1.0, 0.0, 9)
    with pytest.raises(ValueError, match="linear_forward: activation must be None or 'relu', got 'tanh'"):
        _cpu.linear_forward(np.zeros((4, 5), np.float32), np.ones((4, 3), np.float32),
                            np.ones((5, 3), np.float32), None, "tanh")


def test_direct_cpu_linear_matches_ops(rng):
    """The compiled functions called directly (outputs first) give what ops gives."""
    x = rng.standard_normal((9, 11)).astype(np.float32)
    w = rng.standard_normal((6, 11)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    y = np.full((9, 6), np.nan, np.float32)
    _cpu.linear_forward(y, x, w, bias, "relu")
    assert_close(y, reference.linear(x, w, bias, "relu"), TOL_REDUCTION[np.float32])
    gy = rng.standard_normal((9, 6)).astype(np.float32)
    dx, dw, db = (np.full(s, np.nan, np.float32) for s in [(9, 11), (6, 11), (6,)])
    _cpu.linear_backward(dx, dw, db, gy, x, w, y, "relu")
    for got, want in zip((dx, dw, db), reference.linear_backward(gy, x, w, y, "relu")):
        assert_close(got, want, TOL_REDUCTION[np.float32])


def _run_with_blocking(value, code):
    env = dict(os.environ, FASTANN_GEMM_BLOCKING=value)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(fastann.__file__)) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=120)


def test_gemm_blocking_override_and_its_checks():
    # FASTANN_GEMM_BLOCKING sets KC, MC, NC (MC/NC rounded down to whole micro-tiles); short blocks make every
    # loop of the packed driver run several times, and the result must still match the reference.
    out = _run_with_blocking("48,13,100", """
        import numpy as np, fastann
        from fastann import _cpu, reference
        b = fastann.build_info()["gemm_blocking"]["float32"]
        assert b["rule"] == "FASTANN_GEMM_BLOCKING" and b["kc"] == 48, b
        assert b["mc"] % b["mr"] == 0 and b["nc"] % b["nr"] == 0, b
        rng = np.random.default_rng(0)
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((130, 70) if ta else (70, 130)).astype(np.float32)
                w = rng.standard_normal((333, 130) if tb else (130, 333)).astype(np.float32)
                for rung in (3, 4):
                    c = np.full((70, 333), np.nan, np.float32)
                    _cpu.gemm(c, a, w, ta, tb, 1.0, 0.0, rung)
                    want = reference.gemm(a, w, trans_a=ta, trans_b=tb)
                    assert np.allclose(c, want, rtol=1e-4, atol=1e-3), (ta, tb, rung)
        print("ok")
        """)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
    bad = _run_with_blocking("1024,72", "import fastann")
    assert bad.returncode != 0 and "FASTANN_GEMM_BLOCKING must be three positive integers" in bad.stderr


def test_gemm_blocking_follows_the_caches():
    info = fastann.build_info()
    caches, b = info["cpu_caches"], info["gemm_blocking"]["float32"]
    assert caches["l1d"] > 0 and caches["l2"] > 0 and caches["source"] in ("sysfs", "cpuid", "default")
    if b["rule"] == "derived from the caches":
        # the B micro-panel (KC x NR) and the A block (MC x KC) each take at most a quarter of the L2
        assert b["kc"] * b["nr"] * 4 <= max(caches["l2"] // 4, 16 * b["nr"] * 4)
        assert b["mc"] * b["kc"] * 4 <= max(caches["l2"] // 4, b["mr"] * b["kc"] * 4)


def test_gemm_thread_stats_count_the_threaded_calls(two_threads):
    before = _cpu.gemm_thread_stats()
    assert set(before) == {"threaded", "late", "waited", "backed_off"} and all(v >= 0 for v in before.values())
    a = np.ones((256, 256), np.float32)
    c = np.empty((256, 256), np.float32)
    _cpu.gemm(c, a, a, False, False, 1.0, 0.0, 4)
    after = _cpu.gemm_thread_stats()
    # forked, or kept on one thread by an active busy-core back-off
    assert after["threaded"] + after["backed_off"] == before["threaded"] + before["backed_off"] + 1
    np.testing.assert_array_equal(c, np.full((256, 256), 256, np.float32))


def test_threaded_gemm_from_concurrent_python_threads_and_after_fork(two_threads):
    # rung 4's helper team takes one job at a time: concurrent callers (the GIL is released) run alone and
    # still get the same bits; a forked child starts a fresh team (no inherited lock, no missing helper).
    import threading
    rng = np.random.default_rng(3)
    a = rng.standard_normal((150, 130)).astype(np.float32)
    b = rng.standard_normal((130, 333)).astype(np.float32)
    want = np.empty((150, 333), np.float32)
    _cpu.gemm(want, a, b, False, False, 1.0, 0.0, 3)
    bad = []

    def worker():
        c = np.empty_like(want)
        for _ in range(30):
            _cpu.gemm(c, a, b, False, False, 1.0, 0.0, 4)
            if not np.array_equal(c, want):
                bad.append(1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and not bad
    if not hasattr(os, "fork"):
        return
    pid = os.fork()
    if pid == 0:  # child: a threaded GEMM must finish and agree
        code = 1
        try:
            c = np.empty_like(want)
            _cpu.gemm(c, a, b, False, False, 1.0, 0.0, 4)
            code = 0 if np.array_equal(c, want) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
