"""Regression tests for edge cases of the ops: Nadam's step bound and momentum product, the order of the
log-sum-exp, Python-side exception types, and semantics at the edge of the valid range (conv_transpose2d's
output_padding, batch norm of huge values, an infinite grad_output, -inf logits)."""
import time

import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from fastann._args.optim import NADAM_MU_SETTLED, nadam_mu, nadam_mu_product
from helpers import raises_both


# ---- Nadam -------------------------------------------------------------------------------------------
def _nadam_arrays(dt=np.float64, seed=0):
    r = np.random.default_rng(seed)
    return [r.standard_normal((3, 4)).astype(dt) for _ in range(2)] + [np.zeros((3, 4), dt) for _ in range(2)]


@pytest.mark.parametrize("mod", [ops, ref], ids=["ops", "reference"])
def test_nadam_huge_step_returns(mod):
    """step = 2^62 used to loop over every step in Python; now at most NADAM_MU_SETTLED multiplications."""
    p, g, m, v = _nadam_arrays()
    t0 = time.perf_counter()
    mod.nadam_step(p, g, m, v, step=2**62, lr=1e-3)
    assert time.perf_counter() - t0 < 10.0
    assert np.isfinite(p).all()


def test_nadam_huge_step_ops_match_reference():
    a, b = _nadam_arrays(), _nadam_arrays()
    ops.nadam_step(*a, step=2**62, lr=1e-3)
    ref.nadam_step(*b, step=2**62, lr=1e-3)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("step", [0, 2**63 - 1, 2**63, 2**64, -1, True, 1.0])
def test_nadam_step_out_of_range_is_a_value_error(step):
    """Past int64 (and step + 1, Nadam's mu_{t+1}) the step never reaches the compiled kernel."""
    raises_both(ValueError, lambda M: M.nadam_step(*_nadam_arrays(), step=step, lr=1e-3), "step")


@pytest.mark.parametrize("name", ["adam_step", "adamw_step", "adamax_step"])
def test_adam_family_step_bound(name):
    kw = dict(step=2**63, lr=1e-3)
    raises_both(ValueError, lambda M: getattr(M, name)(*_nadam_arrays(), **kw), "step")
    a, b = _nadam_arrays(), _nadam_arrays()
    getattr(ops, name)(*a, step=np.int64(2**63 - 2), lr=1e-3)  # the largest step, as a NumPy integer
    getattr(ref, name)(*b, step=2**63 - 2, lr=1e-3)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12)


@pytest.mark.parametrize("beta1,step", [(0.0, 1), (0.0, 7), (0.5, 3000), (0.9, 20000)])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_nadam_mu_product_zero_is_valid(beta1, step, dt):
    """P_t underflows to 0 for beta1 = 0, or 0.5 at step 3000: a valid call (the rule divides by 1 - P)."""
    assert nadam_mu_product(beta1, step) == 0.0 or beta1 == 0.9
    a, b = _nadam_arrays(dt), _nadam_arrays(dt)
    ops.nadam_step(*a, step=step, lr=1e-2, beta1=beta1)
    ref.nadam_step(*b, step=step, lr=1e-2, beta1=beta1)
    tol = 1e-5 if dt == np.float32 else 1e-12
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)
    ops.nadam_step(*_nadam_arrays(dt), step=step, lr=1e-2, beta1=beta1, mu_product=0.0)
    fastann._cpu.nadam_step(*(_nadam_arrays(dt)[i] for i in (0, 2, 3, 1)), step, 0.0, 1e-2, beta1)


def test_nadam_mu_product_argument():
    raises_both(ValueError, lambda M: M.nadam_step(*_nadam_arrays(), step=3, lr=1e-3, mu_product=1.0), "mu_product")
    raises_both(ValueError, lambda M: M.nadam_step(*_nadam_arrays(), step=3, lr=1e-3, mu_product=-0.1), "mu_product")
    raises_both(TypeError, lambda M: M.nadam_step(*_nadam_arrays(), step=3, lr=1e-3, mu_product=True), "mu_product")
    a, b = _nadam_arrays(), _nadam_arrays()
    ops.nadam_step(*a, step=3, lr=1e-2)
    ops.nadam_step(*b, step=3, lr=1e-2, mu_product=nadam_mu(0.9, 1) * nadam_mu(0.9, 2) * nadam_mu(0.9, 3))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("beta1", [0.9, 0.999, 0.9999, 0.5])
def test_nadam_mu_settles_and_product_matches_the_loop(beta1):
    for t in (NADAM_MU_SETTLED, NADAM_MU_SETTLED + 1, 10**9):
        assert nadam_mu(beta1, t) == beta1
    assert nadam_mu(0.9999, NADAM_MU_SETTLED - 20000) != 0.9999  # the bound is not vacuous
    step = NADAM_MU_SETTLED + 2000
    p = 1.0
    for i in range(1, step + 1):
        p *= nadam_mu(beta1, i)
    # the loop sticks at the smallest denormal (5e-324 * 0.9 rounds back up); beta1 ** k goes on to 0
    assert nadam_mu_product(beta1, step) == pytest.approx(p, rel=1e-12, abs=1e-323)
    assert nadam_mu_product(beta1, 1000) == np.prod([nadam_mu(beta1, i) for i in range(1, 1001)])  # same order


