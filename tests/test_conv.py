"""conv family: conv2d (every rung, every direction), conv_transpose2d, upsample2d against the float64
reference; finite-difference gradient checks; bad input through fastann.ops, the reference and fastann._cpu."""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_REDUCTION, check_at_simd, conv_operands, gradcheck, rel_err, to_numpy

_cpu = fastann._cpu

# (N, C, H, W, OC, KH, KW, stride, padding, dilation, groups, padding_mode)
CASES = [
    (2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, "zeros"),                 # the common 3x3 "same" layer, odd sizes
    (1, 4, 10, 7, 6, 3, 3, 2, 1, 1, 1, "zeros"),                 # stride 2, sizes that do not divide
    (2, 4, 11, 9, 4, 3, 2, (2, 3), (1, 2), (2, 1), 2, "zeros"),  # pairs, groups, dilation
    (2, 6, 8, 9, 6, 3, 3, 1, 1, 1, 6, "zeros"),                  # depthwise
    (1, 6, 8, 8, 12, 3, 3, 1, 2, 1, 6, "reflect"),               # depthwise x2 multiplier, reflect
    (2, 3, 7, 8, 4, 3, 3, 1, "same", 2, 1, "reflect"),           # dilated "same", reflect
    (2, 3, 6, 7, 5, 3, 3, 2, 2, 1, 1, "replicate"),
    (3, 16, 5, 6, 33, 1, 1, 1, 0, 1, 1, "zeros"),                # 1x1: the column matrix is the input
    (1, 5, 13, 12, 7, 1, 1, 2, 1, 1, 1, "zeros"),                # 1x1 with stride and padding
    (1, 3, 15, 14, 4, 7, 7, 1, 3, 1, 1, "zeros"),                # 7x7
    (2, 2, 16, 13, 3, 7, 7, 2, "same", 1, 1, "replicate"),       # 7x7, TF-style "same" with stride 2
    (1, 1, 34, 20, 5, 3, 3, 1, 1, 1, 1, "zeros"),                # tall image, few taps (dot-product dW path)
    (2, 8, 18, 18, 16, 3, 3, 1, "valid", 1, 1, "zeros"),
    (1, 2, 5, 5, 3, 5, 5, 1, 0, 1, 1, "zeros"),                  # kernel as large as the input: 1x1 output
    (1, 13, 9, 9, 40, 3, 3, 1, 1, 1, 1, "zeros"),                # OC not a multiple of the 12-row tile
    (1, 2, 7, 8, 3, 2, 4, 1, "same", 1, 1, "zeros"),             # even kernel: asymmetric "same" padding
    (1, 2, 6, 5, 3, 3, 3, 1, (2, 1), 1, 1, "zeros"),             # padding > dilation*(k-1)/2 on one axis
    (2, 5, 14, 14, 36, 3, 3, 1, 1, 1, 1, "zeros"),               # 14-wide rows: channels-in-lanes forward tiles
    (1, 4, 5, 13, 20, 3, 3, 1, 1, 1, 1, "reflect"),              # 13 columns: partial 14-position row tiles
    (2, 4, 5, 37, 20, 3, 3, 1, (1, 17), 1, 1, "zeros"),          # padded rows of several vectors, one all padding
]
IDS = [f"case{i}" for i in range(len(CASES))]


def _winograd_fits(case):
    """Rung 4 (Winograd) takes 3x3 kernels with stride 1 and dilation 1, and 4x4 kernels with stride 2,
    dilation 1 and one group."""
    _, _, _, _, _, KH, KW, stride, _, dilation, groups, _ = case
    if (KH, KW) == (4, 4) and stride in (2, (2, 2)) and dilation in (1, (1, 1)) and groups == 1:
        return True
    return (KH, KW) == (3, 3) and stride in (1, (1, 1)) and dilation in (1, (1, 1))


