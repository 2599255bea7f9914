"""conv2d with strides > 1 on rung 3's phase-decomposition path (float32 with AVX-512, enough channels:
csrc/cpu/conv_rung3_phases.cpp) against the float64 reference: every direction, odd sizes, strides 2 and 3,
kernels 1, 3, 4, 5, padding variants, groups, dilation, 1 and 2 threads; the same bits at every call and
thread count; infinities and NaNs reaching exactly the reference's entries. Without AVX-512 (or in float64)
the same shapes run rung 3's im2col path, which these tests then check instead."""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_REDUCTION, conv_operands, rel_err

# (N, C, H, W, OC, KH, KW, stride, padding, dilation, groups, padding_mode)
CASES = [
    (3, 32, 14, 14, 64, 3, 3, 2, "same", 1, 1, "zeros"),       # the autoencoder's encoder layer: 7x7, 64 channels
    (2, 64, 14, 14, 128, 4, 4, 2, 1, 1, 1, "zeros"),           # the DCGAN's 4x4 stride-2 layer
    (1, 16, 28, 27, 32, 3, 3, 2, "same", 1, 1, "zeros"),       # 14-column phases, odd width
    (3, 17, 13, 11, 40, 3, 3, 2, 1, 1, 1, "zeros"),            # odd channels and sizes, 40 = 32 + 8 channels
    (2, 24, 15, 16, 20, 4, 4, 3, 2, 1, 1, "zeros"),            # stride 3 (scalar split and merge)
    (1, 16, 9, 12, 33, 3, 4, (2, 3), (1, 0), (2, 1), 1, "zeros"),  # stride, padding and dilation pairs
    (2, 32, 11, 10, 48, 3, 3, 2, 0, 1, 2, "zeros"),            # groups, no padding
    (2, 16, 20, 37, 70, 5, 5, 2, 2, 1, 1, "zeros"),            # rows of 19 phase columns, 70 = 64 + 6 channels
    (1, 20, 6, 5, 16, 1, 1, 2, 0, 1, 1, "zeros"),              # 1x1 stride 2: input-gradient phases without taps
    (2, 16, 9, 9, 24, 3, 3, 2, 1, 1, 1, "reflect"),            # materialized padding
    (1, 16, 8, 7, 16, 3, 3, 2, (3, 2), 1, 1, "zeros"),         # padding as large as the kernel
    (2, 20, 12, 12, 36, 4, 4, 2, "same", 1, 1, "replicate"),   # even kernel, asymmetric "same" with stride 2
    (2, 16, 9, 10, 24, 3, 3, (1, 2), 1, 1, 1, "zeros"),        # stride 2 along the columns only
    (1, 16, 10, 9, 16, 3, 2, (2, 1), (0, 1), 1, 1, "zeros"),   # stride 2 along the rows only (scalar split)
]
IDS = [f"case{i}" for i in range(len(CASES))]


def _with_threads(threads, f):
    before = fastann.get_num_threads()
    try:
        fastann.set_num_threads(threads)
        return f()
    finally:
        fastann.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_strided_conv_matches_reference(case, dtype, threads, rng):
    x, w, b, kw = conv_operands(case, dtype, rng)
    out_ref = ref.conv2d(x, w, b, **kw)
    g = rng.standard_normal(out_ref.shape).astype(dtype)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(g, x, w, **kw)
    tol = TOL_REDUCTION[dtype]
    for rung in (3, None):
        out, (dx, dw, db) = _with_threads(threads, lambda: (ops.conv2d(x, w, b, rung=rung, **kw),
                                                            ops.conv2d_backward(g, x, w, rung=rung, **kw)))
        assert out.dtype == dtype and rel_err(out, out_ref) < tol, f"forward err {rel_err(out, out_ref):.2e}"
        assert rel_err(dx, dx_ref) < tol, f"input grad err {rel_err(dx, dx_ref):.2e}"
        assert rel_err(dw, dw_ref) < tol, f"weight grad err {rel_err(dw, dw_ref):.2e}"
        assert rel_err(db, db_ref) < tol