def test_nadam_optimizer_keeps_the_product():
    """The optimizer's running mu_product gives the same bits as computing it from scratch every step,
    and survives iterations being set from outside."""
    r = np.random.default_rng(3)
    grads = [r.standard_normal((4, 5)) for _ in range(25)]
    p = r.standard_normal((4, 5))
    q, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    opt = fastann.optimizers.Nadam(learning_rate=0.01)
    for t, g in enumerate(grads, 1):
        opt.apply_gradients([p], [g])
        ops.nadam_step(q, g, m, v, step=t, lr=0.01)
        assert np.array_equal(p, q)
    assert opt._mu_product == nadam_mu_product(0.9, 25)
    opt.iterations = 100
    opt.apply_gradients([p], [grads[0]])
    assert opt._mu_product == nadam_mu_product(0.9, 101)


# ---- log-sum-exp order -------------------------------------------------------------------------------
def _stable_log_softmax(x, axis):
    x = np.asarray(x, np.float64)
    m = x.max(axis=axis, keepdims=True)
    return (x - m) - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("dt,offset", [(np.float32, 1e5), (np.float32, 1e8), (np.float64, 1e8), (np.float64, 1e16)])
@pytest.mark.parametrize("dim", [-1, 0])
def test_log_softmax_large_offset(dt, offset, dim):
    """x - (max + log sum) loses log sum when |max| >> 1: [1e8, 1e8] gave [0, 0] instead of -log 2."""
    r = np.random.default_rng(1)
    x = (offset + r.integers(-3, 4, size=(5, 70)) * np.spacing(dt(offset)) * 4).astype(dt)
    x = np.ascontiguousarray(x if dim == -1 else x.T)
    got = ops.log_softmax(x, dim)
    want = _stable_log_softmax(x, dim)
    eps = float(np.finfo(dt).eps)
    np.testing.assert_allclose(got, want, rtol=4 * eps, atol=8 * eps * np.abs(want).max())
    np.testing.assert_allclose(ref.log_softmax(x, dim), want, rtol=1e-15, atol=1e-15)
    assert ops.log_softmax(np.array([[offset, offset]], dt))[0, 0] == pytest.approx(-np.log(2), rel=4 * eps)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [-1, 1])
def test_log_softmax_wide_random_logits(dt, dim):
    r = np.random.default_rng(2)
    x = (r.uniform(-1e4, 1e4, size=(6, 40, 3))).astype(dt)
    want = _stable_log_softmax(x, dim)
    eps = float(np.finfo(dt).eps)
    np.testing.assert_allclose(ops.log_softmax(x, dim), want, rtol=4 * eps, atol=4 * eps)


@pytest.mark.parametrize("dt,offset", [(np.float32, 1e5), (np.float32, 1e8), (np.float64, 1e16)])
def test_cross_entropy_large_offset(dt, offset):
    r = np.random.default_rng(4)
    x = (offset + r.integers(-3, 4, size=(8, 10)) * np.spacing(dt(offset)) * 4).astype(dt)
    lab = r.integers(0, 10, 8)
    want = -_stable_log_softmax(x, 1)[np.arange(8), lab].mean()
    eps = float(np.finfo(dt).eps)
    assert float(ops.cross_entropy(x, lab)) == pytest.approx(want, rel=8 * eps, abs=8 * eps)
    assert float(ref.cross_entropy(x, lab)) == pytest.approx(want, rel=1e-14)


# ---- Python-side exception types -----------------------------------------------------------------------
@pytest.mark.parametrize("arg", ["kernel_size", "stride", "padding", "dilation"])
@pytest.mark.parametrize("big", [2**63, 2**64, -2**63 - 1])
def test_pool_geometry_past_int64_is_a_value_error(arg, big):
    x = np.ones((1, 1, 4, 4), np.float32)
    kw = dict(kernel_size=2, stride=2, padding=0, dilation=1)
    kw[arg] = big
    raises_both(ValueError, lambda M: M.max_pool2d(x, **kw), arg)
    if arg != "dilation":
        kw.pop("dilation")
        raises_both(ValueError, lambda M: M.avg_pool2d(x, **kw), arg)