@pytest.mark.parametrize("rung", [1, 2, 3, 4, None])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_all_directions_match_reference(case, dtype, rung, xp, rng):
    x, w, b, kw = conv_operands(case, dtype, rng)
    if rung == 4 and (xp is not np or not _winograd_fits(case)):  # CPU only, 3x3 / stride 1 / dilation 1
        g = xp.asarray(ref.conv2d(x, w, **kw).astype(dtype))
        for call in (lambda: ops.conv2d(xp.asarray(x), xp.asarray(w), rung=4, **kw),
                     lambda: ops.conv2d_backward(g, xp.asarray(x), xp.asarray(w), rung=4, **kw)):
            with pytest.raises(ValueError, match="rung 4"):
                call()
        return
    tol = TOL_REDUCTION[dtype]
    out_ref = ref.conv2d(x, w, b, **kw)
    g = rng.standard_normal(out_ref.shape).astype(dtype)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(g, x, w, **kw)
    X, Wt, B, G = (xp.asarray(a) for a in (x, w, b, g))

    out = ops.conv2d(X, Wt, B, rung=rung, **kw)
    assert out.dtype == dtype and rel_err(out, out_ref) < tol, f"forward err {rel_err(out, out_ref):.2e}"
    dx = ops.conv2d_backward_input(G, Wt, x.shape, rung=rung, **kw)
    assert rel_err(dx, dx_ref) < tol, f"input grad err {rel_err(dx, dx_ref):.2e}"
    dw = ops.conv2d_backward_weight(G, X, w.shape, rung=rung, **kw)
    assert rel_err(dw, dw_ref) < tol, f"weight grad err {rel_err(dw, dw_ref):.2e}"
    dx2, dw2, db2 = ops.conv2d_backward(G, X, Wt, rung=rung, **kw)
    assert rel_err(dx2, dx_ref) < tol and rel_err(dw2, dw_ref) < tol and rel_err(db2, db_ref) < tol
    none_dx, _, none_db = ops.conv2d_backward(G, X, Wt, need_input_grad=False, need_bias_grad=False,
                                              rung=rung, **kw)
    assert none_dx is None and none_db is None


def test_conv2d_without_bias_and_pick_kernel(xp, rng):
    x, w, _, kw = conv_operands(CASES[0], np.float32, rng)
    out = ops.conv2d(xp.asarray(x), xp.asarray(w), **kw)
    assert rel_err(out, ref.conv2d(x, w, **kw)) < 1e-5
    assert _cpu.conv2d_pick_rung(list(x.shape), list(w.shape), 1, 1, 1, 1, 1, 1, 1, 1, 1, "zeros", 0) in (1, 2, 3, 4)


def test_pick_kernel_takes_winograd_for_wide_3x3_float32():
    """rung=None runs rung 4 on the CNN's second layer (32 -> 64, 14x14) in float32 where the CPU has AVX-512,
    and rung 3 in float64, for few channels, and for the weight gradient of small images."""
    def pick(c, oc, direction, dtype="float32", hw=14, pad=1, stride=1):
        return _cpu.conv2d_pick_rung([8, c, hw, hw], [oc, c, 3, 3], stride, stride, pad, pad, pad, pad, 1, 1, 1,
                                       "zeros", direction, dtype)
    winograd = 4 if _cpu.simd_level() == "avx512" else 3
    assert pick(32, 64, 0) == winograd and pick(32, 64, 1) == winograd
    assert pick(32, 64, 2) == winograd and pick(16, 32, 2) == 3 and pick(32, 64, 2, hw=7) == 3
    assert pick(32, 64, 0, "float64") == 3 and pick(32, 64, 1, "float64") == 3 and pick(32, 64, 2, "float64") == 3
    assert pick(8, 16, 0) == 3 and pick(32, 64, 0, stride=2) == 3
    assert pick(32, 64, 1, pad=3) == 3  # the input gradient is no forward convolution with padding > 2
    with pytest.raises(ValueError, match="dtype"):
        pick(32, 64, 0, "float16")


