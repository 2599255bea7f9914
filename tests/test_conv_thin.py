"""conv2d's thin-layer paths of rung 3 (csrc/cpu/conv_rung3_thin*.cpp; float32 with AVX-512): layers with few
output channels (forward, weight gradient) or few input channels (input gradient, weight gradient), as in a
one-channel output layer, a grayscale first layer and the transposed convolutions built on them. Every
direction against the float64 reference at 1 and 2 threads, the same bits in repeated calls, the three
directions as adjoints of each other, infinities and NaNs where the formula puts them. (On CPUs without
AVX-512 and in float64 these shapes run rung 3's general paths, which the same tests then cover.)"""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_REDUCTION, conv_operands, rel_err

# (N, C, H, W, OC, KH, KW, stride, padding, dilation, groups, padding_mode)
CASES = [
    (3, 32, 12, 11, 1, 3, 3, 1, "same", 1, 1, "zeros"),       # the autoencoder's last layer, small
    (1, 1, 9, 13, 1, 3, 3, 1, 1, 1, 1, "zeros"),              # N=1, one channel in and out
    (5, 2, 10, 7, 2, 3, 3, 1, 0, 1, 1, "zeros"),              # valid padding, odd N
    (2, 3, 17, 19, 3, 5, 5, 1, 2, 1, 1, "zeros"),
    (3, 5, 8, 33, 4, 3, 3, 1, "same", 1, 1, "zeros"),         # rows of more than 32 positions
    (1, 4, 15, 6, 5, 2, 2, 1, 0, 1, 1, "zeros"),              # even kernel, rows under one vector
    (2, 9, 7, 7, 6, 4, 4, 1, (1, 2), 1, 1, "zeros"),          # 7 rows: one 7-row tile
    (3, 2, 11, 12, 7, 3, 3, 1, 1, (1, 2), 1, "zeros"),        # dilated columns
    (2, 3, 16, 9, 3, 7, 7, 1, 3, 1, 1, "zeros"),              # the tallest kernel of the row tiles
    (1, 2, 12, 10, 2, 8, 3, 1, (4, 1), 1, 1, "zeros"),        # taller: forward keeps the general path
    (2, 3, 9, 10, 2, 4, 4, 1, (1, 2), 1, 1, "zeros"),         # 4x4, < 4 output channels: weight gradient's row form
    (3, 5, 6, 35, 3, 2, 2, 1, 0, 1, 1, "zeros"),              # 2x2 row form, rows of three vectors
    (1, 3, 4, 5, 1, 4, 4, 1, 0, 1, 1, "zeros"),               # one output row: only edge rows
    (3, 1, 28, 28, 32, 3, 3, 2, "same", 1, 1, "zeros"),       # the autoencoder's first layer
    (2, 1, 28, 28, 64, 4, 4, 2, 1, 1, 1, "zeros"),            # the DCGAN's first layer (and its generator's last)
    (1, 2, 13, 9, 16, 4, 4, 2, 1, 1, 1, "zeros"),
    (3, 3, 11, 10, 12, 3, 3, 2, 0, 1, 1, "zeros"),            # RGB, stride 2, valid
    (2, 1, 9, 9, 8, 5, 5, 3, 2, 1, 1, "zeros"),               # stride 3 (scalar column split)
    (2, 3, 10, 11, 10, 3, 3, (2, 1), (1, 0), 1, 1, "zeros"),  # different strides per axis
    (1, 2, 5, 6, 3, 2, 2, 4, 0, 1, 1, "zeros"),               # stride > kernel: phases with no tap
    (2, 4, 9, 10, 4, 3, 3, 1, 1, 1, 2, "zeros"),              # groups: 2 in / 2 out per group
    (2, 6, 8, 9, 6, 3, 3, 1, 1, 1, 6, "zeros"),               # depthwise
    (2, 3, 9, 8, 2, 3, 3, 1, 1, 1, 1, "reflect"),
    (3, 1, 12, 12, 6, 4, 4, 2, 1, 1, 1, "replicate"),
    (1, 2, 30, 9, 8, 3, 3, (7, 1), 1, 1, 1, "zeros"),         # tall row stride, columns read in place
    (2, 1, 17, 19, 9, 3, 3, 2, 1, 2, 1, "zeros"),             # dilated taps with a stride
]
IDS = [f"case{i}" for i in range(len(CASES))]


def _threads(n):
    class _Threads:
        def __enter__(self):
            self.before = fastann.get_num_threads()
            fastann.set_num_threads(n)

        def __exit__(self, *exc):
            fastann.set_num_threads(self.before)
    return _Threads()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_thin_all_directions_match_reference(case, threads, rng):
    x, w, b, kw = conv_operands(case, np.float32, rng)
    out_ref = ref.conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
    g = rng.standard_normal(out_ref.shape).astype(np.float32)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(g.astype(np.float64), x.astype(np.float64),
                                                 w.astype(np.float64), **kw)
    tol = TOL_REDUCTION[np.float32]
    with _threads(threads):
        for rung in (3, None):
            out = ops.conv2d(x, w, b, rung=rung, **kw)
            assert out.dtype == np.float32 and rel_err(out, out_ref) < tol, f"forward {rel_err(out, out_ref):.2e}"
            dx = ops.conv2d_backward_input(g, w, x.shape, rung=rung, **kw)
            assert rel_err(dx, dx_ref) < tol, f"input grad {rel_err(dx, dx_ref):.2e}"
            dw = ops.conv2d_backward_weight(g, x, w.shape, rung=rung, **kw)
            assert rel_err(dw, dw_ref) < tol, f"weight grad {rel_err(dw, dw_ref):.2e}"
            dx2, dw2, db2 = ops.conv2d_backward(g, x, w, rung=rung, **kw)
            np.testing.assert_array_equal(dx2, dx)
            np.testing.assert_array_equal(dw2, dw)
            # one output channel: the bias gradient is a single sum that may cancel to ~0, so its error is
            # measured against the sum of magnitudes
            np.testing.assert_allclose(db2, db_ref, rtol=0, atol=tol * float(np.abs(g).sum()))