@pytest.mark.parametrize("arg", ["kernel_size", "stride", "dilation"])
def test_pool_window_limit(arg):
    """kernel_size, stride and dilation up to 2^30 (the kernels' limit) work in both layers; past it both
    refuse them with a ValueError naming the argument."""
    x = np.ones((1, 1, 4, 4), np.float32)
    kw = dict(kernel_size=1, stride=1, dilation=1)
    if arg != "kernel_size":  # a 2^30 window does not fit a 4x4 input; stride and dilation do
        out, ref_out = (M.max_pool2d(x, **dict(kw, **{arg: 2**30}))[0] for M in (ops, ref))
        assert np.array_equal(out, ref_out)
    raises_both(ValueError, lambda M: M.max_pool2d(x, **dict(kw, **{arg: 2**30 + 1})), arg)


def test_set_num_threads_accepts_numpy_integers():
    before = fastann.get_num_threads()
    try:
        fastann.set_num_threads(np.int64(1))
        assert fastann.get_num_threads() == 1
        for bad in (True, np.True_, 0, 2.0, 2**31):
            with pytest.raises(ValueError):
                fastann.set_num_threads(bad)
    finally:
        fastann.set_num_threads(before)


HYPERS = {  # step name -> (state arrays, required keywords, hyperparameter names)
    "sgd_step": (1, dict(lr=0.1, momentum=0.5), ["lr", "momentum", "dampening", "weight_decay"]),
    "adam_step": (2, dict(step=1, lr=0.1), ["lr", "beta1", "beta2", "eps", "weight_decay"]),
    "adamw_step": (2, dict(step=1, lr=0.1), ["lr", "beta1", "beta2", "eps", "weight_decay"]),
    "rmsprop_step": (1, dict(lr=0.1), ["lr", "rho", "eps", "momentum", "weight_decay"]),
    "adagrad_step": (1, dict(lr=0.1), ["lr", "eps", "weight_decay"]),
    "adadelta_step": (2, dict(), ["lr", "rho", "eps", "weight_decay"]),
    "adamax_step": (2, dict(step=1, lr=0.1), ["lr", "beta1", "beta2", "eps", "weight_decay"]),
    "nadam_step": (2, dict(step=1, lr=0.1), ["lr", "beta1", "beta2", "eps", "weight_decay"]),
    "lion_step": (1, dict(), ["lr", "beta1", "beta2", "weight_decay"]),
    "ftrl_step": (2, dict(), ["lr", "lr_power", "l1", "l2", "l2_shrinkage", "beta"]),
}
HYPER_CASES = [(n, h) for n, (_, _, hs) in HYPERS.items() for h in hs]


@pytest.mark.parametrize("name,hyper", HYPER_CASES, ids=[f"{n}-{h}" for n, h in HYPER_CASES])
def test_bool_hyperparameter_is_a_type_error(name, hyper):
    """sgd_step(lr=True) used to run with lr = 1: a bool is not a rate."""
    nstate, kw, _ = HYPERS[name]

    def call(M):
        arrays = [np.zeros((2, 3)) for _ in range(2 + nstate)]
        getattr(M, name)(*arrays, **dict(kw, **{hyper: True}))

    raises_both(TypeError, call, hyper)


@pytest.mark.parametrize("name,hyper", HYPER_CASES, ids=[f"{n}-{h}" for n, h in HYPER_CASES])
def test_numpy_scalar_hyperparameter_is_accepted(name, hyper):
    """A NumPy float (or int) hyperparameter takes the Python checks and gives the same result."""
    nstate, kw, _ = HYPERS[name]
    value = kw.get(hyper, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "rho": 0.9, "dampening": 0.0,
                           "weight_decay": 0.0, "momentum": 0.0, "lr": 1.0, "lr_power": -0.5, "l1": 0.1,
                           "l2": 0.1, "l2_shrinkage": 0.1, "beta": 0.1}[hyper])
    a = [np.full((2, 3), 0.5) for _ in range(2 + nstate)]
    b = [x.copy() for x in a]
    getattr(ops, name)(*a, **dict(kw, **{hyper: value}))
    getattr(ops, name)(*b, **dict(kw, **{hyper: np.float64(value)}))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("flag,name", [("nesterov", "sgd_step"), ("centered", "rmsprop_step")])
def test_optimizer_flags_must_be_bools(flag, name):
    def call(M):
        arrays = [np.zeros((2, 3)) for _ in range(5 if name == "rmsprop_step" else 3)]
        getattr(M, name)(*arrays, lr=0.1, momentum=0.5, **{flag: 1})

    raises_both(TypeError, call, flag)


LOSS_BACKWARDS = ["mse_loss_backward", "l1_loss_backward", "binary_cross_entropy_backward",
                  "binary_cross_entropy_with_logits_backward", "cross_entropy_backward",
                  "categorical_crossentropy_backward"]


