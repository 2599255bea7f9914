"""Keras's regression and margin losses (ops.huber_loss, kl_divergence, hinge_loss, squared_hinge_loss,
log_cosh_loss, poisson_loss) against the float64 reference, Keras's documented values, gradchecks, NaN and bad
input; and the fastann.losses classes over them."""
import numpy as np
import pytest

import fastann
from fastann import losses, ops
from fastann import reference as ref
from helpers import TOL_REDUCTION, assert_close, gradcheck, raises_both, to_numpy

SHAPES = [(1,), (7,), (4, 5), (3, 2, 17)]
DTYPES = [np.float32, np.float64]


def _normal(scale):
    return lambda r, s: scale * r.standard_normal(s)


def _probs(r, s):
    return r.uniform(0.02, 0.98, s)


def _labels01(r, s):
    return r.integers(0, 2, s).astype(float)


def _labels_pm1(r, s):
    return 2.0 * r.integers(0, 2, s) - 1.0


# (id, op name, make input, make target, keyword arguments)
CASES = [
    ("huber", "huber_loss", _normal(2.0), _normal(1.0), {}),
    ("huber_delta", "huber_loss", _normal(2.0), _normal(1.0), {"delta": 0.3}),
    ("kld", "kl_divergence", _probs, _probs, {}),
    ("kld_clip", "kl_divergence", lambda r, s: r.uniform(-0.2, 1.2, s), lambda r, s: r.uniform(-0.2, 1.2, s), {}),
    ("hinge01", "hinge_loss", _normal(1.5), _labels01, {}),
    ("hinge_pm1", "hinge_loss", _normal(1.5), _labels_pm1, {}),
    ("sq_hinge01", "squared_hinge_loss", _normal(1.5), _labels01, {}),
    ("sq_hinge_real", "squared_hinge_loss", _normal(1.5), _normal(1.0), {}),
    ("log_cosh", "log_cosh_loss", _normal(3.0), _normal(1.0), {}),
    ("poisson", "poisson_loss", lambda r, s: r.uniform(0.1, 3.0, s), lambda r, s: r.poisson(1.5, s).astype(float),
     {}),
]
IDS = [c[0] for c in CASES]
NAMES = sorted({c[1] for c in CASES})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cid,name,make_x,make_t,kw", CASES, ids=IDS)
def test_matches_reference(xp, rng, cid, name, make_x, make_t, kw, dtype):
    f, fb = getattr(ops, name), getattr(ops, name + "_backward")
    rf, rfb = getattr(ref, name), getattr(ref, name + "_backward")
    for shape in SHAPES:
        x, t = make_x(rng, shape).astype(dtype), make_t(rng, shape).astype(dtype)
        loss = f(xp.asarray(x), xp.asarray(t), **kw)
        assert loss.shape == () and loss.dtype == dtype
        assert_close(loss, rf(x, t, **kw), TOL_REDUCTION[dtype], f"{cid} {shape}")
        d = fb(xp.asarray(x), xp.asarray(t), grad_output=0.7, **kw)
        assert d.shape == shape and d.dtype == dtype
        assert_close(d, rfb(x, t, grad_output=0.7, **kw), TOL_REDUCTION[dtype], f"{cid}_backward {shape}")


@pytest.mark.parametrize("cid,name,make_x,make_t,kw", [c for c in CASES if c[0] != "kld_clip"],
                         ids=[i for i in IDS if i != "kld_clip"])
def test_gradcheck(rng, cid, name, make_x, make_t, kw):
    x, t = make_x(rng, (3, 5)), make_t(rng, (3, 5))
    f, fb = getattr(ops, name), getattr(ops, name + "_backward")
    gradcheck(lambda a: f(a, t, **kw), lambda g, a: fb(a, t, grad_output=float(g), **kw), [x], rng, tol=1e-6)