@pytest.mark.parametrize("case", [CASES[0], CASES[4], CASES[14], CASES[20]], ids=["oc1", "wide", "dcgan", "groups"])
def test_thin_float64_matches_reference(case, rng):
    """float64 keeps rung 3's general paths on these shapes."""
    x, w, b, kw = conv_operands(case, np.float64, rng)
    out_ref = ref.conv2d(x, w, b, **kw)
    g = rng.standard_normal(out_ref.shape)
    dx_ref, dw_ref, _ = ref.conv2d_backward(g, x, w, **kw)
    tol = TOL_REDUCTION[np.float64]
    assert rel_err(ops.conv2d(x, w, b, **kw), out_ref) < tol
    assert rel_err(ops.conv2d_backward_input(g, w, x.shape, **kw), dx_ref) < tol
    assert rel_err(ops.conv2d_backward_weight(g, x, w.shape, **kw), dw_ref) < tol


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", [CASES[0], CASES[10], CASES[13], CASES[14], CASES[21]],
                         ids=["oc1", "rows4x4", "ae1", "dcgan", "dw"])
def test_thin_same_bits_every_call(case, threads, rng):
    """Each direction gives the same bits in every call at a given thread count (the weight gradient sums
    its images in fixed runs)."""
    case = (9,) + case[1:]
    x, w, b, kw = conv_operands(case, np.float32, rng)
    g = rng.standard_normal(ops.conv2d(x, w, **kw).shape).astype(np.float32)
    with _threads(threads):
        first = ops.conv2d_backward(g, x, w, **kw), ops.conv2d(x, w, b, **kw)
        for _ in range(4):
            again = ops.conv2d_backward(g, x, w, **kw), ops.conv2d(x, w, b, **kw)
            for a, c in zip(first[0] + (first[1],), again[0] + (again[1],)):
                np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("case", CASES[:3] + CASES[10:16] + CASES[19:21], ids=lambda c: f"{c[1]}to{c[4]}s{c[7]}")
def test_thin_directions_are_adjoint(case, rng):
    """<conv2d(x, w), g> = <x, dinput(g, w)> = <w, dweight(g, x)>: the three float32 kernels agree with each
    other (sums taken in float64)."""
    x, w, _, kw = conv_operands(case, np.float32, rng)
    if kw["padding_mode"] != "zeros":
        return
    g = rng.standard_normal(ops.conv2d(x, w, **kw).shape).astype(np.float32)
    y = ops.conv2d(x, w, **kw).astype(np.float64)
    dx = ops.conv2d_backward_input(g, w, x.shape, **kw).astype(np.float64)
    dw = ops.conv2d_backward_weight(g, x, w.shape, **kw).astype(np.float64)
    a = float((y * g).sum())
    scale = float((np.abs(y) * np.abs(g)).sum())
    assert abs(a - float((x * dx).sum())) < 1e-5 * scale
    assert abs(a - float((w * dw).sum())) < 1e-5 * scale


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[10], CASES[14], CASES[17]],
                         ids=["oc1", "k5", "rows4x4", "dcgan", "stride3"])
def test_thin_non_finite_reach_exactly_the_reference_entries(case, bad, rng):
    """An infinity or NaN in the input or grad_output reaches exactly the entries the formula says: no lane
    past a row's end, no row past the image, no padding of the input gradient is multiplied into a result."""
    x, w, _, kw = conv_operands(case, np.float32, rng)
    x[0, -1, x.shape[2] // 2, -1] = bad
    x[-1, 0, 0, 0] = bad
    g = rng.standard_normal(ops.conv2d(x, w, **kw).shape).astype(np.float32)
    g[0, -1, g.shape[2] // 2, -1] = bad
    x64, w64, g64 = x.astype(np.float64), w.astype(np.float64), g.astype(np.float64)
    for got, want in ((ops.conv2d(x, w, **kw), ref.conv2d(x64, w64, **kw)),
                      (ops.conv2d_backward_input(g, w, x.shape, **kw), ref.conv2d_backward_input(g64, w64, x.shape, **kw)),
                      (ops.conv2d_backward_weight(g, x, w.shape, **kw),
                       ref.conv2d_backward_weight(g64, x64, w.shape, **kw))):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    if w.shape[1] >= 8:  # rung 3's flipped-kernel input gradient multiplies dout's padding (docs/conv.md, Limits)
        return
    w[0, 0, 0, 0] = bad  # a non-finite weight: the input gradient keeps the path that multiplies no padding
    ones = np.ones_like(g)
    np.testing.assert_array_equal(np.isnan(ops.conv2d_backward_input(ones, w, x.shape, **kw)),
                                  np.isnan(ref.conv2d_backward_input(ones.astype(np.float64), w.astype(np.float64),
                                                                     x.shape, **kw)))