@pytest.mark.parametrize("mod", [ops, ref], ids=["ops", "reference"])
@pytest.mark.parametrize("name", LOSS_BACKWARDS)
def test_loss_grad_output_shapes_as_documented(mod, name):
    """grad_output: a number or an array of shape () or (1,) (all give the same result); other shapes and
    bools are a TypeError."""
    r = np.random.default_rng(5)
    x = (r.random((4, 3)) * 0.8 + 0.1).astype(np.float32)
    t = np.array([0, 2, 1, 1]) if "entropy_backward" in name and "binary" not in name else x[::-1].copy()
    f = getattr(mod, name)
    want = f(x, t, 2.0)
    for g in (np.float32(2.0), np.array(2.0), np.array([2.0]), np.array([2], np.int64)):
        assert np.array_equal(f(x, t, g), want)
    for g in (np.array([2.0, 2.0]), np.ones((1, 1)), True, "2"):
        with pytest.raises(TypeError, match="grad_output"):
            f(x, t, g)


# ---- edge semantics --------------------------------------------------------------------------------
def _transpose_by_definition(x, w, stride, padding, output_padding, dilation):
    """conv_transpose2d from its definition:
    out[n, o, i*s - p + kh*d, j*s - p + kw*d] += x[n, c, i, j] w[c, o, kh, kw]."""
    N, C, H, W = x.shape
    _, O, KH, KW = w.shape
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    OH = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1
    OW = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1
    out = np.zeros((N, O, OH, OW))
    for i in range(H):
        for j in range(W):
            for kh in range(KH):
                for kw in range(KW):
                    y, z = i * sh - ph + kh * dh, j * sw - pw + kw * dw
                    if 0 <= y < OH and 0 <= z < OW:
                        out[:, :, y, z] += np.einsum("nc,co->no", x[:, :, i, j], w[:, :, kh, kw])
    return out


@pytest.mark.parametrize("stride,padding,output_padding,dilation", [
    ((1, 1), (0, 0), (1, 2), (2, 3)),     # output_padding >= stride, < dilation
    ((2, 1), (1, 0), (2, 1), (3, 2)),
    ((2, 2), (2, 1), (1, 3), (2, 4)),     # mixed: h below stride, w past it
    ((2, 2), (1, 1), (1, 1), (1, 1)),     # the ordinary case
])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_conv_transpose2d_output_padding_below_dilation(stride, padding, output_padding, dilation, dt):
    """PyTorch allows output_padding < max(stride, dilation); the extra rows have no source (zeros + bias)."""
    r = np.random.default_rng(6)
    x = r.standard_normal((2, 3, 4, 5)).astype(dt)
    w = r.standard_normal((3, 2, 2, 3)).astype(dt)
    b = r.standard_normal(2).astype(dt)
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    want = _transpose_by_definition(x.astype(np.float64), w.astype(np.float64), stride, padding, output_padding,
                                    dilation) + b[None, :, None, None]
    tol = 1e-5 if dt == np.float32 else 1e-12
    np.testing.assert_allclose(ref.conv_transpose2d(x, w, b, **kw), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ops.conv_transpose2d(x, w, b, **kw), want, rtol=tol, atol=tol)
    # backward: against the reference, and the reference against the adjoint identity <T x, g> = <x, T* g>
    g = r.standard_normal(want.shape).astype(dt)
    dx, dw, db = ops.conv_transpose2d_backward(g, x, w, **kw)
    rdx, rdw, rdb = ref.conv_transpose2d_backward(g, x, w, **kw)
    for a, c in ((dx, rdx), (dw, rdw), (db, rdb)):
        np.testing.assert_allclose(a, c, rtol=10 * tol, atol=10 * tol)
    assert dx.shape == x.shape and dx.flags.c_contiguous
    g64, x64, w64 = (a.astype(np.float64) for a in (g, x, w))
    lhs = (_transpose_by_definition(x64, w64, stride, padding, output_padding, dilation) * g64).sum()
    assert lhs == pytest.approx((x64 * rdx).sum(), rel=1e-10)
    assert lhs == pytest.approx((w64 * rdw).sum(), rel=1e-10)


def test_conv_transpose2d_output_padding_past_both_is_refused():
    x, w = np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 2, 2), np.float32)
    raises_both(ValueError, lambda M: M.conv_transpose2d(x, w, stride=2, dilation=2, output_padding=2),
                "output_padding")


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (64, 3)])
@pytest.mark.parametrize("mod", [ops, ref], ids=["ops", "reference"])
def test_batch_norm_huge_float64_values(mod, shape):
    """Values near 1e200 spread by 1e199: the squared deviations overflow. The output is the normalized
    input (PyTorch gives 0 there: its variance is inf), invstd finite, running_var inf (the true value)."""
    r = np.random.default_rng(7)
    x = 1e200 * (1.0 + 0.1 * r.standard_normal(shape))
    axes = (0, 2, 3) if x.ndim == 4 else (0,)
    xs = x / 1e200
    want = (xs - xs.mean(axes, keepdims=True)) / xs.std(axes, keepdims=True)
    rm, rv = np.zeros(shape[1]), np.ones(shape[1])
    y, mean, invstd = mod.batch_norm(x, rm, rv, training=True, return_stats=True)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(invstd, 1e-200 / xs.std(axes), rtol=1e-12)
    np.testing.assert_allclose(mean, x.mean(axes), rtol=1e-14)
    assert np.isinf(rv).all() and np.isfinite(rm).all()
    if x.ndim == 4:
        z = mod.batch_norm_relu(x, None, None, training=True)[0]
        np.testing.assert_allclose(z, np.maximum(want, 0), rtol=1e-12, atol=1e-12)


