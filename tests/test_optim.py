"""Fused optimizer steps (fastann.ops.optim): hand-computed update rules, the float64 reference, bad input."""
import math

import numpy as np
import pytest

import fastann
from fastann import ops
from fastann import reference as ref
from helpers import assert_close, check_at_simd, raises_both, to_numpy

# name -> (number of state arrays, keyword arguments of one configuration); each configuration is run
# for several steps against the reference.
CONFIGS = [
    ("sgd_step", 0, dict(lr=0.1)),
    ("sgd_step", 1, dict(lr=0.1, momentum=0.9)),
    ("sgd_step", 1, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("sgd_step", 1, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("adam_step", 2, dict(lr=0.01)),
    ("adam_step", 2, dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)),
    ("adam_step", 3, dict(lr=0.01, amsgrad=True)),
    ("adamw_step", 2, dict(lr=0.01)),
    ("adamw_step", 3, dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    ("rmsprop_step", 1, dict(lr=0.01)),
    ("rmsprop_step", 2, dict(lr=0.01, momentum=0.9, weight_decay=0.01)),
    ("rmsprop_step", 3, dict(lr=0.01, momentum=0.5, centered=True)),
    ("rmsprop_step", 3, dict(lr=0.01, rho=0.8, centered=True, momentum=0.0)),
    ("adagrad_step", 1, dict(lr=0.1)),
    ("adagrad_step", 1, dict(lr=0.1, eps=1e-5, weight_decay=0.01)),
    ("adadelta_step", 2, dict()),
    ("adadelta_step", 2, dict(lr=0.5, rho=0.9, eps=1e-6, weight_decay=0.01)),
    ("adamax_step", 2, dict(lr=0.02)),
    ("adamax_step", 2, dict(lr=0.02, beta1=0.7, weight_decay=0.05)),
    ("nadam_step", 2, dict(lr=0.01)),
    ("nadam_step", 2, dict(lr=0.01, beta1=0.85, beta2=0.99, weight_decay=0.01)),
    ("lion_step", 1, dict(lr=0.01)),
    ("lion_step", 1, dict(lr=0.02, beta1=0.8, beta2=0.95, weight_decay=0.1)),
    ("ftrl_step", 2, dict(lr=0.1)),
    ("ftrl_step", 2, dict(lr=0.1, lr_power=-0.7, l1=0.05, l2=0.01, l2_shrinkage=0.02, beta=0.5)),
    ("ftrl_step", 2, dict(lr=0.1, lr_power=0.0, l1=0.01)),
]
IDS = [f"{n}-{'-'.join(f'{k}{v}' for k, v in kw.items())}" for n, _, kw in CONFIGS]
STEPPED = {"adam_step", "adamw_step", "adamax_step", "nadam_step"}  # take step=


def _call(mod, name, p, g, state, kw, t):
    """Call mod.<name> with the state arrays placed where each signature wants them."""
    kw = dict(kw)
    if name in STEPPED:
        kw["step"] = t
    f = getattr(mod, name)
    if kw.pop("amsgrad", False):
        return f(p, g, state[0], state[1], max_exp_avg_sq=state[2], **kw)
    if name == "rmsprop_step":
        sq, *rest = state
        buf = rest.pop(0) if kw.get("momentum", 0) > 0 else None
        gavg = rest.pop(0) if kw.get("centered") else None
        return f(p, g, sq, buf, gavg, **kw)
    return f(p, g, *state, **kw)


def _initial_state(name, nstate, shape, dtype):
    # Adagrad's and Ftrl's accumulators start from Keras' initial value 0.1 (any value >= 0 works);
    # everything else from zeros
    fill = 0.1 if name in ("adagrad_step", "ftrl_step") else 0.0
    return [np.full(shape, fill if i == 0 else 0.0, dtype) for i in range(nstate)]


def _close(out, want, tol, what):
    """||out - want|| <= tol * max(||want||, 0.1 sqrt(n)): the floor (the size of the O(1) random
    gradients that went in) keeps a state that is small by cancellation (a momentum buffer summing
    gradients of both signs) from turning a few float32 roundings into a large relative error."""
    out = to_numpy(out).astype(np.float64)
    den = max(np.linalg.norm(want), 0.1 * np.sqrt(want.size))
    err = np.linalg.norm(out - want) / den
    assert err <= tol, f"{what}: error {err:.3e} > {tol:.1e}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,nstate,kw", CONFIGS, ids=IDS)
def test_steps_match_reference(xp, rng, name, nstate, kw, dtype):
    for shape in [(1,), (7,), (5, 3), (2, 3, 37)]:
        # the reference starts from the same dtype-rounded numbers, so only the arithmetic differs
        p0 = rng.standard_normal(shape).astype(dtype)
        p_ref, state_ref = p0.astype(np.float64), _initial_state(name, nstate, shape, np.float64)
        p, state = xp.asarray(p0), [xp.asarray(s.astype(dtype)) for s in state_ref]
        for t in range(1, 5):
            g = rng.standard_normal(shape).astype(dtype)
            assert _call(ops, name, p, xp.asarray(g), state, kw, t) is None
            _call(ref, name, p_ref, g.astype(np.float64), state_ref, kw, t)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        _close(p, p_ref, tol, f"{name} param {shape}")
        for i, (s, sr) in enumerate(zip(state, state_ref)):
            _close(s, sr, tol, f"{name} state {i} {shape}")


@pytest.mark.parametrize("name,nstate,kw", [c for c in CONFIGS if c[0] in ("adam_step", "sgd_step")][:3])
def test_large_threaded_matches_reference(rng, name, nstate, kw):
    shape = (1450, 1450)  # > 2 x 1048576 elements: split over threads when there are several
    p0 = rng.standard_normal(shape)
    p, state = p0.astype(np.float32), _initial_state(name, nstate, shape, np.float32)
    p_ref, state_ref = p0.copy(), _initial_state(name, nstate, shape, np.float64)
    for t in (1, 2):
        g = rng.standard_normal(shape)
        _call(ops, name, p, g.astype(np.float32), state, kw, t)
        _call(ref, name, p_ref, g, state_ref, kw, t)
    assert_close(p, p_ref, 1e-5, name)


# ---- hand-computed update rules (formulas written out here, one scalar at a time) ----------------------
def _run(name, p, gs, nstate, fill=0.0, **kw):
    p = np.array([p])
    state = [np.array([fill]) for _ in range(nstate)]
    for t, g in enumerate(gs, 1):
        _call(ops, name, p, np.array([g]), state, kw, t)
    return float(p[0]), [float(s[0]) for s in state]


GS = [0.5, -1.5, 2.0]


def test_sgd_by_hand():
    lr, mom, damp, wd = 0.1, 0.9, 0.2, 0.01
    p, buf = 1.0, 0.0
    for g in GS:
        g = g + wd * p
        buf = mom * buf + (1 - damp) * g
        p -= lr * buf
    got, st = _run("sgd_step", 1.0, GS, 1, lr=lr, momentum=mom, dampening=damp, weight_decay=wd)
    assert got == pytest.approx(p, rel=1e-14) and st[0] == pytest.approx(buf, rel=1e-14)
    p, buf = 1.0, 0.0  # nesterov: step along g + momentum * buf
    for g in GS:
        buf = mom * buf + g
        p -= lr * (g + mom * buf)
    assert _run("sgd_step", 1.0, GS, 1, lr=lr, momentum=mom, nesterov=True)[0] == pytest.approx(p, rel=1e-14)
    assert _run("sgd_step", 1.0, GS, 0, lr=lr)[0] == pytest.approx(1.0 - lr * sum(GS), rel=1e-14)


def test_adam_and_adamw_by_hand():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    # the first Adam step moves every parameter by about lr against the sign of its gradient
    got, (m, v) = _run("adam_step", 1.0, [0.5], 2, lr=lr)
    assert m == pytest.approx(0.05) and v == pytest.approx(0.00025)
    assert got == pytest.approx(1.0 - lr * 0.5 / (0.5 + eps), rel=1e-14)
    for name, wd in [("adam_step", 0.1), ("adamw_step", 0.1)]:
        p, m, v = 1.0, 0.0, 0.0
        for t, g in enumerate(GS, 1):
            if name == "adamw_step":
                p *= 1 - lr * wd          # decoupled decay (Loshchilov & Hutter)
            else:
                g = g + wd * p            # L2 term in the gradient
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p -= lr / (1 - b1**t) * m / (math.sqrt(v / (1 - b2**t)) + eps)
        assert _run(name, 1.0, GS, 2, lr=lr, weight_decay=wd)[0] == pytest.approx(p, rel=1e-13), name
    # AMSGrad: the denominator uses the running max of v
    p, m, v, vmax = 1.0, 0.0, 0.0, 0.0
    for t, g in enumerate([2.0, 0.1, 0.1], 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = max(vmax, v)
        p -= lr / (1 - b1**t) * m / (math.sqrt(vmax / (1 - b2**t)) + eps)
    got, st = _run("adam_step", 1.0, [2.0, 0.1, 0.1], 3, lr=lr, amsgrad=True)
    assert got == pytest.approx(p, rel=1e-13) and st[2] == pytest.approx(vmax, rel=1e-13)


def test_rmsprop_by_hand():
    lr, rho, eps, mom = 0.01, 0.9, 1e-7, 0.5
    p, s, a, buf = 1.0, 0.0, 0.0, 0.0
    for g in GS:
        s = rho * s + (1 - rho) * g * g
        a = rho * a + (1 - rho) * g
        buf = mom * buf + g / (math.sqrt(s - a * a) + eps)
        p -= lr * buf
    got, _ = _run("rmsprop_step", 1.0, GS, 3, lr=lr, momentum=mom, centered=True)
    assert got == pytest.approx(p, rel=1e-13)
    p, s = 1.0, 0.0
    for g in GS:
        s = rho * s + (1 - rho) * g * g
        p -= lr * g / (math.sqrt(s) + eps)
    assert _run("rmsprop_step", 1.0, GS, 1, lr=lr)[0] == pytest.approx(p, rel=1e-13)


def test_adagrad_adadelta_adamax_by_hand():
    lr, eps = 0.1, 1e-7
    p, acc = 1.0, 0.1
    for g in GS:
        acc += g * g
        p -= lr * g / (math.sqrt(acc) + eps)
    assert _run("adagrad_step", 1.0, GS, 1, fill=0.1, lr=lr)[0] == pytest.approx(p, rel=1e-13)
    rho = 0.95
    p, s, u = 1.0, 0.0, 0.0
    for g in GS:
        s = rho * s + (1 - rho) * g * g
        d = math.sqrt(u + eps) / math.sqrt(s + eps) * g
        u = rho * u + (1 - rho) * d * d
        p -= 1.0 * d
    got, st = _run("adadelta_step", 1.0, GS, 2)
    assert got == pytest.approx(p, rel=1e-13) and st[1] == pytest.approx(u, rel=1e-13)
    b1, b2, lr = 0.9, 0.999, 0.02
    p, m, u = 1.0, 0.0, 0.0
    for t, g in enumerate(GS, 1):
        m = b1 * m + (1 - b1) * g
        u = max(b2 * u, abs(g) + eps)
        p -= lr / (1 - b1**t) * m / u
    assert _run("adamax_step", 1.0, GS, 2, lr=lr)[0] == pytest.approx(p, rel=1e-13)


def test_nadam_by_hand():
    # Dozat 2016 as Keras Nadam / torch NAdam: momentum schedule mu_t = b1 (1 - 0.5 * 0.96^(0.004 t))
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    p, m, v, prod = 1.0, 0.0, 0.0, 1.0
    for t, g in enumerate(GS, 1):
        mu = b1 * (1 - 0.5 * 0.96 ** (0.004 * t))
        mu_next = b1 * (1 - 0.5 * 0.96 ** (0.004 * (t + 1)))
        prod *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = mu_next * m / (1 - prod * mu_next) + (1 - mu) * g / (1 - prod)  # Keras' form
        p -= lr * m_hat / (math.sqrt(v / (1 - b2**t)) + eps)
    assert _run("nadam_step", 1.0, GS, 2, lr=lr)[0] == pytest.approx(p, rel=1e-13)


def test_nadam_steps_in_any_order(rng):
    # the schedule product is cached for the usual t, t+1, ... sequence; other orders must still be right
    for t in [5, 2, 2, 9, 1]:
        p, g = rng.standard_normal(6), rng.standard_normal(6)
        m, v = np.abs(rng.standard_normal(6)), np.abs(rng.standard_normal(6))
        p2, m2, v2 = p.copy(), m.copy(), v.copy()
        ops.nadam_step(p, g, m, v, step=t, lr=0.01)
        ref.nadam_step(p2, g, m2, v2, step=t, lr=0.01)
        np.testing.assert_allclose(p, p2, rtol=1e-13)


def test_lion_by_hand():
    # keras.optimizers.Lion.update_step after the base class's decoupled decay (variable -= lr wd variable)
    lr, b1, b2, wd = 0.01, 0.9, 0.99, 0.1
    p, m = 1.0, 0.0
    for g in [0.5, -1.5, 2.0, 0.0]:
        p -= p * wd * lr
        c = m * b1 + g * (1 - b1)
        p -= lr * (c > 0) - lr * (c < 0)
        m = m * b2 + g * (1 - b2)
    got, st = _run("lion_step", 1.0, [0.5, -1.5, 2.0, 0.0], 1, lr=lr, beta1=b1, beta2=b2, weight_decay=wd)
    assert got == pytest.approx(p, rel=1e-14) and st[0] == pytest.approx(m, rel=1e-14)
    # sign(0) = 0: a zero gradient on a zero momentum leaves param where it is
    assert _run("lion_step", 0.25, [0.0], 1, lr=lr) == (0.25, [0.0])


def test_ftrl_by_hand():
    # keras.optimizers.Ftrl.update_step, written out line by line
    for lr, lrp, l1, l2, l2s, beta in [(0.1, -0.5, 0.0, 0.0, 0.0, 0.0), (0.1, -0.5, 0.2, 0.01, 0.02, 0.5),
                                       (0.05, -0.3, 0.0, 0.1, 0.0, 1.0), (0.1, 0.0, 0.01, 0.0, 0.0, 0.0)]:
        w, n, z = 1.0, 0.1, 0.0
        p, acc, lin = np.array([1.0]), np.array([0.1]), np.array([0.0])
        for g in GS:
            l2_reg = l2 + beta / (2.0 * lr)
            grad_to_use = g + 2 * l2s * w
            new_n = n + g**2
            z += grad_to_use - (new_n ** -lrp - n ** -lrp) / lr * w
            quadratic = new_n ** -lrp / lr + 2 * l2_reg
            w = (min(max(z, -l1), l1) - z) / quadratic
            n = new_n
            ops.ftrl_step(p, np.array([g]), acc, lin, lr=lr, lr_power=lrp, l1=l1, l2=l2, l2_shrinkage=l2s, beta=beta)
        assert p[0] == pytest.approx(w, rel=1e-13, abs=1e-300) and lin[0] == pytest.approx(z, rel=1e-13)
        assert acc[0] == pytest.approx(n, rel=1e-14)
    # |z| <= l1 sets the weight to exactly 0 (the L1 sparsity of FTRL-Proximal)
    p, acc, lin = np.array([0.3]), np.array([0.1]), np.array([0.0])
    ops.ftrl_step(p, np.array([0.01]), acc, lin, lr=0.1, l1=1.0)
    assert p[0] == 0.0


@pytest.mark.parametrize("name,nstate,kw", [c for c in CONFIGS if c[0] in ("lion_step", "ftrl_step")])
def test_nonfinite_match_reference(xp, name, nstate, kw):
    """NaN and +-inf in grad and in the state give the reference's NaN / inf pattern, in both dtypes."""
    g0 = np.array([np.nan, np.inf, -np.inf, 1.0, -2.0, 0.5])
    for dt in (np.float32, np.float64):
        for bad_state in (False, True):
            st0 = _initial_state(name, nstate, g0.shape, np.float64)
            if bad_state:
                st0[0][3:] = [np.nan, np.inf, 0.25]
            p, pr = xp.asarray(np.full(6, 0.5, dt)), np.full(6, 0.5)
            st, sr = [xp.asarray(s.astype(dt)) for s in st0], [s.copy() for s in st0]
            with np.errstate(all="ignore"):
                _call(ops, name, p, xp.asarray(g0.astype(dt)), st, kw, 1)
                _call(ref, name, pr, g0, sr, kw, 1)
            for got, want in zip([p, *st], [pr, *sr]):
                got = to_numpy(got).astype(np.float64)
                assert np.array_equal(np.isnan(got), np.isnan(want)), (name, got, want)
                assert np.array_equal(np.isposinf(got), np.isposinf(want)), (name, got, want)
                fin = np.isfinite(want)
                np.testing.assert_allclose(got[fin], want[fin], rtol=1e-5)


def test_nan_propagates(xp):
    g = np.array([np.nan, 1.0], np.float32)
    for name, nstate, kw in CONFIGS:
        p = xp.asarray(np.ones(2, np.float32))
        state = [xp.asarray(s) for s in _initial_state(name, nstate, (2,), np.float32)]
        _call(ops, name, p, xp.asarray(g), state, kw, 1)
        out = to_numpy(p)
        assert np.isnan(out[0]) and np.isfinite(out[1]), (name, kw, out)


# ---- bad input ----------------------------------------------------------------------------------------
def test_bad_input_ops_and_reference():
    def arrs(n=4, dtype=np.float32):
        return [np.zeros(n, dtype) for _ in range(4)]

    p, g, m, v = arrs()
    raises_both(ValueError, lambda M: M.adam_step(p, g, np.zeros(5, np.float32), v, step=1), "shape")
    raises_both(ValueError, lambda M: M.adam_step(p, np.zeros((2, 2), np.float32), m, v, step=1), "shape")
    raises_both(TypeError, lambda M: M.adam_step(p, g, m.astype(np.float64), v, step=1), "dtype")
    raises_both(TypeError, lambda M: M.adam_step(p.astype(np.int32), g.astype(np.int32), m, v, step=1))
    raises_both(TypeError, lambda M: M.adam_step(list(p), g, m, v, step=1))
    raises_both(ValueError, lambda M: M.adam_step(p, g, m, v, step=0), "step")
    raises_both(ValueError, lambda M: M.adam_step(p, g, m, v, step=1, lr=-1.0), "lr")
    raises_both(ValueError, lambda M: M.adam_step(p, g, m, v, step=1, beta1=1.0), "beta1")
    raises_both(ValueError, lambda M: M.adam_step(np.zeros(8, np.float32)[::2], g, m, v, step=1), "C-contiguous")
    raises_both(ValueError, lambda M: M.adam_step(p, np.zeros(4, np.float32)[::-1], m, v, step=1), "C-contiguous")
    raises_both(ValueError, lambda M: M.adam_step(*[np.zeros(0, np.float32)] * 4, step=1), "empty")
    raises_both(ValueError, lambda M: M.adam_step(p, g, m, v, step=1, max_exp_avg_sq=np.zeros(3, np.float32)), "shape")
    raises_both(ValueError, lambda M: M.sgd_step(p, g, lr=0.1, momentum=0.9), "momentum_buffer")
    raises_both(ValueError, lambda M: M.sgd_step(p, g, m, lr=0.1, momentum=0.9, nesterov=True, dampening=0.1), "nesterov")
    raises_both(ValueError, lambda M: M.rmsprop_step(p, g, m, lr=0.1, centered=True), "grad_avg")
    raises_both(ValueError, lambda M: M.rmsprop_step(p, g, m, lr=0.1, momentum=0.5), "momentum_buffer")
    raises_both(ValueError, lambda M: M.adadelta_step(p, g, m, v, rho=1.5), "rho")
    raises_both(ValueError, lambda M: M.nadam_step(p, g, m, v, step=1, lr=0.1, beta1=-0.1), "beta1")
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    raises_both(ValueError, lambda M: M.adagrad_step(ro, g, m, lr=0.1), "read-only")
    raises_both(ValueError, lambda M: M.adagrad_step(p, g, ro, lr=0.1), "read-only")
    raises_both(ValueError, lambda M: M.lion_step(p, g, m, beta1=1.5), "beta1")
    raises_both(ValueError, lambda M: M.lion_step(p, g, m, beta2=-0.1), "beta2")
    raises_both(ValueError, lambda M: M.lion_step(p, g, m, weight_decay=-1.0), "weight_decay")
    raises_both(ValueError, lambda M: M.lion_step(p, g, np.zeros(5, np.float32)), "shape")
    raises_both(TypeError, lambda M: M.lion_step(p, g, m.astype(np.float64)), "dtype")
    raises_both(ValueError, lambda M: M.ftrl_step(p, g, m, v, lr=0.0), "lr")
    raises_both(ValueError, lambda M: M.ftrl_step(p, g, m, v, lr=0.1, lr_power=0.5), "lr_power")
    for k in ("l1", "l2", "l2_shrinkage", "beta"):
        raises_both(ValueError, lambda M, k=k: M.ftrl_step(p, g, m, v, lr=0.1, **{k: -1.0}), k)
    raises_both(ValueError, lambda M: M.ftrl_step(p, g, m, ro, lr=0.1), "read-only")
    raises_both(TypeError, lambda M: M.ftrl_step(p, g, m, v, lr=0.1, l1=True), "l1")


def test_bad_input_compiled_module_directly():
    cpu = fastann._cpu
    p, g, m, v = (np.zeros(4, np.float32) for _ in range(4))
    cpu.adam_step(p, m, v, None, g, 1, 1e-3, 0.9, 0.999, 1e-7, 0.0)
    with pytest.raises(ValueError, match="exp_avg must have the shape of param"):
        cpu.adam_step(p, np.zeros(5, np.float32), v, None, g, 1)
    with pytest.raises(TypeError, match="grad has dtype float64"):
        cpu.adam_step(p, m, v, None, g.astype(np.float64), 1)
    with pytest.raises(TypeError, match="param must be float32 or float64"):
        cpu.sgd_step(p.astype(np.int64), None, g, 0.1)
    with pytest.raises(ValueError, match="step must be the 1-based"):
        cpu.adamw_step(p, m, v, None, g, 0)
    with pytest.raises(ValueError, match="beta2 must be in"):
        cpu.adamax_step(p, m, v, g, 1, 0.1, 0.9, 1.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        cpu.adagrad_step(p, np.zeros(8, np.float32)[::2], g, 0.1)
    with pytest.raises(ValueError, match="empty"):
        cpu.adagrad_step(np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32), 0.1)
    with pytest.raises(ValueError, match="needs a momentum_buffer"):
        cpu.sgd_step(p, None, g, 0.1, 0.9)
    with pytest.raises(ValueError, match="lr must be finite"):
        cpu.rmsprop_step(p, m, None, None, g, float("nan"))
    with pytest.raises(ValueError, match="mu_product"):
        cpu.nadam_step(p, m, v, g, 1, 1.5, 0.01)
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        cpu.adadelta_step(ro, m, v, g, 1.0)
    with pytest.raises(TypeError):
        cpu.adam_step([0.0] * 4, m, v, None, g, 1)
    cpu.lion_step(p, m, g, 0.01, 0.9, 0.99, 0.0)
    with pytest.raises(ValueError, match="lion_step: beta1 must be in \\[0, 1\\], got 1.5"):
        cpu.lion_step(p, m, g, 0.01, 1.5)
    with pytest.raises(ValueError, match="lion_step: .*exp_avg.*overlap|lion_step: .*overlap"):
        cpu.lion_step(p, p, g)
    cpu.ftrl_step(p, m + 0.1, v, g, 0.1, -0.5, 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="ftrl_step: lr must be finite and > 0, got 0"):
        cpu.ftrl_step(p, m, v, g, 0.0)
    with pytest.raises(ValueError, match="ftrl_step: lr_power must be finite and <= 0, got 0.5"):
        cpu.ftrl_step(p, m, v, g, 0.1, 0.5)
    with pytest.raises(ValueError, match="ftrl_step: l2_shrinkage must be finite and >= 0"):
        cpu.ftrl_step(p, m, v, g, 0.1, -0.5, 0.0, 0.0, -1.0)
    with pytest.raises(TypeError, match="ftrl_step: linear has dtype float64"):
        cpu.ftrl_step(p, m, v.astype(np.float64), g, 0.1)


_SIMD_SNIPPET = """
from test_optim import CONFIGS, _call, _initial_state
worst = 0.0
for name, nstate, kw in CONFIGS:
    shape = (1003,)  # odd: the vector loops' remainders run too
    p0 = rng.standard_normal(shape)
    p, st = p0.astype(np.float32), _initial_state(name, nstate, shape, np.float32)
    pr, sr = p0.copy(), _initial_state(name, nstate, shape, np.float64)
    for t in (1, 2, 3):
        g = rng.standard_normal(shape)
        _call(ops, name, p, g.astype(np.float32), st, kw, t)
        _call(ref, name, pr, g, sr, kw, t)
    worst = max(worst, np.linalg.norm(p - pr) / np.linalg.norm(pr))
assert worst < 1e-5, worst
"""


@pytest.mark.parametrize("level", ["scalar", "avx2"])
def test_lower_simd_paths_match_reference(level):
    # The loops are compiled for baseline x86-64, AVX2 and AVX-512 and picked once per process from the
    # CPU; FASTANN_SIMD forces a lower path, so each one runs here in a subprocess.
    check_at_simd(level, _SIMD_SNIPPET)