# (N, C, H, W, OC, padding, groups, padding_mode): rung 4's tile chunks (two tile rows of <= 7 tiles, or up to
# 14 tiles of one row), odd output sizes (tiles with thrown-away outputs), channel blocks and groups
WINOGRAD_CASES = [
    (2, 16, 13, 13, 32, 1, 1, "zeros"),        # 7 tile rows of 7: the last chunk has one tile row
    (1, 3, 15, 30, 5, 1, 1, "zeros"),          # 15 tiles per row: chunks of 14 and 1
    (2, 4, 9, 16, 7, 1, 1, "zeros"),           # 8 tiles per row: one chunk of 8
    (1, 5, 2, 2, 3, 1, 1, "zeros"),            # one tile
    (1, 2, 3, 3, 2, 0, 1, "zeros"),            # 1x1 output: one tile, 3 of its 4 outputs thrown away
    (2, 34, 11, 29, 70, "same", 1, "replicate"),  # 70 output channels: 3 blocks of 32, the last partial
    (1, 8, 6, 7, 12, (2, 0), 2, "zeros"),      # groups; padding 2 / 0
    (1, 6, 5, 5, 6, 3, 1, "zeros"),            # padding 3: the input gradient falls back to rung 3
    (3, 64, 14, 14, 32, 1, 1, "reflect"),      # the CNN's conv2 input gradient shape (64 -> 32 flipped)
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=[f"wcase{i}" for i in range(len(WINOGRAD_CASES))])
def test_conv2d_winograd_matches_reference(case, dtype, rng):
    N, C, H, W, OC, padding, groups, mode = case
    x, w, b, kw = conv_operands((N, C, H, W, OC, 3, 3, 1, padding, 1, groups, mode), dtype, rng)
    out_ref = ref.conv2d(x, w, b, **kw)
    g = rng.standard_normal(out_ref.shape).astype(dtype)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(g, x, w, **kw)
    tol = TOL_REDUCTION[dtype]
    out = ops.conv2d(x, w, b, rung=4, **kw)
    assert rel_err(out, out_ref) < tol, f"forward err {rel_err(out, out_ref):.2e}"
    dx, dw, db = ops.conv2d_backward(g, x, w, rung=4, **kw)
    assert rel_err(dx, dx_ref) < tol, f"input grad err {rel_err(dx, dx_ref):.2e}"
    assert rel_err(dw, dw_ref) < tol and rel_err(db, db_ref) < tol
    # conv_transpose2d runs the same input-gradient code with rung=None
    assert rel_err(ops.conv_transpose2d(g, w, groups=groups, padding=1), ref.conv_transpose2d(g, w, groups=groups,
                                                                                               padding=1)) < tol


def test_conv2d_winograd_threads_agree(rng):
    """Rung 4 computes each image on one thread: any thread count gives the same bits."""
    x, w, b, kw = conv_operands((7, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, "zeros"), np.float32, rng)
    before = fastann.get_num_threads()
    try:
        fastann.set_num_threads(1)
        one = ops.conv2d(x, w, b, rung=4, **kw)
        fastann.set_num_threads(3)
        np.testing.assert_array_equal(ops.conv2d(x, w, b, rung=4, **kw), one)
    finally:
        fastann.set_num_threads(before)


def test_conv2d_winograd_is_cpu_only():
    """rung=4 with CuPy arrays is a ValueError before any CUDA call (the CUDA ladder has rungs 1-3); checked
    here on the helper the ops share, so it runs without a GPU too (with one, the all-directions test passes
    it CuPy arrays)."""
    from fastann.ops.conv import _rung

    assert _rung("conv2d", 4, np) == 4 and _rung("conv2d", None, object()) == 0
    with pytest.raises(ValueError, match="CPU only"):
        _rung("conv2d", 4, object())


