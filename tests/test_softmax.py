"""softmax / log_softmax over any axis against the float64 reference, gradchecks, NaN, bad input."""
import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_REDUCTION, assert_close, check_at_simd, gradcheck, raises_both, to_numpy

# (shape, dim): last axis, inner axes (strided lines), size-1 axes, more lines than one slab of 64
CASES = [((1,), 0), ((7,), -1), ((1, 1), 1), ((5, 1), 1), ((4, 9), 0), ((4, 9), 1), ((3, 5, 7), 1),
         ((2, 3, 130), 1), ((2, 3, 4, 5), -3), ((2, 3, 4, 5), 3), ((6, 70), 0)]
IDS = [f"{s}-dim{d}" for s, d in CASES]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_forward_backward_match_reference(xp, rng, op, dtype):
    f, fb = getattr(ops, op), getattr(ops, op + "_backward")
    rf, rfb = getattr(ref, op), getattr(ref, op + "_backward")
    for shape, dim in CASES:
        x = (3 * rng.standard_normal(shape)).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        y = f(xp.asarray(x), dim=dim)
        assert y.shape == shape and y.dtype == dtype
        y_ref = rf(x, dim=dim)
        assert_close(y, y_ref, TOL_REDUCTION[dtype], f"{op} {shape} dim={dim}")
        # the backward from the kernel's own output, against the reference on the same output
        yk = to_numpy(y)
        d = fb(xp.asarray(g), xp.asarray(yk), dim=dim)
        assert_close(d, rfb(g, yk, dim=dim), TOL_REDUCTION[dtype], f"{op}_backward {shape} dim={dim}",
                     scale=_backward_scale(op, g, yk, dim))


def _backward_scale(op, g, y, dim):
    """Sizes of the two terms the backward subtracts, float64 (see helpers.rel_err): softmax's
    y * (g - sum(g * y)) and log_softmax's g - exp(y) * sum(g). Either cancels when g is near the sum."""
    g, y = g.astype(np.float64), y.astype(np.float64)
    if op == "softmax":
        return y * (np.abs(g) + np.abs(np.sum(g * y, axis=dim, keepdims=True)))
    return np.abs(g) + np.exp(y) * np.abs(np.sum(g, axis=dim, keepdims=True))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((3, 5), -1), ((2, 4, 3), 1), ((4, 3), 0)])
def test_gradcheck(rng, op, shape, dim):
    f, fb = getattr(ops, op), getattr(ops, op + "_backward")
    x = rng.standard_normal(shape)
    gradcheck(lambda a: f(a, dim=dim), lambda g, a: fb(g, f(a, dim=dim), dim=dim), [x], rng, tol=1e-6)


@pytest.mark.parametrize("level", ["scalar", "avx2"])
def test_lower_simd_paths_match_reference(level):
    # The loops are compiled for baseline x86-64, AVX2 and AVX-512 (softmax_loops.hpp) and picked once per
    # process from the CPU; FASTANN_SIMD forces a lower path, so each runs here in a subprocess.
    check_at_simd(level, """
        from test_softmax import CASES, _backward_scale
        from helpers import TOL_REDUCTION, assert_close
        for dtype in (np.float32, np.float64):
            for op in ('softmax', 'log_softmax'):
                for shape, dim in CASES + [((3, 1000), 1)]:
                    x = (3 * rng.standard_normal(shape)).astype(dtype)
                    g = rng.standard_normal(shape).astype(dtype)
                    y = getattr(ops, op)(x, dim=dim)
                    assert_close(y, getattr(ref, op)(x, dim=dim), TOL_REDUCTION[dtype], op)
                    d = getattr(ops, op + '_backward')(g, y, dim=dim)
                    assert_close(d, getattr(ref, op + '_backward')(g, y, dim=dim), TOL_REDUCTION[dtype], op,
                                 scale=_backward_scale(op, g, y, dim))
        """)


def test_large_threaded(rng):
    for shape, dim in [((8000, 40), -1), ((3, 40, 3000), 1)]:  # > 2 x 131072 elements
        x = rng.standard_normal(shape).astype(np.float32)
        assert_close(ops.softmax(x, dim=dim), ref.softmax(x, dim=dim), 1e-5)
        assert_close(ops.log_softmax(x, dim=dim), ref.log_softmax(x, dim=dim), 1e-5)


