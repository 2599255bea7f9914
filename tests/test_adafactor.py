"""Adafactor: ops.adafactor_step against the float64 reference (both backends), optimizers.Adafactor against a
hand-written NumPy transcription of keras.optimizers.Adafactor's update_step (and Keras itself where installed),
thread-count determinism, bad input."""
import os

import numpy as np
import pytest

import fastann
from fastann import layers, ops, optimizers
from fastann import reference as ref
from helpers import assert_close, raises_both, to_numpy

CPU = fastann._backend.cpu
SHAPES = [(7,), (1,), (5, 3), (1, 1), (2, 3, 4, 5), (33, 70), (3, 1, 2, 9)]


def _state(xp, shape, dtype):
    if len(shape) >= 2:
        return [xp.zeros(shape[:-1], dtype), xp.zeros(shape[:-2] + shape[-1:], dtype), None]
    return [None, None, xp.zeros(shape, dtype)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_kernel_matches_the_reference(xp, rng, shape, dtype):
    p = rng.standard_normal(shape).astype(dtype)
    P, S = xp.asarray(p), _state(xp, shape, dtype)
    rp, rs = p.copy(), _state(np, shape, dtype)
    kw = dict(lr=0.05, beta_2_decay=-0.7, epsilon_1=1e-20, epsilon_2=1e-3, clip_threshold=0.5)
    for t in range(1, 5):
        g = (rng.standard_normal(shape) * (0.1 if t % 2 else 3)).astype(dtype)
        ops.adafactor_step(P, xp.asarray(g), *S, step=t, **kw)
        ref.adafactor_step(rp, g, *rs, step=t, **kw)
        tol = 2e-5 if dtype == np.float32 else 1e-12
        assert_close(P, rp, tol, f"param step {t}")
        for a, b, name in zip(S, rs, ("row_var", "col_var", "variance")):
            if a is not None:
                assert_close(a, b, tol, f"{name} step {t}")


def _keras_update(var, g, r, c, v, t, lr, decay, eps1, eps2, clip):
    """keras.optimizers.Adafactor.update_step, line by line in NumPy float64 (keras/src/optimizers/adafactor.py);
    t = iterations + 1. Returns the new (var, r, c, v)."""
    local_step = float(t)
    lr = min(lr, 1 / np.sqrt(local_step))  # relative_step with a constant learning rate
    rho_t = min(lr, 1 / np.sqrt(local_step))
    alpha_t = max(eps2, np.sqrt(np.mean(np.square(var)))) * rho_t
    regulated_grad_square = np.square(g) + eps1
    beta_2_t = 1 - np.power(local_step, decay)
    if var.ndim >= 2:
        r = beta_2_t * r + (1 - beta_2_t) * np.mean(regulated_grad_square, axis=-1)
        c = beta_2_t * c + (1 - beta_2_t) * np.mean(regulated_grad_square, axis=-2)
        v = np.expand_dims(r / np.mean(r, axis=-1, keepdims=True), axis=-1) * np.expand_dims(c, -2)
    else:
        v = beta_2_t * v + (1 - beta_2_t) * regulated_grad_square
    u_t = g / np.sqrt(v)
    u_t_hat = u_t / max(1.0, np.sqrt(np.mean(np.square(u_t))) / clip)
    return var - alpha_t * u_t_hat, r, c, v


@pytest.mark.parametrize("shape", [(6,), (4, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("kw", [dict(), dict(learning_rate=0.3, beta_2_decay=-0.5, epsilon_2=0.01, clip_threshold=0.1)])
def test_optimizer_matches_keras_update_step(rng, shape, kw):
    opt = optimizers.Adafactor(**kw)
    full = dict(learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0) | kw
    p = rng.standard_normal(shape)
    var = p.copy()
    r, c, v = np.zeros(shape[:-1]), np.zeros(shape[:-2] + shape[-1:]), np.zeros(shape)
    for t in range(1, 6):
        g = rng.standard_normal(shape)
        opt.apply_gradients([p], [g])
        var, r, c, v = _keras_update(var, g, r, c, v, t, full["learning_rate"], full["beta_2_decay"],
                                     full["epsilon_1"], full["epsilon_2"], full["clip_threshold"])
    np.testing.assert_allclose(p, var, rtol=1e-12, atol=1e-15)
    st = opt._states[0]
    if len(shape) >= 2:
        np.testing.assert_allclose(st["row_var"], r, rtol=1e-12)
        np.testing.assert_allclose(st["col_var"], c, rtol=1e-12)
    else:
        np.testing.assert_allclose(st["variance"], v, rtol=1e-12)


def test_optimizer_matches_keras_if_installed(rng):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    shapes = [(6,), (4, 5), (2, 3, 4)]
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    kvars = [keras.Variable(p.copy()) for p in params]
    kopt = keras.optimizers.Adafactor(learning_rate=0.1)
    opt = optimizers.Adafactor(learning_rate=0.1)
    for _ in range(4):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        kopt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], kvars))
        opt.apply_gradients(params, grads)
    for p, kv in zip(params, kvars):
        assert_close(p, keras.ops.convert_to_numpy(kv), 1e-5, "param")


def test_optimizer_defaults_checks_and_name():
    d = optimizers.Adafactor()
    assert (d.learning_rate, d.beta_2_decay, d.epsilon_1, d.epsilon_2, d.clip_threshold, d.relative_step) == (
        0.001, -0.8, 1e-30, 1e-3, 1.0, True)
    assert isinstance(optimizers.get("adafactor"), optimizers.Adafactor)
    for k, v in [("beta_2_decay", 0.5), ("epsilon_1", -1.0), ("epsilon_2", -1.0), ("clip_threshold", 0.0)]:
        with pytest.raises(ValueError, match=k):
            optimizers.Adafactor(**{k: v})
    with pytest.raises(TypeError, match="relative_step"):
        optimizers.Adafactor(relative_step="yes")
    with pytest.raises(NotImplementedError, match="use_ema"):
        optimizers.Adafactor(use_ema=True)


@pytest.mark.parametrize("shape", [(300, 400), (3, 200000)])
def test_same_result_for_any_thread_count(rng, shape):
    g = rng.standard_normal(shape).astype(np.float32)
    p0 = rng.standard_normal(shape).astype(np.float32)
    old = fastann.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            fastann.set_num_threads(n)
            p, s = p0.copy(), _state(np, shape, np.float32)
            ops.adafactor_step(p, g, *s, step=3, lr=0.1)
            q, sv = p0.ravel().copy(), _state(np, (p0.size,), np.float32)
            ops.adafactor_step(q, g.ravel(), *sv, step=3, lr=0.1)
            results.append((p, s[0], s[1], q, sv[2]))
    finally:
        fastann.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_nan_gradient_propagates():
    p = np.ones((3, 4))
    g = np.ones((3, 4))
    g[1, 2] = np.nan
    ops.adafactor_step(p, g, np.zeros(3), np.zeros(4), step=1)
    assert np.isnan(p).any()


def test_fit_decreases_the_loss(rng):
    y = rng.integers(0, 3, 60)
    x = (3.0 * np.eye(3, 5)[y] + 0.4 * rng.standard_normal((60, 5))).astype(np.float32)
    model = fastann.Sequential([layers.Input((5,)), layers.Dense(16, activation="relu"),
                                layers.Dense(3, activation="softmax")], seed=8)
    model.compile(optimizer=optimizers.Adafactor(learning_rate=0.05), loss="sparse_categorical_crossentropy")
    hist = model.fit(x, y, batch_size=12, epochs=8, verbose=0)
    assert hist.history["loss"][-1] < 0.6 * hist.history["loss"][0]


# ---- bad input -------------------------------------------------------------------------------------------
P2, P1 = np.zeros((3, 4)), np.zeros(5)
BAD = [
    ("variance for a matrix", ValueError, lambda M: M.adafactor_step(P2.copy(), P2, np.zeros(3), np.zeros(4), P2.copy(),
                                                                      step=1)),
    ("row_var for a vector", ValueError, lambda M: M.adafactor_step(P1.copy(), P1, np.zeros(5), None, P1.copy(),
                                                                     step=1)),
    ("row_var shape", ValueError, lambda M: M.adafactor_step(P2.copy(), P2, np.zeros(4), np.zeros(4), step=1)),
    ("col_var shape", ValueError, lambda M: M.adafactor_step(P2.copy(), P2, np.zeros(3), np.zeros(3), step=1)),
    ("missing variance", TypeError, lambda M: M.adafactor_step(P1.copy(), P1, step=1)),
    ("grad shape", ValueError, lambda M: M.adafactor_step(P1.copy(), np.zeros(4), None, None, P1.copy(), step=1)),
    ("dtype mix", TypeError, lambda M: M.adafactor_step(P1.copy(), P1.astype(np.float32), None, None, P1.copy(),
                                                         step=1)),
    ("step 0", ValueError, lambda M: M.adafactor_step(P1.copy(), P1, None, None, P1.copy(), step=0)),
    ("lr negative", ValueError, lambda M: M.adafactor_step(P1.copy(), P1, None, None, P1.copy(), step=1, lr=-1.0)),
    ("beta_2_decay positive", ValueError, lambda M: M.adafactor_step(P1.copy(), P1, None, None, P1.copy(), step=1,
                                                                      beta_2_decay=0.5)),
    ("clip_threshold 0", ValueError, lambda M: M.adafactor_step(P1.copy(), P1, None, None, P1.copy(), step=1,
                                                                 clip_threshold=0.0)),
    ("lr bool", TypeError, lambda M: M.adafactor_step(P1.copy(), P1, None, None, P1.copy(), step=1, lr=True)),
]


@pytest.mark.parametrize("desc,exc,call", BAD, ids=[c[0] for c in BAD])
def test_bad_input(desc, exc, call):
    raises_both(exc, call, match="adafactor_step")


@pytest.mark.parametrize("desc,exc,call", [
    ("variance for a matrix", ValueError,
     lambda: CPU.adafactor_step(P2.copy(), np.zeros(3), np.zeros(4), P2.copy(), P2, 1)),
    ("col_var shape", ValueError, lambda: CPU.adafactor_step(P2.copy(), np.zeros(3), np.zeros(3), None, P2, 1)),
    ("row_var for a vector", ValueError, lambda: CPU.adafactor_step(P1.copy(), np.zeros(5), None, P1.copy(), P1, 1)),
    ("state aliases param", ValueError, lambda: CPU.adafactor_step(P1, None, None, P1, np.zeros(5), 1)),
    ("read-only variance", ValueError,
     lambda: CPU.adafactor_step(P1.copy(), None, None, np.broadcast_to(0.0, (5,)), P1, 1)),
    ("clip_threshold nan", ValueError,
     lambda: CPU.adafactor_step(P1.copy(), None, None, P1.copy(), P1, 1, 1e-3, -0.8, 1e-30, 1e-3, float("nan"))),
], ids=lambda c: c if isinstance(c, str) else "")
def test_bad_input_direct_cpu(desc, exc, call):
    with pytest.raises(exc, match="adafactor_step"):
        call()