def test_keras_documented_values():
    """The values in Keras 3's docstrings for y_true = [[0, 1], [0, 0]], y_pred = [[0.6, 0.4], [0.4, 0.6]]."""
    t = np.array([[0.0, 1.0], [0.0, 0.0]])
    p = np.array([[0.6, 0.4], [0.4, 0.6]])
    assert float(ops.hinge_loss(p, t)) == pytest.approx(1.3, abs=1e-12)
    assert float(ops.squared_hinge_loss(p, t)) == pytest.approx(1.86, abs=1e-12)
    assert float(ops.huber_loss(p, t)) == pytest.approx(0.155, abs=1e-12)
    assert float(ops.kl_divergence(p, t)) == pytest.approx(0.458, abs=1e-3)
    ones = np.array([[1.0, 1.0], [0.0, 0.0]])  # Poisson's and LogCosh's docstrings use this y_pred
    assert float(ops.poisson_loss(ones, t)) == pytest.approx(0.5, abs=1e-6)
    assert float(ops.log_cosh_loss(ones, t)) == pytest.approx(0.108, abs=1e-3)
    # hinge keeps -1/1 labels (and any non-binary set) as they are
    assert float(ops.hinge_loss(np.array([0.6, -0.7, -0.5]), np.array([-1.0, 1.0, 1.0]))) == \
        pytest.approx((1.6 + 1.7 + 1.5) / 3, abs=1e-12)
    # kl_divergence sums over the last axis and averages over the rest: (2, 3, 4) has 6 rows
    x, y = np.full((2, 3, 4), 0.25), np.full((2, 3, 4), 0.5)
    assert float(ops.kl_divergence(x, y)) == pytest.approx(4 * 0.5 * np.log(2.0), rel=1e-14)
    # huber is quadratic inside delta, linear outside
    assert float(ops.huber_loss(np.array([0.5, 3.0]), np.zeros(2), delta=2.0)) == pytest.approx((0.125 + 4.0) / 2)
    np.testing.assert_allclose(ops.huber_loss_backward(np.array([0.5, 3.0, -3.0]), np.zeros(3), delta=2.0),
                               np.array([0.5, 2.0, -2.0]) / 3, rtol=1e-15)
    # log_cosh does not overflow for a large error
    assert float(ops.log_cosh_loss(np.array([1000.0], np.float32), np.zeros(1, np.float32))) == \
        pytest.approx(1000 - np.log(2), rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_nan_propagates(xp, name):
    x = np.array([[np.nan, 0.3, 0.7], [0.5, 0.1, 0.3]], np.float32)
    t = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]], np.float32)
    X, T = xp.asarray(x), xp.asarray(t)
    assert np.isnan(float(getattr(ops, name)(X, T)))
    d = to_numpy(getattr(ops, name + "_backward")(X, T))
    assert np.isnan(d[0, 0]) and np.isfinite(d.ravel()[1:]).all()
    # a NaN target: NaN loss (for hinge it also turns off the 0/1 conversion, as in Keras)
    assert np.isnan(float(getattr(ops, name)(xp.asarray(t), xp.asarray(x))))


def test_bad_input_ops_and_reference():
    x = np.ones((4, 3), np.float32)
    for name in NAMES:
        raises_both(TypeError, lambda m: getattr(m, name)(x, x.astype(np.float64)), "dtype")
        raises_both(ValueError, lambda m: getattr(m, name)(x, np.ones((3, 4), np.float32)), "shape")
        raises_both(ValueError, lambda m: getattr(m, name + "_backward")(x[:, ::2], x[:, ::2]), "C-contiguous")
        raises_both(TypeError, lambda m: getattr(m, name + "_backward")(x, x, grad_output=True), "grad_output")
    raises_both(ValueError, lambda m: m.huber_loss(x, x, delta=0.0), "delta must be a finite number > 0")
    raises_both(ValueError, lambda m: m.huber_loss_backward(x, x, delta=float("inf")), "delta")
    raises_both(TypeError, lambda m: m.huber_loss(x, x, delta="1"), "delta must be a real number")
    raises_both(ValueError, lambda m: m.huber_loss(x, x, delta=10**400), "delta must be a finite number > 0")
    raises_both(ValueError, lambda m: m.kl_divergence(x, x, eps=0.5), "eps")
    raises_both(ValueError, lambda m: m.poisson_loss_backward(x, x, eps=-1e-7), "eps")


def test_bad_input_compiled_module_directly():
    cpu = fastann._cpu
    x = np.ones((4, 3), np.float32)
    out, d = np.empty((), np.float32), np.empty_like(x)
    with pytest.raises(ValueError, match="huber_loss: delta must be a finite number > 0, got -1"):
        cpu.huber_loss_forward(out, x, x, -1.0)
    with pytest.raises(ValueError, match="huber_loss_backward: delta"):
        cpu.huber_loss_backward(d, x, x, float("nan"), 1.0)
    with pytest.raises(ValueError, match="kl_divergence: eps must be in"):
        cpu.kl_divergence_forward(out, x, x, 0.5)
    with pytest.raises(ValueError, match="poisson_loss_backward: eps must be in"):
        cpu.poisson_loss_backward(d, x, x, float("nan"), 1.0)
    with pytest.raises(ValueError, match="out must be a 0-d array"):
        cpu.hinge_loss_forward(np.empty(1, np.float32), x, x)
    with pytest.raises(ValueError, match="dinput must have the shape of input"):
        cpu.squared_hinge_loss_backward(np.empty((3, 4), np.float32), x, x, 1.0)
    with pytest.raises(TypeError, match="target has dtype float64"):
        cpu.log_cosh_loss_forward(out, x, x.astype(np.float64))
    with pytest.raises(ValueError, match="empty"):
        cpu.poisson_loss_forward(out, np.ones(0, np.float32), np.ones(0, np.float32))
    with pytest.raises(ValueError, match="overlap|alias"):
        cpu.log_cosh_loss_backward(d, d, x, 1.0)


