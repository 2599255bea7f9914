"""fastann._cuda against fastann._cpu, function by function, on the same random inputs (GPU only).

The CPU kernels are tested against the NumPy float64 references in their own test files; here every
function both modules export is run on both with identical inputs and must agree to the float32/float64
tolerances of docs/architecture.md. This covers the whole CUDA surface (activations, softmax, losses, optimizers,
dropout masks) without restating each formula. The ops-level tests of each family also run on CUDA through
the `xp` fixture.
"""
from __future__ import annotations

import numpy as np
import pytest

import fastann
from fastann import _backend

from helpers import assert_close

CPU = _backend.cpu
GPU = _backend.cuda

TOL = {np.float32: 2e-6, np.float64: 1e-12}
TOL_RED = {np.float32: 1e-5, np.float64: 1e-11}
ACTIVATIONS = ["linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
               "softsign", "relu6", "silu", "hard_silu", "gelu", "gelu_tanh", "mish", "exponential"]
DTYPES = [np.float32, np.float64]

pytestmark = pytest.mark.gpu


@pytest.fixture
def cp():
    if not fastann.cuda.is_available():
        pytest.skip(f"no usable GPU: {fastann.cuda.why_unavailable()}")
    return pytest.importorskip("cupy")


def both(name):
    if not hasattr(CPU, name) or not hasattr(GPU, name):
        pytest.skip(f"{name} is not in both fastann._cpu and fastann._cuda in this build")
    return getattr(CPU, name), getattr(GPU, name)


def run_both(cp, name, outputs, inputs, *args, **kw):
    """Call name(*outputs, *inputs, *args) on both backends; outputs are NaN-poisoned shapes; returns pairs."""
    fc, fg = both(name)
    outs_c = [np.full(s, np.nan, dt) for s, dt in outputs]
    outs_g = [cp.full(s, np.nan, dt) for s, dt in outputs]
    fc(*outs_c, *inputs, *args, **kw)
    fg(*outs_g, *[cp.asarray(x) if isinstance(x, np.ndarray) else x for x in inputs], *args, **kw)
    return list(zip(outs_c, [o.get() for o in outs_g]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_parity(cp, rng, name, dtype):
    x = (rng.standard_normal(1001) * 4).astype(dtype)
    x[7] = np.nan
    g = rng.standard_normal(1001).astype(dtype)
    param = 0.2 if name in ("leaky_relu", "elu") else 0.0
    (c, d), = run_both(cp, "activation_forward", [(x.shape, dtype)], [x], name, param)
    assert np.isnan(d[7])
    assert_close(np.nan_to_num(d), np.nan_to_num(c), TOL[dtype] * 4, f"{name} forward")
    (c, d), = run_both(cp, "activation_backward", [(x.shape, dtype)], [g, x], name, param)
    assert np.isnan(d[7])
    assert_close(np.nan_to_num(d), np.nan_to_num(c), TOL[dtype] * 4, f"{name} backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim", [((5, 10), -1), ((3, 1000), 1), ((2, 3, 4, 5), 1), ((7,), 0), ((4, 6), 0)])
def test_softmax_parity(cp, rng, shape, dim, dtype):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    for fwd, bwd in [("softmax_forward", "softmax_backward"), ("log_softmax_forward", "log_softmax_backward")]:
        (c, d), = run_both(cp, fwd, [(shape, dtype)], [x], dim)
        assert_close(d, c, TOL_RED[dtype], fwd)
        (c2, d2), = run_both(cp, bwd, [(shape, dtype)], [g, c], dim)
        assert_close(d2, c2, TOL_RED[dtype], bwd)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 37, 20_000])
def test_elementwise_loss_parity(cp, rng, n, dtype):
    x = rng.uniform(0.001, 0.999, n).astype(dtype)
    t = rng.uniform(0, 1, n).astype(dtype)
    for name, extra in [("mse_loss", ()), ("l1_loss", ()), ("binary_cross_entropy", (1e-7,)),
                        ("binary_cross_entropy_with_logits", ())]:
        (c, d), = run_both(cp, name + "_forward", [((), dtype)], [x, t], *extra)
        assert_close(d, c, TOL_RED[dtype], name)
        (c, d), = run_both(cp, name + "_backward", [((n,), dtype)], [x, t], *extra, 0.7)
        assert_close(d, c, TOL_RED[dtype], name + " backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparse", [np.int32, np.int64, None])