@pytest.mark.parametrize("case", [CASES[0], CASES[4], CASES[6]], ids=["ae", "stride3", "groups"])
def test_strided_conv_same_bits_every_call_and_thread_count(case, rng):
    """Forward and input gradient are computed per image: the same bits at 1, 2 and 3 threads. The weight
    gradient sums images in fixed runs: the same bits at every call for a given thread count."""
    case = (7,) + case[1:]
    x, w, _, kw = conv_operands(case, np.float32, rng)
    g = rng.standard_normal(ref.conv2d(x, w, **kw).shape).astype(np.float32)
    fwd = [_with_threads(t, lambda: ops.conv2d(x, w, **kw)) for t in (1, 2, 3)]
    dxs = [_with_threads(t, lambda: ops.conv2d_backward_input(g, w, x.shape, **kw)) for t in (1, 2, 3)]
    for a in fwd[1:]:
        np.testing.assert_array_equal(a, fwd[0])
    for a in dxs[1:]:
        np.testing.assert_array_equal(a, dxs[0])
    for t in (1, 3):
        first = _with_threads(t, lambda: ops.conv2d_backward_weight(g, x, w.shape, **kw))
        for _ in range(4):
            np.testing.assert_array_equal(_with_threads(t, lambda: ops.conv2d_backward_weight(g, x, w.shape, **kw)),
                                          first)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[3]], ids=["ae", "gan", "odd"])
def test_strided_conv_non_finite_reaches_exactly_the_reference_entries(case, bad, rng):
    """A non-finite input element reaches exactly the outputs and weight-gradient taps the formula says (the
    tiles' unused lanes and the phase planes' extra columns are never stored); a non-finite dout element
    exactly the input-gradient entries it reaches."""
    x, w, _, kw = conv_operands(case, np.float32, rng)
    x[0, -1, x.shape[2] // 2, -1] = bad
    x[-1, 0, 0, 1] = bad
    g = rng.standard_normal(ref.conv2d(x, w, **kw).shape).astype(np.float32)
    np.testing.assert_array_equal(np.isfinite(ops.conv2d(x, w, **kw)), np.isfinite(ref.conv2d(x, w, **kw)))
    np.testing.assert_array_equal(np.isfinite(ops.conv2d_backward_weight(g, x, w.shape, **kw)),
                                  np.isfinite(ref.conv2d_backward_weight(g, x, w.shape, **kw)))
    g[0, 0, g.shape[2] // 2, -1] = bad
    g[-1, -1, -1, 0] = bad
    np.testing.assert_array_equal(np.isfinite(ops.conv2d_backward_input(g, w, x.shape, **kw)),
                                  np.isfinite(ref.conv2d_backward_input(g, w, x.shape, **kw)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_strided_input_gradient_with_non_finite_weight(bad, rng):
    """A non-finite weight reaches exactly the input-gradient entries the reference gives: tap (2, 2) of an
    input element in the first row or column reaches no output ("same" pads only after), so it stays finite."""
    x, w, _, kw = conv_operands(CASES[0], np.float32, rng)
    w[3, 5, 2, 2] = bad
    g = rng.standard_normal(ref.conv2d(x, w, **kw).shape).astype(np.float32)
    got, want = ops.conv2d_backward_input(g, w, x.shape, **kw), ref.conv2d_backward_input(g, w, x.shape, **kw)
    for test in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(test(got), test(want))
    finite = np.isfinite(want)
    assert rel_err(got[finite], want[finite]) < TOL_REDUCTION[np.float32]


def test_conv_transpose2d_stride2_matches_reference(rng):
    """conv_transpose2d runs the input gradient as its forward: the autoencoder's decoder layer shape."""
    x = rng.standard_normal((3, 64, 14, 14)).astype(np.float32)
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    kw = dict(stride=2, padding=1, output_padding=1)
    out = ops.conv_transpose2d(x, w, b, **kw)
    assert rel_err(out, ref.conv_transpose2d(x, w, b, **kw)) < TOL_REDUCTION[np.float32]