def test_batch_norm_inf_input_stays_nan():
    x = np.ones((4, 2, 3, 3))
    x[0, 0, 0, 0] = np.inf
    for M in (ops, ref):
        y = M.batch_norm(x, None, None, training=True)
        assert np.isnan(y[:, 0]).all() and np.isfinite(y[:, 1]).all()


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("g", [np.inf, -np.inf, np.nan])
def test_cross_entropy_backward_nonfinite_grad_output(dt, dense, g):
    """grad_output = inf gives inf times the gradient for grad_output = 1: +-inf where that is nonzero, NaN
    only where it is exactly 0 (it was NaN everywhere: inf * 0 in the target term)."""
    r = np.random.default_rng(8)
    x = (r.standard_normal((5, 4)) * 3).astype(dt)
    x[0, 1] = -200  # its softmax entry underflows to 0 in float32 (and stays tiny in float64)
    t = r.random((5, 4)).astype(dt) if dense else np.array([0, 1, 2, 3, 0])
    for M in (ops, ref):
        unit = np.asarray(M.cross_entropy_backward(x, t, 1.0))
        with np.errstate(invalid="ignore"):
            want = g * unit
        got = np.asarray(M.cross_entropy_backward(x, t, g))
        np.testing.assert_array_equal(got, want)
        if np.isinf(g):
            assert not np.isnan(got[unit != 0]).any()


def test_reference_cross_entropy_minus_inf_logits():
    """A -inf logit away from the label: the loss is finite (the reference gave NaN: 0 * -inf)."""
    x = np.array([[1.0, -np.inf, 2.0], [-np.inf, 0.5, 0.0]])
    lab = np.array([0, 1])
    want = ops.cross_entropy(x, lab)
    assert np.isfinite(want)
    assert float(ref.cross_entropy(x, lab)) == pytest.approx(float(want), rel=1e-15)
    np.testing.assert_allclose(ref.cross_entropy_backward(x, lab), ops.cross_entropy_backward(x, lab), rtol=1e-15)


# ---- real-valued arguments: one conversion (fastann._args.common.real, bindings' to_double) -------------
_HUGE_INT = 10**400  # float(10**400) raises OverflowError


def _real_arg_calls():
    x = np.random.default_rng(0).standard_normal((4, 3))
    p, g, m, v = _nadam_arrays()
    labels = np.array([0, 1, 2, 0])
    return {
        "gemm beta": (lambda M, s: M.gemm(x, x.T.copy(), np.zeros((4, 4)), beta=s), "beta"),
        "gemm alpha": (lambda M, s: M.gemm(x, x.T.copy(), alpha=s), "alpha"),
        "dropout p": (lambda M, s: M.dropout(x, p=s, seed=1), "p"),
        "sgd lr": (lambda M, s: M.sgd_step(p.copy(), g, lr=s), "lr"),
        "adam beta2": (lambda M, s: M.adam_step(p.copy(), g, m.copy(), v.copy(), step=1, beta2=s), "beta2"),
        "nadam beta1": (lambda M, s: M.nadam_step(p.copy(), g, m.copy(), v.copy(), step=1, lr=1e-3, beta1=s), "beta1"),
        "batch_norm momentum": (lambda M, s: M.batch_norm(x, None, None, training=True, momentum=s), "momentum"),
        "batch_norm eps": (lambda M, s: M.batch_norm(x, None, None, training=True, eps=s), "eps"),
        "cce eps": (lambda M, s: M.categorical_crossentropy(np.full((4, 3), 1 / 3), labels, eps=s), "eps"),
        "bce grad_output": (lambda M, s: M.binary_cross_entropy_backward(np.full((4, 3), 0.5), np.ones((4, 3)),
                                                                         grad_output=s), "grad_output"),
        "elu alpha": (lambda M, s: M.activation("elu", x, alpha=s), "alpha"),
    }


@pytest.mark.parametrize("case", list(_real_arg_calls()))
def test_real_argument_beyond_float_range_is_a_value_error(case):
    call, name = _real_arg_calls()[case]
    raises_both(ValueError, lambda M: call(M, _HUGE_INT), name)


