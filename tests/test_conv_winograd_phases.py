"""conv2d rung 4 on 4x4 kernels with stride 2: Winograd F(4x4, 2x2) on the input's stride phases
(csrc/cpu/conv_rung4_winograd_phases.cpp). Every direction against the float64 reference on odd sizes, paddings,
partial work items and channel counts that leave partial 32-column blocks; finite differences; the same bits
at any thread count (forward, input gradient) and in every call (weight gradient); rung 3's exact result
when a value is not finite; the portable path without AVX-512; rung=None's choice."""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_REDUCTION, check_at_simd, gradcheck, rel_err

_cpu = fastann._cpu

# (N, C, H, W, OC, padding): "same" on even sizes (padding 1), valid, asymmetric and large paddings, sizes
# that leave partial 4x4 tiles, batches that leave a partial work item (64 tile rows per item), channel
# counts with partial 32-column blocks
CASES = [
    (3, 64, 14, 14, 128, 1),       # the DCGAN discriminator's second layer (7x7 output: two tiles per side)
    (2, 5, 13, 11, 7, 1),          # odd sizes: partial tiles on both sides
    (1, 3, 4, 4, 2, 0),            # one output position
    (2, 6, 9, 17, 3, (2, 1)),      # padding 2 rows / 1 column
    (5, 33, 8, 8, 40, 1),          # 4x4 output: one tile per image; 33 channels -> 132 phase channels
    (17, 8, 14, 14, 16, 1),        # 17 images: 4 full work items of 4 images and a partial one
    (1, 2, 28, 20, 5, 3),          # padding 3: more phase rows than the image needs
    (2, 4, 6, 10, 70, 0),          # 70 output channels: three 32-column blocks, the last partial
]
IDS = [f"case{i}" for i in range(len(CASES))]


def operands(case, dtype, rng):
    N, C, H, W, OC, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((OC, C, 4, 4)).astype(dtype)
    b = rng.standard_normal(OC).astype(dtype)
    return x, w, b, dict(stride=2, padding=padding)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_reference(case, dtype, rng):
    x, w, b, kw = operands(case, dtype, rng)
    out_ref = ref.conv2d(x, w, b, **kw)
    g = rng.standard_normal(out_ref.shape).astype(dtype)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(g, x, w, **kw)
    tol = TOL_REDUCTION[dtype]
    out = ops.conv2d(x, w, b, rung=4, **kw)
    assert out.dtype == dtype and rel_err(out, out_ref) < tol, f"forward err {rel_err(out, out_ref):.2e}"
    dx, dw, db = ops.conv2d_backward(g, x, w, rung=4, **kw)
    assert rel_err(dx, dx_ref) < tol, f"input grad err {rel_err(dx, dx_ref):.2e}"
    assert rel_err(dw, dw_ref) < tol, f"weight grad err {rel_err(dw, dw_ref):.2e}"
    assert rel_err(db, db_ref) < tol


def test_float32_error_is_rung3_size(rng):
    """The transforms mix 5 values with coefficients up to 8 (A^T's last row) and 1/6 (G) around the products,
    which costs precision: against the float64 reference, rung 4's float32 error on the DCGAN layer is 3-5x
    rung 3's (measured 1.6e-6 / 1.3e-6 / 5.9e-7 relative for forward / input gradient / weight gradient,
    against 5.4e-7 / 3.9e-7 / 1.3e-7), held here to 8x rung 3's and 5e-6."""
    x, w, b, kw = operands((8, 64, 14, 14, 128, 1), np.float32, rng)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    out_ref = ref.conv2d(x64, w64, **kw)
    g = rng.standard_normal(out_ref.shape).astype(np.float32)
    dx_ref, dw_ref, _ = ref.conv2d_backward(g.astype(np.float64), x64, w64, **kw)
    for rung in (3, 4):
        errs = (rel_err(ops.conv2d(x, w, rung=rung, **kw), out_ref),
                rel_err(ops.conv2d_backward_input(g, w, x.shape, rung=rung, **kw), dx_ref),
                rel_err(ops.conv2d_backward_weight(g, x, w.shape, rung=rung, **kw), dw_ref))
        if rung == 3:
            rung3 = errs
    assert all(e4 < min(8 * max(e3, 1e-7), 5e-6) for e3, e4 in zip(rung3, errs)), (rung3, errs)


@pytest.mark.parametrize("padding", [1, (0, 2)])
def test_gradcheck(padding, rng):
    kw = dict(stride=2, padding=padding)
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 4, 4)), rng.standard_normal(4)
    gradcheck(lambda x, w, b: ops.conv2d(x, w, b, rung=4, **kw),
              lambda g, x, w, b: ops.conv2d_backward(g, x, w, rung=4, **kw), [x, w, b], rng,
              names=["input", "weight", "bias"])