@pytest.mark.parametrize("N, C", [(1, 1), (5, 3), (128, 10), (33, 1000), (10_000, 7)])
def test_class_loss_parity(cp, rng, N, C, sparse, dtype):
    x = (rng.standard_normal((N, C)) * 3).astype(dtype)
    if sparse is None:
        t = rng.uniform(0, 1, (N, C)).astype(dtype)
        t /= t.sum(1, keepdims=True)
    else:
        t = rng.integers(0, C, N).astype(sparse)
    (lc, lg), (dc, dg) = run_both(cp, "cross_entropy_with_grad", [((), dtype), ((N, C), dtype)], [x, t], 1.0)
    assert_close(lg, lc, TOL_RED[dtype], "cross_entropy loss")
    assert_close(dg, dc, TOL_RED[dtype], "cross_entropy grad")
    (c, d), = run_both(cp, "cross_entropy_backward", [((N, C), dtype)], [x, t], 0.5)
    assert_close(d, c, TOL_RED[dtype], "cross_entropy_backward")
    p = rng.uniform(0, 1, (N, C)).astype(dtype)
    (c, d), = run_both(cp, "categorical_crossentropy_forward", [((), dtype)], [p, t], 1e-7)
    assert_close(d, c, TOL_RED[dtype], "categorical_crossentropy")
    (c, d), = run_both(cp, "categorical_crossentropy_backward", [((N, C), dtype)], [p, t], 1e-7, 1.0)
    assert_close(d, c, TOL_RED[dtype], "categorical_crossentropy_backward")


def _optim_case(name, rng, n, dtype):
    """(state names, scalar args) of each optimizer binding; state arrays are param-shaped."""
    return {
        "sgd_step": (["momentum_buffer"], dict(lr=0.1, momentum=0.9, dampening=0.0, nesterov=True,
                                              weight_decay=0.01)),
        "adam_step": (["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], dict(lr=1e-2, weight_decay=0.01)),
        "adamw_step": (["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], dict(lr=1e-2)),
        "rmsprop_step": (["square_avg", "momentum_buffer", "grad_avg"], dict(lr=1e-2, momentum=0.5)),
        "adagrad_step": (["accumulator"], dict(lr=1e-2)),
        "adadelta_step": (["accum_grad", "accum_update"], dict()),
        "adamax_step": (["exp_avg", "exp_inf"], dict(lr=1e-2)),
        "nadam_step": (["exp_avg", "exp_avg_sq"], dict(lr=1e-2)),
    }[name]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sgd_step", "adam_step", "adamw_step", "rmsprop_step", "adagrad_step",
                                  "adadelta_step", "adamax_step", "nadam_step"])
def test_optimizer_parity(cp, rng, name, dtype):
    fc, fg = both(name)
    n = 3001
    states, kw = _optim_case(name, rng, n, dtype)
    p = rng.standard_normal(n).astype(dtype)
    pc, pg = p.copy(), cp.asarray(p)
    sc = {s: np.zeros(n, dtype) for s in states}
    sg = {s: cp.zeros(n, dtype) for s in states}
    mu_product = 1.0
    for step in range(1, 4):
        g = rng.standard_normal(n).astype(dtype)
        extra = {}
        if name in ("adam_step", "adamw_step", "adamax_step", "nadam_step"):
            extra["step"] = step
        if name == "nadam_step":
            mu_product *= CPU.nadam_mu(0.9, step)
            extra["mu_product"] = mu_product
        fc(pc, *sc.values(), g, **extra, **kw)
        fg(pg, *sg.values(), cp.asarray(g), **extra, **kw)
    assert_close(pg.get(), pc, TOL_RED[dtype], f"{name} param")
    for s in states:
        assert_close(sg[s].get(), sc[s], TOL_RED[dtype], f"{name} {s}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.0, 0.3, 0.9])
def test_dropout_parity(cp, rng, p, dtype):
    x = rng.standard_normal(10_007).astype(dtype)
    x[3] = np.nan
    seed = int(rng.integers(0, 2**63))
    (c, d), = run_both(cp, "dropout_forward", [(x.shape, dtype)], [x], p, seed)
    np.testing.assert_array_equal(np.isnan(d), np.isnan(c))
    np.testing.assert_array_equal(np.nan_to_num(d), np.nan_to_num(c))  # same mask, same scale: bit-identical
    (c, d), = run_both(cp, "dropout_backward", [(x.shape, dtype)], [x], p, seed)
    np.testing.assert_array_equal(np.nan_to_num(d), np.nan_to_num(c))