@pytest.mark.parametrize("level", ["avx2", "scalar"])
def test_conv2d_without_avx512_matches_reference(level):
    """Rungs 3 and 4 without AVX-512 (forced with FASTANN_SIMD in a fresh process): the portable paths."""
    check_at_simd(level, """
        from helpers import rel_err
        for N, C, H, W, OC, pad in [(2, 16, 13, 13, 32, 1), (1, 3, 15, 30, 5, (2, 0)), (2, 34, 11, 9, 40, 1)]:
            for dtype in (np.float32, np.float64):
                x = rng.standard_normal((N, C, H, W)).astype(dtype)
                w = rng.standard_normal((OC, C, 3, 3)).astype(dtype)
                b = rng.standard_normal(OC).astype(dtype)
                out_ref = ref.conv2d(x, w, b, padding=pad)
                g = rng.standard_normal(out_ref.shape).astype(dtype)
                dx_ref, dw_ref, _ = ref.conv2d_backward(g, x, w, padding=pad)
                tol = 1e-5 if dtype == np.float32 else 1e-11
                for k in (3, 4, None):
                    errs = (rel_err(ops.conv2d(x, w, b, padding=pad, rung=k), out_ref),
                            rel_err(ops.conv2d_backward_input(g, w, x.shape, padding=pad, rung=k), dx_ref),
                            rel_err(ops.conv2d_backward_weight(g, x, w.shape, padding=pad, rung=k), dw_ref))
                    assert max(errs) < tol, (N, C, H, W, OC, dtype, k, errs)
        """)


@pytest.mark.parametrize("mode", ["zeros", "reflect"])
def test_conv2d_winograd_gradcheck(mode, rng):
    kw = dict(stride=1, padding=1, dilation=1, groups=1, padding_mode=mode)
    x, w, b = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    gradcheck(lambda x, w, b: ops.conv2d(x, w, b, rung=4, **kw),
              lambda g, x, w, b: ops.conv2d_backward(g, x, w, rung=4, **kw), [x, w, b], rng,
              names=["input", "weight", "bias"])


@pytest.mark.parametrize("threads", [1, 3])
def test_conv2d_threads_give_same_answer(threads, rng):
    """Kernel 3 splits images over threads and reduces per-thread weight gradients: any thread count agrees."""
    x, w, b, kw = conv_operands((5, 4, 9, 10, 8, 3, 3, 1, 1, 1, 1, "zeros"), np.float64, rng)
    g = rng.standard_normal(ref.conv2d(x, w, b, **kw).shape)
    before = fastann.get_num_threads()
    try:
        fastann.set_num_threads(threads)
        dx, dw, db = ops.conv2d_backward(g, x, w, rung=3, **kw)
    finally:
        fastann.set_num_threads(before)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(g, x, w, **kw)
    assert max(rel_err(dx, dx_ref), rel_err(dw, dw_ref), rel_err(db, db_ref)) < 1e-12


@pytest.mark.parametrize("shape,rung", [((64, 8, 14, 14, 16, 3, 3, 1, 1, 1, 1, "zeros"), 3),   # rows path
                                          ((32, 1, 28, 28, 8, 3, 3, 1, 1, 1, 1, "zeros"), 3),    # dot path
                                          ((33, 4, 9, 9, 8, 3, 3, 2, 1, 1, 1, "zeros"), 3),      # general path
                                          ((37, 8, 14, 14, 16, 3, 3, 1, 1, 1, 1, "zeros"), 4)])  # Winograd
def test_conv2d_backward_weight_is_deterministic(shape, rung, rng):
    """The weight gradient sums many images on several threads; the same call must give the same bits
    every time (the per-thread sums used to depend on which thread took which image)."""
    x, w, _, kw = conv_operands(shape, np.float32, rng)
    g = rng.standard_normal(ref.conv2d(x, w, **kw).shape).astype(np.float32)
    before = fastann.get_num_threads()
    try:
        fastann.set_num_threads(3)
        first = ops.conv2d_backward_weight(g, x, w.shape, rung=rung, **kw)
        for _ in range(8):
            np.testing.assert_array_equal(ops.conv2d_backward_weight(g, x, w.shape, rung=rung, **kw), first)
    finally:
        fastann.set_num_threads(before)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate"])