def test_conv_transpose_matches_reference(rng):
    """Conv2DTranspose(4, strides=2) runs this path as the input gradient (rung=None picks it for the DCGAN
    generator's 128 -> 64 layer on a batch of 64)."""
    x = rng.standard_normal((64, 128, 7, 7)).astype(np.float32)
    w = rng.standard_normal((128, 64, 4, 4)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    out = ops.conv_transpose2d(x, w, b, stride=2, padding=1)
    assert out.shape == (64, 64, 14, 14)
    assert rel_err(out, ref.conv_transpose2d(x, w, b, stride=2, padding=1)) < 1e-5


def test_same_bits_at_any_thread_count_and_in_every_call(rng):
    """The forward and input gradient compute each image on one thread: the same bits at 1 and 3 threads. The
    weight gradient sums its work items in a fixed order per thread count: the same bits in every call."""
    x, w, b, kw = operands((13, 16, 14, 14, 32, 1), np.float32, rng)
    g = rng.standard_normal((13, 32, 7, 7)).astype(np.float32)
    before = fastann.get_num_threads()
    try:
        results = []
        for threads in (1, 3):
            fastann.set_num_threads(threads)
            results.append((ops.conv2d(x, w, b, rung=4, **kw), ops.conv2d_backward_input(g, w, x.shape, rung=4, **kw)))
            dw = ops.conv2d_backward_weight(g, x, w.shape, rung=4, **kw)
            np.testing.assert_array_equal(ops.conv2d_backward_weight(g, x, w.shape, rung=4, **kw), dw)
        for a, b_ in zip(*results):
            np.testing.assert_array_equal(a, b_)
    finally:
        fastann.set_num_threads(before)


@pytest.mark.parametrize("where", ["input", "weight", "grad_output"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values_give_rung3_results(where, value, rng):
    """A call whose input, weight or dout holds an infinity or a NaN runs rung 3: the same values, bit for bit
    (the transforms would turn inf - inf or 0 * inf into NaN where the direct sum gives +-inf)."""
    x, w, b, kw = operands((3, 32, 14, 14, 64, 1), np.float32, rng)
    g = rng.standard_normal((3, 64, 7, 7)).astype(np.float32)
    target = {"input": x, "weight": w, "grad_output": g}[where]
    target.reshape(-1)[rng.integers(0, target.size, 3)] = value
    directions = {  # each direction and the operands it reads
        ("input", "weight"): lambda k: ops.conv2d(x, w, b, rung=k, **kw),
        ("grad_output", "weight"): lambda k: ops.conv2d_backward_input(g, w, x.shape, rung=k, **kw),
        ("grad_output", "input"): lambda k: ops.conv2d_backward_weight(g, x, w.shape, rung=k, **kw),
    }
    for reads, run in directions.items():
        if where in reads:
            np.testing.assert_array_equal(run(4), run(3))


@pytest.mark.parametrize("level", ["avx2", "scalar"])
def test_without_avx512_matches_reference(level):
    """The portable transforms and rung 3's packed GEMM (forced with FASTANN_SIMD in a fresh process)."""
    check_at_simd(level, """
        from helpers import rel_err
        for N, C, H, W, OC, pad in [(2, 5, 13, 11, 7, 1), (3, 16, 14, 14, 40, (2, 1))]:
            for dtype in (np.float32, np.float64):
                x = rng.standard_normal((N, C, H, W)).astype(dtype)
                w = rng.standard_normal((OC, C, 4, 4)).astype(dtype)
                out_ref = ref.conv2d(x, w, stride=2, padding=pad)
                g = rng.standard_normal(out_ref.shape).astype(dtype)
                dx_ref, dw_ref, _ = ref.conv2d_backward(g, x, w, stride=2, padding=pad)
                tol = 1e-5 if dtype == np.float32 else 1e-11
                errs = (rel_err(ops.conv2d(x, w, stride=2, padding=pad, rung=4), out_ref),
                        rel_err(ops.conv2d_backward_input(g, w, x.shape, stride=2, padding=pad, rung=4), dx_ref),
                        rel_err(ops.conv2d_backward_weight(g, x, w.shape, stride=2, padding=pad, rung=4), dw_ref))
                assert max(errs) < tol, (N, C, H, W, OC, dtype, errs)
        """)


def test_pick_takes_it_for_wide_layers_with_enough_outputs():
    """rung=None (bench_conv.py --sweep-winograd-phases): rung 4 for the DCGAN's 64 <-> 128 layers on a batch
    of 128 in float32 with AVX-512, and for the input gradient from 8 channels; rung 3 for float64, a thin
    side, the forward of 256 -> 512, small batches (the weight transform is not amortized), groups, and the
    input gradient of 8x8 inputs."""
    def pick(c, oc, direction, dtype="float32", hw=14, n=128, groups=1):
        return _cpu.conv2d_pick_rung([n, c, hw, hw], [oc, c // groups, 4, 4], 2, 2, 1, 1, 1, 1, 1, 1, groups,
                                       "zeros", direction, dtype)
    winograd = 4 if _cpu.simd_level() == "avx512" else 3
    assert [pick(64, 128, d) for d in range(3)] == [winograd] * 3
    assert [pick(64, 128, d, "float64") for d in range(3)] == [3] * 3
    assert pick(8, 16, 0) == 3 and pick(8, 16, 2) == 3 and pick(8, 16, 1) == winograd and pick(4, 16, 1) == 3
    assert pick(1, 64, 2) == 3 and pick(256, 512, 0) == 3 and pick(256, 512, 2) == winograd
    assert pick(64, 128, 0, n=8) == 3 and pick(64, 128, 0, groups=2) == 3
    assert pick(64, 128, 1, hw=8) == 3 and pick(64, 128, 0, hw=8) == winograd


def test_rung4_rejects_other_strided_kernels(rng):
    x = rng.standard_normal((1, 4, 9, 9)).astype(np.float32)
    for w, kw in [(rng.standard_normal((2, 4, 4, 4)).astype(np.float32), dict(stride=3)),
                  (rng.standard_normal((2, 4, 4, 4)).astype(np.float32), dict(stride=2, dilation=2)),
                  (rng.standard_normal((2, 2, 4, 4)).astype(np.float32), dict(stride=2, groups=2)),
                  (rng.standard_normal((2, 4, 5, 5)).astype(np.float32), dict(stride=2))]:
        with pytest.raises(ValueError, match="rung 4"):
            ops.conv2d(x, w, rung=4, **kw)
