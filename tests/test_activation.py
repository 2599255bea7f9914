"""Activation kernels (fastann.ops.activation) against the float64 reference, gradchecks, bad input."""
import sys

import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import TOL_ELEMENTWISE, assert_close, check_at_simd, gradcheck, raises_both, to_numpy

# (public name, keyword parameters): every kernel, both gelu forms, non-default parameters.
CASES = [
    ("linear", {}), ("relu", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("sigmoid", {}), ("hard_sigmoid", {}),
    ("tanh", {}), ("softplus", {}), ("softsign", {}), ("relu6", {}), ("silu", {}), ("hard_silu", {}),
    ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("mish", {}), ("exponential", {}),
]
IDS = [n + "".join(f"-{v}" for v in p.values()) for n, p in CASES]
SHAPES = [(1,), (7,), (3, 5), (2, 3, 33)]
KINKS = np.array([0.0, -3.0, 3.0, 6.0])  # where some derivative jumps


def _check(out, want, scale, tol, what):
    """||out - want|| <= tol * max(||want||, 0.1 ||scale||).

    The floor 0.1 ||scale|| (scale: the input for a forward, grad_output for a backward) keeps the check
    meaningful where the result is small by cancellation, e.g. silu'(x) crosses 0 near x = -1.28 and
    gelu(x) ~ 1e-4 at x = -4 (its float32 argument rounding is amplified ~x^2 times there): an error of a
    few ulp of the terms is then a large fraction of a tiny result. A wrong formula is still off by
    O(||scale||) and fails.
    """
    out = to_numpy(out).astype(np.float64)
    den = max(np.linalg.norm(want), 0.1 * np.linalg.norm(np.asarray(scale, np.float64)))
    err = np.linalg.norm(out - want) / den
    assert np.all(np.isfinite(out)) and err <= tol, f"{what}: error {err:.3e} > {tol:.1e}"


def _inputs(rng, shape):
    # wide enough to cover every piece: x < -3, (-3, 0), (0, 3), (3, 6), x > 6
    return rng.standard_normal(shape) * 4.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_forward_backward_match_reference(xp, rng, name, params, dtype):
    for shape in SHAPES:
        x = _inputs(rng, shape).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        out = ops.activation(name, xp.asarray(x), **params)
        assert out.dtype == dtype and out.shape == shape
        _check(out, ref.activation(name, x, **params), x, TOL_ELEMENTWISE[dtype], f"{name} {shape}")
        d = ops.activation_backward(name, xp.asarray(g), xp.asarray(x), **params)
        assert d.dtype == dtype and d.shape == shape
        _check(d, ref.activation_backward(name, g, x, **params), g, TOL_ELEMENTWISE[dtype],
               f"{name}_backward {shape}")


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_gradcheck(rng, name, params):
    x = _inputs(rng, (4, 6))
    # keep clear of the kinks, where the derivative is one-sided
    near = np.abs(x[..., None] - KINKS).min(axis=-1) < 1e-3
    x[near] += 0.01
    gradcheck(lambda a: ops.activation(name, a, **params),
              lambda g, a: ops.activation_backward(name, g, a, **params), [x], rng, tol=1e-6)


@pytest.mark.parametrize("name", sys.modules["fastann.reference.activation"].PUBLIC)
def test_named_functions_equal_generic(rng, name):
    x = _inputs(rng, (5, 9))
    g = rng.standard_normal((5, 9))
    f, fb = getattr(ops, name), getattr(ops, name + "_backward")
    np.testing.assert_array_equal(f(x), ops.activation(name, x))
    np.testing.assert_array_equal(fb(g, x), ops.activation_backward(name, g, x))


def test_aliases_and_parameters(rng):
    x = _inputs(rng, (50,))
    np.testing.assert_array_equal(ops.swish(x), ops.silu(x))
    np.testing.assert_array_equal(ops.hard_swish(x), ops.hard_silu(x))
    np.testing.assert_array_equal(ops.identity(x), x)
    np.testing.assert_array_equal(ops.activation("linear", x), x)
    np.testing.assert_allclose(ops.leaky_relu(x, negative_slope=0.3), np.where(x > 0, x, 0.3 * x))
    np.testing.assert_allclose(ops.gelu(x, approximate="tanh"), ref.gelu(x, approximate="tanh"), rtol=1e-10, atol=1e-15)
    # hard_sigmoid is relu6(x+3)/6 (Keras 3 / PyTorch), not the old Keras 2 0.2x+0.5
    np.testing.assert_allclose(ops.hard_sigmoid(np.array([-3.0, 0.0, 1.5, 3.0])), [0, 0.5, 0.75, 1])


def test_known_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(ops.relu(x), [0, 0, 0, 0.5, 2])
    np.testing.assert_allclose(ops.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(ops.tanh(x), np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(ops.softsign(x), x / (1 + np.abs(x)), rtol=1e-15)
    np.testing.assert_allclose(ops.elu(x), np.where(x > 0, x, np.exp(x) - 1), rtol=1e-14)
    # torch.nn.functional.gelu(tensor([-2., -.5, 0., .5, 2.])) (exact erf form)
    np.testing.assert_allclose(ops.gelu(x), [-0.04550026, -0.15426877, 0.0, 0.34573123, 1.95449974], rtol=1e-7)
    np.testing.assert_allclose(ops.selu(np.array([1.0])), [1.0507009873554805], rtol=1e-15)


def test_extremes_stay_finite():
    x = np.array([-1000.0, -80.0, 80.0, 1000.0], dtype=np.float32)
    for name in ["sigmoid", "softplus", "silu", "mish", "tanh", "gelu", "selu", "elu", "softsign"]:
        out = ops.activation(name, x)
        assert np.all(np.isfinite(out)), (name, out)
        d = ops.activation_backward(name, np.ones_like(x), x)
        assert np.all(np.isfinite(d)), (name, d)
    np.testing.assert_allclose(ops.softplus(x), [0, 0, 80, 1000], atol=1e-30)
    np.testing.assert_allclose(ops.sigmoid(x), [0, 0, 1, 1], atol=1e-30)


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_nan_propagates(xp, name, params):
    x = np.array([np.nan, 1.0, -1.0, np.nan], dtype=np.float32)
    out = to_numpy(ops.activation(name, xp.asarray(x), **params))
    d = to_numpy(ops.activation_backward(name, xp.ones(4, dtype=np.float32), xp.asarray(x), **params))
    assert np.isnan(out[[0, 3]]).all() and np.isfinite(out[[1, 2]]).all(), out
    assert np.isnan(d[[0, 3]]).all() and np.isfinite(d[[1, 2]]).all(), d


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_threaded(xp, rng, dtype):
    # more than 2 x 2097152 elements: even relu splits the work over threads when there are several
    x = _inputs(rng, (2050, 2050)).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    for name in ["relu", "sigmoid"]:
        assert_close(ops.activation(name, xp.asarray(x)), ref.activation(name, x), TOL_ELEMENTWISE[dtype])
        assert_close(ops.activation_backward(name, xp.asarray(g), xp.asarray(x)),
                     ref.activation_backward(name, g, x), TOL_ELEMENTWISE[dtype])


# ---- bad input: ops and reference raise the same class -----------------------------------------------
def test_bad_input_ops_and_reference():
    x = np.ones((3, 4), np.float32)
    raises_both(ValueError, lambda m: m.activation("nope", x), "valid names: linear, identity, relu")
    raises_both(TypeError, lambda m: m.activation(3, x))
    raises_both(TypeError, lambda m: m.activation("relu", x, alpha=1.0), "unexpected")
    raises_both(ValueError, lambda m: m.gelu(x, approximate="fast"), "approximate")
    raises_both(ValueError, lambda m: m.elu(x, alpha=float("nan")), "alpha")
    raises_both(TypeError, lambda m: m.leaky_relu(x, negative_slope="a"), "negative_slope")
    raises_both(TypeError, lambda m: m.relu(np.ones((3, 4), np.int32)), "float32 or float64")
    raises_both(TypeError, lambda m: m.relu(np.ones((3, 4), np.float16)), "float16")
    raises_both(TypeError, lambda m: m.relu([1.0, 2.0]), "ndarray")
    raises_both(ValueError, lambda m: m.relu(np.ones((0, 4), np.float32)), "empty")
    raises_both(ValueError, lambda m: m.relu(np.ones((4, 6), np.float32)[:, ::2]), "C-contiguous")
    raises_both(ValueError, lambda m: m.relu(np.ones(6, np.float32)[::-1]), "C-contiguous")
    raises_both(TypeError, lambda m: m.relu_backward(x, x.astype(np.float64)), "dtype")
    raises_both(ValueError, lambda m: m.relu_backward(np.ones((4, 3), np.float32), x), "shape")
    raises_both(ValueError, lambda m: m.tanh_backward(x[:, ::2], x[:, ::2]), "C-contiguous")


def test_bad_input_compiled_module_directly():
    cpu = fastann._cpu
    x = np.ones((3, 4), np.float32)
    out = np.empty_like(x)
    cpu.activation_forward(out, x, "relu", 0.0)
    with pytest.raises(ValueError, match="unknown activation 'nope'.*valid names"):
        cpu.activation_forward(out, x, "nope", 0.0)
    with pytest.raises(TypeError, match="input must be float32 or float64"):
        cpu.activation_forward(out, x.astype(np.int64), "relu", 0.0)
    with pytest.raises(TypeError, match="out has dtype float64"):
        cpu.activation_forward(out.astype(np.float64), x, "relu", 0.0)
    with pytest.raises(ValueError, match="out must have the shape of input"):
        cpu.activation_forward(np.empty((4, 3), np.float32), x, "relu", 0.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        cpu.activation_forward(np.empty((3, 8), np.float32)[:, ::2], x, "relu", 0.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        cpu.activation_forward(out, np.ones((3, 4), np.float32)[::-1], "relu", 0.0)
    ro = np.empty_like(x)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        cpu.activation_forward(ro, x, "relu", 0.0)
    with pytest.raises(ValueError, match="param must be finite"):
        cpu.activation_forward(out, x, "elu", float("inf"))
    with pytest.raises(ValueError, match="grad_output must have the shape of input"):
        cpu.activation_backward(out, np.ones(12, np.float32), x, "relu", 0.0)
    with pytest.raises(TypeError, match="grad_output has dtype float64"):
        cpu.activation_backward(out, x.astype(np.float64), x, "relu", 0.0)
    with pytest.raises(TypeError):
        cpu.activation_forward(out, [1.0, 2.0], "relu", 0.0)
    # in place is allowed: out may be the input
    y = np.array([-1.0, 2.0])
    cpu.activation_forward(y, y, "relu", 0.0)
    np.testing.assert_array_equal(y, [0.0, 2.0])


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 3e-7), (np.float64, 5e-16)])
def test_exponential_is_accurate_to_an_ulp_or_two(dtype, rtol):
    # exp is computed inline (csrc/cpu/vexp.hpp, Cephes-style) so loops vectorize; check it elementwise
    # over the whole normal range against libm in float64, including both ends and the overflow edge
    hi = 88.7 if dtype == np.float32 else 709.7
    lo = -87.3 if dtype == np.float32 else -708.3
    x = np.concatenate([np.linspace(lo, hi, 100_001), [0.0, -0.0, 1e-30, -1e-30]]).astype(dtype)
    got = ops.exponential(x).astype(np.float64)
    want = np.exp(x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    edge = np.array([np.inf, -np.inf, np.nan, 1000.0, -1000.0], dtype)
    np.testing.assert_array_equal(ops.exponential(edge), np.array([np.inf, 0, np.nan, np.inf, 0], dtype))


@pytest.mark.parametrize("level", ["scalar", "avx2"])
def test_lower_simd_paths_match_reference(level):
    # The loops are compiled for baseline x86-64, AVX2 and AVX-512 and picked once per process from the
    # CPU; FASTANN_SIMD forces a lower path, so each runs here in a subprocess over every activation.
    check_at_simd(level, """
        from test_activation import CASES, _check
        for dtype in (np.float32, np.float64):
            tol = 2e-6 if dtype == np.float32 else 1e-12
            for name, params in CASES:
                x = (4 * rng.standard_normal(1003)).astype(dtype)
                g = rng.standard_normal(1003).astype(dtype)
                _check(ops.activation(name, x, **params), ref.activation(name, x, **params), x, tol, name)
                _check(ops.activation_backward(name, g, x, **params), ref.activation_backward(name, g, x, **params),
                       g, tol, name)
        """)