def test_properties_and_stability():
    x = np.array([[1000.0, 0.0, -1000.0], [1.0, 1.0, 1.0]])
    y = ops.softmax(x)
    np.testing.assert_allclose(y, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-15)
    np.testing.assert_allclose(ops.log_softmax(x), [[0, -1000, -2000], np.full(3, -np.log(3))], rtol=1e-14)
    # rows sum to 1 along whatever axis is asked
    z = np.random.default_rng(1).standard_normal((3, 4, 5)).astype(np.float32)
    for dim in range(3):
        np.testing.assert_allclose(ops.softmax(z, dim=dim).sum(axis=dim), 1.0, rtol=1e-6)
    # -inf logits get probability 0
    np.testing.assert_array_equal(ops.softmax(np.array([0.0, -np.inf])), [1.0, 0.0])


def test_nan_propagates(xp):
    for shape, dim, where in [((2, 4), 1, (0, 2)), ((3, 2, 5), 1, (1, 0, 3))]:
        x = np.ones(shape, np.float32)
        x[where] = np.nan
        for op in ["softmax", "log_softmax"]:
            y = to_numpy(getattr(ops, op)(xp.asarray(x), dim=dim))
            line = np.isnan(y).any(axis=dim, keepdims=True)
            # the whole line through the NaN is NaN, every other line is finite
            nan_lines = np.isnan(y).all(axis=dim)
            assert nan_lines.sum() == 1 and np.isfinite(y[~np.broadcast_to(line, y.shape)]).all(), (op, y)
        g = np.ones(shape, np.float32)
        g[where] = np.nan
        d = to_numpy(ops.log_softmax_backward(xp.asarray(g), xp.asarray(np.zeros(shape, np.float32)), dim=dim))
        assert np.isnan(d).any()


def test_bad_input_ops_and_reference():
    x = np.ones((3, 4), np.float32)
    raises_both(ValueError, lambda m: m.softmax(x, dim=2), "dim 2 is out of range")
    raises_both(ValueError, lambda m: m.log_softmax(x, dim=-3), "out of range")
    raises_both(TypeError, lambda m: m.softmax(x, dim=1.0), "dim must be an int")
    raises_both(TypeError, lambda m: m.softmax(x.astype(np.int32)), "float32 or float64")
    raises_both(ValueError, lambda m: m.softmax(np.ones((0, 3), np.float32)), "empty")
    raises_both(ValueError, lambda m: m.softmax(np.ones((3, 8), np.float32)[:, ::2]), "C-contiguous")
    raises_both(ValueError, lambda m: m.softmax(np.ones(5, np.float32)[::-1]), "C-contiguous")
    raises_both(ValueError, lambda m: m.softmax_backward(x, np.ones((4, 3), np.float32)), "shape")
    raises_both(TypeError, lambda m: m.log_softmax_backward(x, x.astype(np.float64)), "dtype")


def test_bad_input_compiled_module_directly():
    cpu = fastann._cpu
    x = np.ones((3, 4), np.float32)
    out = np.empty_like(x)
    cpu.softmax_forward(out, x, -1)
    np.testing.assert_allclose(out, 0.25)
    with pytest.raises(ValueError, match="dim 5 is out of range"):
        cpu.softmax_forward(out, x, 5)
    with pytest.raises(ValueError, match="0-d"):
        cpu.softmax_forward(np.empty((), np.float32), np.ones((), np.float32), 0)
    with pytest.raises(TypeError, match="out has dtype float64"):
        cpu.log_softmax_forward(out.astype(np.float64), x, 1)
    with pytest.raises(ValueError, match="out must have the shape of input"):
        cpu.softmax_forward(np.empty((4, 3), np.float32), x, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        cpu.softmax_forward(out, np.ones((3, 8), np.float32)[:, ::2], 1)
    with pytest.raises(ValueError, match="empty"):
        cpu.softmax_forward(np.empty((0, 4), np.float32), np.ones((0, 4), np.float32), 1)
    with pytest.raises(ValueError, match="grad_output must have the shape of output"):
        cpu.softmax_backward(out, np.ones(12, np.float32), x, 1)
    ro = np.empty_like(x)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        cpu.log_softmax_backward(ro, x, x, 1)