# ---- fastann.losses classes ------------------------------------------------------------------------------
def _np_losses():
    """Keras 3's formulas in plain NumPy (keras/src/losses/losses.py), per sample over the last axis, then the
    mean over the batch (sum_over_batch_size)."""
    def hinge_y(t):
        return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t
    eps = 1e-7
    return {
        "huber": lambda t, p: np.mean(np.where(np.abs(p - t) <= 1.0, 0.5 * (p - t) ** 2, np.abs(p - t) - 0.5)),
        "kld": lambda t, p: np.mean(np.sum(np.clip(t, eps, 1) * np.log(np.clip(t, eps, 1) / np.clip(p, eps, 1)),
                                           axis=-1)),
        "hinge": lambda t, p: np.mean(np.mean(np.maximum(1 - hinge_y(t) * p, 0), axis=-1)),
        "squared_hinge": lambda t, p: np.mean(np.mean(np.maximum(1 - hinge_y(t) * p, 0) ** 2, axis=-1)),
        "logcosh": lambda t, p: np.mean(np.mean((p - t) + np.logaddexp(0, -2 * (p - t)) - np.log(2), axis=-1)),
        "poisson": lambda t, p: np.mean(np.mean(p - t * np.log(p + eps), axis=-1)),
    }


@pytest.mark.parametrize("key", ["huber", "kld", "hinge", "squared_hinge", "logcosh", "poisson"])
def test_loss_classes_against_keras_formulas(rng, key):
    loss = losses.get(key)
    t = rng.integers(0, 2, (6, 4)).astype(float) if "hinge" in key else rng.uniform(0.05, 0.95, (6, 4))
    p = rng.uniform(0.05, 0.95, (6, 4))
    want = _np_losses()[key](t, p)
    assert float(loss(t, p)) == pytest.approx(want, rel=1e-10)
    value, grad = loss.forward_backward(p, t)
    assert float(value) == pytest.approx(want, rel=1e-10)
    h = 1e-6
    i = (2, 3)
    pp, pm = p.copy(), p.copy()
    pp[i] += h
    pm[i] -= h
    fd = (_np_losses()[key](t, pp) - _np_losses()[key](t, pm)) / (2 * h)
    assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-9)


def test_loss_names_and_config():
    assert isinstance(losses.get("huber"), losses.Huber) and isinstance(losses.get("huber_loss"), losses.Huber)
    assert isinstance(losses.get("kl_divergence"), losses.KLDivergence)
    assert isinstance(losses.get("kld"), losses.KLDivergence)
    assert isinstance(losses.get("hinge"), losses.Hinge)
    assert isinstance(losses.get("squared_hinge"), losses.SquaredHinge)
    assert isinstance(losses.get("log_cosh"), losses.LogCosh) and isinstance(losses.get("logcosh"), losses.LogCosh)
    assert isinstance(losses.get("poisson"), losses.Poisson)
    h = losses.Huber(delta=0.5)
    assert h.get_config() == {"name": "huber_loss", "delta": 0.5}
    assert losses.Huber.from_config(h.get_config()).delta == 0.5
    assert repr(h) == "Huber(delta=0.5)"
    p, t = np.array([0.0, 2.0]), np.zeros(2)
    assert float(h(t, p)) == pytest.approx((0 + 0.5 * 2 - 0.125) / 2)
    with pytest.raises(ValueError, match="Huber: delta must be a finite number > 0"):
        losses.Huber(delta=-1.0)
    with pytest.raises(TypeError, match="delta must be a real number"):
        losses.Huber(delta=None)


def test_model_trains_with_a_keras_loss(rng):
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    model = fastann.Sequential([fastann.layers.Dense(1)])
    model.compile(optimizer=fastann.optimizers.SGD(0.1), loss="huber")
    hist = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