@pytest.mark.parametrize("case", list(_real_arg_calls()))
@pytest.mark.parametrize("bad", [True, np.bool_(True), "0.1", None, 1j])
def test_real_argument_not_a_number_is_a_type_error(case, bad):
    call, name = _real_arg_calls()[case]
    raises_both(TypeError, lambda M: call(M, bad), name)


def test_compiled_real_arguments_named():
    """The compiled functions convert real arguments themselves (csrc/bindings/checks.hpp to_double): a bool,
    a string or complex is a TypeError and an int beyond the double range a ValueError, both naming the
    argument; ints and NumPy scalars are accepted."""
    cpu = fastann._cpu
    p, g = np.zeros(3), np.ones(3)
    for bad, exc in [(True, TypeError), (np.bool_(False), TypeError), ("1", TypeError), (None, TypeError),
                     (1j, TypeError), (_HUGE_INT, ValueError), (-_HUGE_INT, ValueError)]:
        with pytest.raises(exc, match="sgd_step: lr"):
            cpu.sgd_step(p, None, g, bad)
        with pytest.raises(exc, match="gemm: beta"):
            cpu.gemm(np.zeros((2, 2)), p.reshape(3, 1)[:2].copy(), np.ones((1, 2)), False, False, 1.0, bad)
        with pytest.raises(exc, match="dropout: p"):
            cpu.dropout_forward(np.empty(3), p, bad, 1)
        with pytest.raises(exc, match="batch_norm: eps"):
            cpu.batch_norm_forward_inference(np.empty((2, 3)), np.ones((2, 3)), np.zeros(3), np.ones(3), None,
                                             None, bad)
    for good in (1, np.int64(1), np.float32(1.0), np.float64(1.0), 1.0):
        q = np.zeros(3)
        cpu.sgd_step(q, None, g, good)
        assert np.array_equal(q, -g)


@pytest.mark.parametrize("bad,exc", [(True, ValueError), (np.bool_(True), TypeError), (1.0, TypeError),
                                     ("2", TypeError), (None, TypeError), (2**70, ValueError), (0, ValueError),
                                     (2**31, ValueError)])
def test_compiled_set_num_threads_refuses(bad, exc):
    n = fastann.get_num_threads()
    with pytest.raises(exc, match="set_num_threads: n"):
        fastann._cpu.set_num_threads(bad)
    assert fastann.get_num_threads() == n
    fastann._cpu.set_num_threads(np.int64(n))
    assert fastann.get_num_threads() == n