@pytest.mark.parametrize("rung", [1, 3])
def test_conv2d_gradcheck(mode, rung, rng):
    kw = dict(stride=(1, 2), padding=(1, 2), dilation=1, groups=2, padding_mode=mode)
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((4, 2, 3, 2))
    b = rng.standard_normal(4)

    def backward(g, x, w, b):
        return ops.conv2d_backward(g, x, w, rung=rung, **kw)

    gradcheck(lambda x, w, b: ops.conv2d(x, w, b, rung=rung, **kw), backward, [x, w, b], rng,
              names=["input", "weight", "bias"])


def test_conv2d_gradcheck_dilation_stride(rng):
    kw = dict(stride=2, padding="same", dilation=2, groups=1, padding_mode="zeros")
    x, w = rng.standard_normal((1, 2, 7, 6)), rng.standard_normal((3, 2, 3, 3))
    gradcheck(lambda x, w: ops.conv2d(x, w, **kw), lambda g, x, w: ops.conv2d_backward(g, x, w, **kw)[:2], [x, w],
              rng, names=["input", "weight"])


# ---- conv_transpose2d ----------------------------------------------------------------------------
# (N, C_in, H, W, C_out, K, stride, padding, output_padding, groups, dilation)
TCASES = [
    (2, 4, 5, 6, 3, 3, 2, 1, 1, 1, 1),
    (1, 4, 4, 3, 6, 3, 2, 1, 1, 2, 1),
    (2, 3, 5, 5, 2, 2, 2, 0, 0, 1, 1),   # the classic 2x2 stride-2 upsampling layer
    (1, 2, 6, 7, 3, 3, 1, 1, 0, 1, 2),
    (1, 6, 3, 4, 6, 4, 3, 2, 2, 6, 1),   # depthwise, output_padding 2 < stride 3
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", TCASES)
def test_conv_transpose2d_matches_reference(case, dtype, xp, rng):
    N, Cin, H, W, Cout, K, s, p, op_, g, d = case
    x = rng.standard_normal((N, Cin, H, W)).astype(dtype)
    w = rng.standard_normal((Cin, Cout // g, K, K)).astype(dtype)
    b = rng.standard_normal(Cout).astype(dtype)
    args = (s, p, op_, g, d)
    out_ref = ref.conv_transpose2d(x, w, b, *args)
    out = ops.conv_transpose2d(xp.asarray(x), xp.asarray(w), xp.asarray(b), *args)
    tol = TOL_REDUCTION[dtype]
    assert out.shape == out_ref.shape and rel_err(out, out_ref) < tol
    gy = rng.standard_normal(out_ref.shape).astype(dtype)
    got = ops.conv_transpose2d_backward(xp.asarray(gy), xp.asarray(x), xp.asarray(w), *args)
    want = ref.conv_transpose2d_backward(gy, x, w, *args)
    for a, r in zip(got, want):
        assert rel_err(a, r) < tol


def test_conv_transpose2d_gradcheck(rng):
    args = (2, 1, 1, 2, 1)
    x, w, b = rng.standard_normal((1, 4, 3, 3)), rng.standard_normal((4, 1, 3, 3)), rng.standard_normal(2)
    gradcheck(lambda x, w, b: ops.conv_transpose2d(x, w, b, *args),
              lambda g, x, w, b: ops.conv_transpose2d_backward(g, x, w, *args), [x, w, b], rng,
              names=["input", "weight", "bias"])


# ---- upsample2d ----------------------------------------------------------------------------------
UCASES = [(2, "nearest", False), ((3, 2), "nearest", False), (2, "bilinear", False), ((2, 3), "bilinear", False),
          ((3, 2), "bilinear", True), (1, "bilinear", True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale,mode,align", UCASES)
def test_upsample2d_matches_reference(scale, mode, align, dtype, xp, rng):
    x = rng.standard_normal((2, 3, 5, 4)).astype(dtype)
    out = ops.upsample2d(xp.asarray(x), scale, mode, align)
    out_ref = ref.upsample2d(x, scale, mode, align)
    assert out.shape == out_ref.shape and rel_err(out, out_ref) < TOL_REDUCTION[dtype]
    g = rng.standard_normal(out_ref.shape).astype(dtype)
    dx = ops.upsample2d_backward(xp.asarray(g), x.shape, scale, mode, align)
    assert rel_err(dx, ref.upsample2d_backward(g, x.shape, scale, mode, align)) < TOL_REDUCTION[dtype]


def test_upsample2d_size_one_and_gradcheck(rng):
    x = rng.standard_normal((1, 1, 1, 1)).astype(np.float32)
    assert np.all(to_numpy(ops.upsample2d(x, 3, "bilinear")) == x[0, 0, 0, 0])
    for mode, align in (("nearest", False), ("bilinear", False), ("bilinear", True)):
        gradcheck(lambda x: ops.upsample2d(x, (2, 3), mode, align),
                  lambda g, x: ops.upsample2d_backward(g, x.shape, (2, 3), mode, align),
                  [rng.standard_normal((1, 2, 3, 4))], rng, names=["input"])


def test_nan_propagates(rng):
    x, w, b, kw = conv_operands(CASES[0], np.float32, rng)
    x[0, 1, 4, 5] = np.nan
    for k in (1, 2, 3, 4):
        out = ops.conv2d(x, w, b, rung=k, **kw)
        assert np.isnan(out[0]).any() and not np.isnan(out[1]).any()
    assert np.isnan(ops.upsample2d(x, 2, "bilinear")).any()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("case", [CASES[12], CASES[11], CASES[1], CASES[0]], ids=["gemm", "dot", "stride2", "small"])
def test_non_finite_input_reaches_exactly_the_reference_entries(case, bad, rng):
    """NaN/Inf in the input must reach the outputs and gradients the formula says, and no others (rung 3
    computes discarded columns on the padded grid: they must not leak 0*NaN into the weight gradient)."""
    x, w, _, kw = conv_operands(case, np.float32, rng)
    x[0, -1, x.shape[2] // 2, -1] = bad  # last column: read by the discarded grid columns of other taps
    g = rng.standard_normal(ref.conv2d(x, w, **kw).shape).astype(np.float32)
    bad_dw = ~np.isfinite(ref.conv2d_backward_weight(g, x, w.shape, **kw))
    for k in (1, 2, 3, 4) if _winograd_fits(case) else (1, 2, 3):
        np.testing.assert_array_equal(np.isfinite(ops.conv2d(x, w, rung=k, **kw)),
                                      np.isfinite(ref.conv2d(x, w, **kw)))
        got = ~np.isfinite(ops.conv2d_backward_weight(g, x, w.shape, rung=k, **kw))
        np.testing.assert_array_equal(got, bad_dw)  # rung 4 hands items with NaN/Inf to rung 3
    if _winograd_fits(case):
        g[0, 0, g.shape[2] // 2, -1] = bad
        np.testing.assert_array_equal(np.isfinite(ops.conv2d_backward_input(g, w, x.shape, rung=4, **kw)),
                                      np.isfinite(ref.conv2d_backward_input(g, w, x.shape, **kw)))


# ---- bad input -----------------------------------------------------------------------------------
def _conv_inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, 4, 6, 6)).astype(np.float32), rng.standard_normal((6, 4, 3, 3)).astype(np.float32)


X, W = _conv_inputs()
BAD_CONV = [
    (TypeError, dict(input=X.astype(np.int32))),
    (TypeError, dict(input=X.astype(np.float64))),                        # mixed dtypes
    (TypeError, dict(input=X.tolist())),
    (ValueError, dict(input=X[0])),                                       # 3-D
    (ValueError, dict(weight=W[:, :3].copy())),                           # channel mismatch
    (ValueError, dict(weight=np.ones((6, 4, 9, 3), np.float32))),         # kernel larger than padded input
    (ValueError, dict(stride=0)),
    (ValueError, dict(stride=-1)),
    (ValueError, dict(dilation=0)),
    (ValueError, dict(padding=-1)),
    (ValueError, dict(padding="full")),
    (ValueError, dict(groups=3)),                                         # does not divide C=4
    (ValueError, dict(groups=4, weight=np.ones((6, 1, 3, 3), np.float32))),  # does not divide OC=6
    (ValueError, dict(padding_mode="circular")),
    (ValueError, dict(padding_mode="reflect", padding=6)),                # reflect pad >= size
    (ValueError, dict(input=X[:, :, ::2, :])),                            # non-contiguous
    (ValueError, dict(input=X[:, :, ::-1, :])),                           # negative stride
    (ValueError, dict(input=np.ones((0, 4, 6, 6), np.float32))),          # empty
    (ValueError, dict(bias=np.ones(5, np.float32))),
    (ValueError, dict(rung=5)),
    (ValueError, dict(rung=4, stride=2)),                               # Winograd: 3x3, stride 1 only
    (ValueError, dict(rung=4, weight=np.ones((6, 4, 5, 5), np.float32))),
]


@pytest.mark.parametrize("exc,change", BAD_CONV, ids=[str(i) for i in range(len(BAD_CONV))])
def test_conv2d_bad_input(exc, change):
    args = dict(input=X, weight=W, bias=None, stride=1, padding=1, dilation=1, groups=1, padding_mode="zeros")
    rung = change.get("rung")
    args.update({k: v for k, v in change.items() if k != "rung"})
    with pytest.raises(exc, match="conv2d"):
        ops.conv2d(**args, rung=rung)
    if rung is None:  # the reference raises the same class for the same input
        with pytest.raises(exc):
            ref.conv2d(**args)


def test_backward_bad_input():
    g = np.ones((2, 6, 6, 6), np.float32)
    with pytest.raises(ValueError, match="grad_output"):
        ops.conv2d_backward_input(g[:, :5], W, X.shape, padding=1)
    with pytest.raises(ValueError, match="input_shape"):
        ops.conv2d_backward_input(g, W, (2, 4, 6), padding=1)
    with pytest.raises(TypeError):
        ops.conv2d_backward_weight(g.astype(np.float64), X, W.shape, padding=1)
    with pytest.raises(ValueError, match="grad_output"):
        ops.conv2d_backward(g[:, :, :5], X, W, padding=1)
    with pytest.raises(ValueError, match="output_padding"):
        ops.conv_transpose2d(X, np.ones((4, 2, 3, 3), np.float32), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        ref.conv_transpose2d(X, np.ones((4, 2, 3, 3), np.float32), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="channel mismatch"):
        ops.conv_transpose2d(X, np.ones((3, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="scale_factor"):
        ops.upsample2d(X, 0)
    with pytest.raises(ValueError, match="mode"):
        ops.upsample2d(X, 2, "bicubic")
    with pytest.raises(ValueError, match="align_corners"):
        ops.upsample2d(X, 2, "nearest", True)
    with pytest.raises(ValueError, match="grad_output"):
        ops.upsample2d_backward(X, (2, 4, 4, 3), 2)
    with pytest.raises(TypeError):
        ops.upsample2d(X.astype(np.int64))


def _geom(pad=1, stride=1, dil=1, groups=1, mode="zeros"):
    return (stride, stride, pad, pad, pad, pad, dil, dil, groups, mode)


def test_compiled_module_checks_its_arguments():
    """fastann._cpu is safe to call directly: every bad argument is a TypeError/ValueError, never a crash."""
    out = np.empty((2, 6, 6, 6), np.float32)
    f = _cpu.conv2d_forward
    f(out, X, W, None, *_geom(), 0)  # the good call works
    assert rel_err(out, ref.conv2d(X, W, padding=1)) < 1e-5
    with pytest.raises(TypeError, match="dtype"):
        f(out, X.astype(np.float64), W, None, *_geom(), 0)
    with pytest.raises(TypeError, match="input"):
        f(out, X.astype(np.int32), W, None, *_geom(), 0)
    with pytest.raises(TypeError, match="weight"):
        f(out, X, W.astype(np.float16), None, *_geom(), 0)
    with pytest.raises(ValueError, match="C-contiguous"):
        f(out, X[:, :, ::-1], W, None, *_geom(), 0)
    with pytest.raises(ValueError, match="4-D"):
        f(out, X[0], W, None, *_geom(), 0)
    with pytest.raises(ValueError, match="channel mismatch"):
        f(out, X, W[:, :3].copy(), None, *_geom(), 0)
    with pytest.raises(ValueError, match="stride"):
        f(out, X, W, None, *_geom(stride=0), 0)
    with pytest.raises(ValueError, match="dilation"):
        f(out, X, W, None, *_geom(dil=-2), 0)
    with pytest.raises(ValueError, match="padding"):
        f(out, X, W, None, *_geom(pad=-1), 0)
    with pytest.raises(ValueError, match="groups"):
        f(out, X, W, None, *_geom(groups=0), 0)
    with pytest.raises(ValueError, match="groups"):
        f(out, X, np.ones((6, 1, 3, 3), np.float32), None, *_geom(groups=4), 0)
    with pytest.raises(ValueError, match="reflect"):
        f(out, X, W, None, *_geom(pad=6, mode="reflect"), 0)
    with pytest.raises(ValueError, match="padding_mode"):
        f(out, X, W, None, *_geom(mode="circular"), 0)
    with pytest.raises(ValueError, match="larger than the padded input"):
        f(np.empty((2, 6, 1, 1), np.float32), X, np.ones((6, 4, 9, 9), np.float32), None, *_geom(), 0)
    with pytest.raises(ValueError, match="out"):
        f(np.empty((2, 6, 5, 6), np.float32), X, W, None, *_geom(), 0)
    with pytest.raises(ValueError, match="rung"):
        f(out, X, W, None, *_geom(), 9)
    with pytest.raises(ValueError, match="rung 4"):
        f(np.empty((2, 6, 3, 3), np.float32), X, W, None, *_geom(stride=2), 4)
    with pytest.raises(ValueError, match="bias"):
        f(out, X, W, np.ones(5, np.float32), *_geom(), 0)
    with pytest.raises(ValueError, match="positive"):
        f(np.empty((0, 6, 6, 6), np.float32), np.empty((0, 4, 6, 6), np.float32), W, None, *_geom(), 0)
    ro = np.empty_like(out)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        f(ro, X, W, None, *_geom(), 0)

    g = np.ones((2, 6, 6, 6), np.float32)
    with pytest.raises(ValueError, match="grad_output"):
        _cpu.conv2d_backward_input(np.empty_like(X), g[:, :, :5].copy(), W, *_geom(), 0)
    with pytest.raises(TypeError, match="dinput"):
        _cpu.conv2d_backward_input(np.empty(X.shape), g, W, *_geom(), 0)
    with pytest.raises(ValueError, match="grad_output"):
        _cpu.conv2d_backward_weight(np.empty_like(W), None, g[:1].copy(), X, *_geom(), 0)
    with pytest.raises(ValueError, match="dbias"):
        _cpu.conv2d_backward_weight(np.empty_like(W), np.empty(5, np.float32), g, X, *_geom(), 0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _cpu.conv2d_backward_weight(np.empty_like(W), None, g, np.asfortranarray(X), *_geom(), 0)
    with pytest.raises(ValueError, match="scale_factor"):
        _cpu.upsample2d_forward(np.empty((2, 4, 6, 6), np.float32), X, 0, 1, "nearest", False)
    with pytest.raises(ValueError, match="out"):
        _cpu.upsample2d_forward(np.empty((2, 4, 12, 11), np.float32), X, 2, 2, "nearest", False)
    with pytest.raises(ValueError, match="mode"):
        _cpu.upsample2d_forward(np.empty((2, 4, 12, 12), np.float32), X, 2, 2, "area", False)
    with pytest.raises(TypeError, match="grad_output"):
        _cpu.upsample2d_backward(np.empty_like(X), np.ones((2, 4, 12, 12), np.int32), 2, 2, "nearest", False)