# ---- upsample2d: a non-finite value stays local ------------------------------------------------------
@pytest.mark.parametrize("mode,align", [("nearest", False), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_upsample_nonfinite_stays_local(mode, align, bad):
    """One NaN / inf reaches only the outputs that read it (forward) and the inputs its outputs scatter to
    (backward), in the reference as in the kernels (a matrix-product reference spread it over whole rows)."""
    r = np.random.default_rng(1)
    x = r.standard_normal((1, 2, 4, 5))
    x[0, 1, 2, 3] = bad
    kw = dict(scale_factor=2, mode=mode, align_corners=align)
    want = ref.upsample2d(x, **kw)
    np.testing.assert_allclose(ops.upsample2d(x, **kw), want, rtol=1e-12, atol=1e-12)
    assert np.isfinite(want[0, 0]).all()
    rows, cols = np.nonzero(~np.isfinite(want[0, 1]))
    assert rows.size and rows.min() >= 2 * 2 - 2 and rows.max() <= 2 * 3 + 2 and cols.min() >= 2 * 3 - 2
    g = r.standard_normal((1, 2, 8, 10))
    g[0, 1, 4, 6] = bad
    want = ref.upsample2d_backward(g, (1, 2, 4, 5), **kw)
    np.testing.assert_allclose(ops.upsample2d_backward(g, (1, 2, 4, 5), **kw), want, rtol=1e-12, atol=1e-12)
    assert np.isfinite(want[0, 0]).all()
    assert 1 <= (~np.isfinite(want[0, 1])).sum() <= 4


# ---- categorical_crossentropy: Keras' sum over every column ------------------------------------------
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("labels", [True, False])
def test_categorical_crossentropy_nonfinite_outside_target_is_nan(dt, labels):
    """Keras computes -sum_j t_j log clip(p_j / S): a +inf probability outside the target column makes
    q = inf/inf = NaN there and 0 * log(NaN) = NaN (a zero row 0/0 likewise); other rows stay finite."""
    p = np.array([[0.2, 0.3, 0.5], [0.2, np.inf, 0.3], [0.0, 0.0, 0.0], [0.1, np.nan, 0.2]], dt)
    t = np.array([2, 0, 1, 0]) if labels else np.eye(3, dtype=dt)[[2, 0, 1, 0]]
    assert np.isnan(ref.categorical_crossentropy(p, t))
    assert np.isnan(ops.categorical_crossentropy(p, t))
    for i in range(4):
        want = ref.categorical_crossentropy(p[i:i + 1], t[i:i + 1])
        got = ops.categorical_crossentropy(p[i:i + 1], t[i:i + 1])
        assert np.isnan(want) == (i > 0) and np.isnan(got) == (i > 0)
        if i == 0:
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_categorical_crossentropy_eps_zero_zero_probability():
    """eps = 0: log 0 = -inf in a non-target column gives 0 * -inf = NaN (Keras' formula); in the target
    column +inf."""
    p = np.array([[0.0, 0.4, 0.6]])
    assert np.isnan(ref.categorical_crossentropy(p, np.array([1]), eps=0.0))
    assert np.isnan(ops.categorical_crossentropy(p, np.array([1]), eps=0.0))
    assert ops.categorical_crossentropy(p, np.array([0]), eps=0.0) == np.inf
    assert ref.categorical_crossentropy(p, np.array([0]), eps=0.0) == np.inf


# ---- optimizers: no L2 term when weight_decay == 0 ---------------------------------------------------
_OPTIM_CALLS = {
    "sgd": lambda M, p, g, s, wd: M.sgd_step(p, g, s[0], lr=0.1, momentum=0.9, weight_decay=wd),
    "adam": lambda M, p, g, s, wd: M.adam_step(p, g, s[0], s[1], step=3, lr=0.1, weight_decay=wd),
    "adamw": lambda M, p, g, s, wd: M.adamw_step(p, g, s[0], s[1], step=3, lr=0.1, weight_decay=wd),
    "rmsprop": lambda M, p, g, s, wd: M.rmsprop_step(p, g, s[0], lr=0.1, weight_decay=wd),
    "adagrad": lambda M, p, g, s, wd: M.adagrad_step(p, g, s[0], lr=0.1, weight_decay=wd),
    "adadelta": lambda M, p, g, s, wd: M.adadelta_step(p, g, s[0], s[1], lr=0.1, weight_decay=wd),
    "adamax": lambda M, p, g, s, wd: M.adamax_step(p, g, s[0], s[1], step=3, lr=0.1, weight_decay=wd),
    "nadam": lambda M, p, g, s, wd: M.nadam_step(p, g, s[0], s[1], step=3, lr=0.1, weight_decay=wd),
}


@pytest.mark.parametrize("name", list(_OPTIM_CALLS))
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_optimizer_inf_param_stays_inf(name, dt, wd):
    """A +-inf param stays +-inf (torch.optim adds wd * p only when weight_decay != 0; AdamW multiplies p
    by 1 - lr wd): 0 * inf used to make it NaN. Finite entries agree with the reference."""
    results = []
    for M in (ops, ref):
        p = np.array([np.inf, -np.inf, 0.5, -1.5], dt)
        g = np.array([0.1, -0.2, 0.3, 0.4], dt)
        s = [np.zeros(4, dt), np.zeros(4, dt)]
        _OPTIM_CALLS[name](M, p, g, s, wd)
        results.append(p)
    for p in results:
        if name == "adamw" or wd == 0.0:
            assert p[0] == np.inf and p[1] == -np.inf
    np.testing.assert_array_equal(np.isnan(results[0]), np.isnan(results[1]))
    np.testing.assert_allclose(results[0][2:], results[1][2:], rtol=1e-5)


# ---- tanh-GELU derivative for huge |x| ---------------------------------------------------------------
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gelu_tanh_backward_saturates_for_huge_inputs(dt):
    """x^3 overflows float for |x| > ~1e13 and the formula gave 0 * inf = NaN; the derivative there is
    exactly 1 (x > 0) or 0 (x < 0). +-inf keep PyTorch's NaN; |x| <= 1e6 is the formula, as before."""
    big = [1e13, -1e13, 3e38, -3e38, 1.5e6, -1.5e6] + ([1e200, -1e300] if dt == np.float64 else [])
    x = np.array(big + [np.inf, -np.inf, 0.5, -2.0, 9e5], dt)
    g = np.full_like(x, 2.0)
    want = np.array([2.0 if v > 0 else 0.0 for v in big] + [np.nan, np.nan], np.float64)
    for M in (ops, ref):
        got = np.asarray(M.gelu_backward(g, x, approximate="tanh"), np.float64)
        np.testing.assert_array_equal(got[:len(want)], want)
        assert np.isfinite(got[len(want):]).all()
        assert np.isfinite(np.asarray(M.gelu(x[:len(big)], approximate="tanh"))).all()
    np.testing.assert_allclose(ops.gelu_backward(g, x, approximate="tanh"),
                               ref.gelu_backward(g, x, approximate="tanh"), rtol=1e-5)


# ---- batch norm: +-inf channels, huge float64 backward -----------------------------------------------
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 2, 2, 2), (4, 2)])
def test_batch_norm_inf_channel_mean_is_inf(dt, shape):
    """A channel of finite values and +inf (no NaN, no -inf) has mean +inf, as in the reference and PyTorch:
    the kernels' sums were shifted by the channel's first value, and x - inf made them NaN when that value
    was the inf."""
    x = np.random.default_rng(3).standard_normal(shape).astype(dt)
    x.reshape(shape[0], shape[1], -1)[0, 0, 0] = np.inf  # the channel's first value
    x.reshape(shape[0], shape[1], -1)[1, 1, 0] = -np.inf  # not the first value
    for M in (ops, ref):
        rm, rv = np.zeros(shape[1], dt), np.ones(shape[1], dt)
        out, mean, invstd = M.batch_norm(x, rm, rv, training=True, return_stats=True)
        assert mean[0] == np.inf and mean[1] == -np.inf, M.__name__
        assert rm[0] == np.inf and rm[1] == -np.inf


@pytest.mark.parametrize("relu", [False, True])
def test_batch_norm_backward_huge_float64(relu):
    """float64 channels of values ~1e146 (invstd ~1e-146): w invstd^3 underflowed and dinput was off by tens
    of percent; the kernel forms the coefficient without the underflow."""
    r = np.random.default_rng(4)
    x = r.standard_normal((2, 3, 4, 4)) * 1e146
    out, mean, invstd = ref.batch_norm(x, None, None, training=True, return_stats=True)
    w, b = r.uniform(0.5, 2, 3), r.uniform(-1, 1, 3)
    if relu:
        y = np.maximum(ref.batch_norm(x, None, None, w, b, training=True), 0)
        g = r.standard_normal(y.shape) * 1e146
        args = (g, y, x, w, b, mean, invstd)
        got, want = ops.batch_norm_relu_backward(*args), ref.batch_norm_relu_backward(*args)
    else:
        g = r.standard_normal(x.shape) * 1e146
        args = (g, x, w, mean, invstd)
        got, want = ops.batch_norm_backward(*args), ref.batch_norm_backward(*args)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-12 * np.abs(e).max())


# ---- conv2d: zero padding multiplies, as in PyTorch --------------------------------------------------
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("rung", [1, 2, 3, 4])
@pytest.mark.parametrize("geo", [dict(stride=1, padding=1), dict(stride=2, padding=(2, 1)),
                                 dict(stride=1, padding="same", dilation=2), dict(stride=1, padding=1, groups=3)])
def test_conv_nonfinite_times_zero_padding_is_nan(dt, rung, geo):
    """A padded tap multiplies a zero (PyTorch's im2col / oneDNN, the reference): an inf weight gives NaN in
    the outputs whose window covers the padding with that tap, an inf output gradient NaN in the weight
    gradient's taps that reach the padding. Rung 1 skipped padded taps (+-inf / finite there)."""
    if rung == 4 and (geo["stride"] != 1 or geo.get("dilation", 1) != 1):
        return  # rung 4 takes 3x3 / stride 1 / dilation 1 only
    r = np.random.default_rng(5)
    x = r.standard_normal((2, 3, 6, 7)).astype(dt)
    w = r.standard_normal((6, 3 // geo.get("groups", 1), 3, 3)).astype(dt)
    w[1, 0, 0, 0], w[4, 0, 2, 2] = np.inf, -np.inf
    want = ref.conv2d(x, w, **geo)
    got = ops.conv2d(x, w, **geo, rung=rung)
    assert np.isnan(want).any()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    g = r.standard_normal(want.shape).astype(dt)
    g[0, 1, 0, 0], g[1, 4, -1, -1] = np.inf, np.nan
    w_ok = np.where(np.isfinite(w), w, 0.5).astype(dt)
    want = ref.conv2d_backward_weight(g, x, w_ok.shape, **geo)
    got = ops.conv2d_backward_weight(g, x, w_ok.shape, **geo, rung=rung)
    if rung == 4:  # documented: rung 4 spreads a non-finite gradient over its channel pair's taps
        assert np.all(~np.isfinite(got[~np.isfinite(want)]))
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-4, atol=1e-4)


# ---- activation parameters as the kernels see them ---------------------------------------------------
def test_activation_param_rounded_to_input_dtype():
    """A float64 alpha below float32's range (2.2e-311) is 0 for float32 input in the kernels (and PyTorch):
    elu's derivative alpha * exp(x) is then 0 and an inf grad_output gives NaN; the reference rounds the
    parameter to the input's dtype the same way."""
    x = np.array([-1.0, -2.0, 3.0], np.float32)
    g = np.array([np.inf, 1.0, np.inf], np.float32)
    for M in (ops, ref):
        d = np.asarray(M.activation_backward("elu", g, x, alpha=2.225073858507e-311), np.float64)
        assert np.isnan(d[0]) and d[1] == 0.0 and d[2] == np.inf
    d = ref.activation_backward("elu", g.astype(np.float64), x.astype(np.float64), alpha=2.225073858507e-311)
    assert d[0] == np.inf and d[1] > 0
