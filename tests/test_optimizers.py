"""Keras optimizer objects (fastann.optimizers): Keras 3's common arguments (clipping, decoupled weight decay,
the refused ones), Lion and Ftrl against hand-written Keras formulas, and training through Sequential.fit."""
import math

import numpy as np
import pytest

import fastann
from fastann import layers, optimizers

ALL = [optimizers.SGD, optimizers.Adam, optimizers.AdamW, optimizers.RMSprop, optimizers.Adagrad,
       optimizers.Adadelta, optimizers.Adamax, optimizers.Nadam, optimizers.Lion, optimizers.Ftrl]


def _params(rng, dtype=np.float64):
    return [rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal(5).astype(dtype)]


# ---- the common arguments ----------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("kw", [dict(use_ema=True), dict(ema_momentum=0.9), dict(ema_overwrite_frequency=3),
                                dict(loss_scale_factor=128.0), dict(gradient_accumulation_steps=2)])
def test_unimplemented_arguments_are_refused(cls, kw):
    with pytest.raises(NotImplementedError, match=next(iter(kw))):
        cls(**kw)


@pytest.mark.parametrize("cls", ALL)
def test_clip_arguments_checked(cls):
    for kw in (dict(clipnorm=1.0, global_clipnorm=1.0), dict(clipnorm=1.0, clipvalue=0.5),
               dict(clipvalue=1.0, global_clipnorm=2.0)):
        with pytest.raises(ValueError, match="only one of clipnorm, clipvalue and global_clipnorm"):
            cls(**kw)
    for k in ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay"):
        with pytest.raises(ValueError, match=k):
            cls(**{k: -1.0})
    with pytest.raises(TypeError):
        cls(clip_norm=1.0)  # not a Keras argument
    opt = cls(clipnorm=2.0)
    assert opt.get_config()["clipnorm"] == 2.0 and opt.get_config()["global_clipnorm"] is None


def _sgd_after_clip(rng, **clip):
    """(params after one SGD(lr=1) step with the clip arguments, the params before, the grads)."""
    p0 = _params(rng)
    g = [rng.standard_normal(p.shape) * s for p, s in zip(p0, (3.0, 0.1))]  # norms ~10 and ~0.2
    g_copy = [x.copy() for x in g]
    p = [x.copy() for x in p0]
    optimizers.SGD(learning_rate=1.0, **clip).apply_gradients(p, g)
    assert all(np.array_equal(a, b) for a, b in zip(g, g_copy)), "the caller's gradients were written"
    return p, p0, g


def test_clipnorm_per_variable(rng):
    # Keras's _clip_by_norm: g * clipnorm / max(||g||, clipnorm), each gradient on its own
    p, p0, g = _sgd_after_clip(rng, clipnorm=1.0)
    for a, a0, ga in zip(p, p0, g):
        norm = math.sqrt(float(np.sum(ga * ga)))
        # a float64 step: the error is a few ulps of the parameter, relative to the result only where it is not
        # near zero
        np.testing.assert_allclose(a, a0 - ga * 1.0 / max(norm, 1.0), rtol=1e-14, atol=4e-16 * np.abs(a0).max())
    assert np.linalg.norm(p[0] - p0[0]) == pytest.approx(1.0)  # the large one was clipped, the small one not
    assert np.array_equal(p[1], p0[1] - g[1])


def test_global_clipnorm(rng):
    # Keras's clip_by_global_norm: every gradient * clipnorm * min(1 / ||all||, 1 / clipnorm)
    p, p0, g = _sgd_after_clip(rng, global_clipnorm=2.0)
    total = math.sqrt(sum(float(np.sum(x * x)) for x in g))
    assert total > 2.0
    for a, a0, ga in zip(p, p0, g):
        np.testing.assert_allclose(a, a0 - ga * 2.0 * min(1.0 / total, 1.0 / 2.0), rtol=1e-14,
                                   atol=4e-16 * np.abs(a0).max())
    step = math.sqrt(sum(float(np.sum((a - a0) ** 2)) for a, a0 in zip(p, p0)))
    assert step == pytest.approx(2.0)
    p, p0, g = _sgd_after_clip(rng, global_clipnorm=1e6)  # under the bound: the plain step, bit for bit
    assert all(np.array_equal(a, a0 - ga) for a, a0, ga in zip(p, p0, g))


def test_clipvalue(rng):
    p, p0, g = _sgd_after_clip(rng, clipvalue=0.5)
    for a, a0, ga in zip(p, p0, g):
        np.testing.assert_array_equal(a, a0 - np.clip(ga, -0.5, 0.5))


def test_clipping_non_finite():
    """Keras: a NaN norm makes every clipped gradient NaN; global clipping turns an inf norm into NaN too,
    per-variable clipping scales by clipnorm / inf = 0 (inf entries become NaN)."""
    def step(**clip):
        p = [np.ones(3), np.ones(2)]
        with np.errstate(invalid="ignore"):  # inf * 0
            optimizers.SGD(learning_rate=1.0, **clip).apply_gradients(p, [np.array([np.inf, 1.0, 0.0]),
                                                                      np.array([0.5, 0.5])])
        return p
    p = step(global_clipnorm=1.0)
    assert np.isnan(p[0]).all() and np.isnan(p[1]).all()
    p = step(clipnorm=1.0)
    np.testing.assert_array_equal(p[0], [np.nan, 1.0, 1.0])
    np.testing.assert_array_equal(p[1], [0.5, 0.5])  # its own norm 0.71 < 1: unclipped
    p = [np.ones(2)]
    optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0).apply_gradients(p, [np.array([np.nan, 0.0])])
    assert np.isnan(p[0]).all()


@pytest.mark.parametrize("cls", ALL)
def test_weight_decay_is_keras_decoupled(rng, cls):
    """Keras's _apply_weight_decay before the update: p -= p * wd * lr, then the optimizer's own step on the
    decayed p (with the clipped gradient; clipping does not look at p)."""
    lr, wd = 0.05, 0.3
    kw = dict(learning_rate=lr)
    p0 = _params(rng)
    with_wd, by_hand, plain = ([x.copy() for x in p0] for _ in range(3))
    a = cls(weight_decay=wd, clipnorm=1.5, **kw)
    b = cls(weight_decay=0.0, clipnorm=1.5, **kw)  # AdamW's default is 0.004: set 0 explicitly
    c = cls(weight_decay=0.0, clipnorm=1.5, **kw)
    for _ in range(3):
        g = [rng.standard_normal(x.shape) for x in p0]
        a.apply_gradients(with_wd, g)
        for x in by_hand:
            x -= x * wd * lr
        b.apply_gradients(by_hand, g)
        c.apply_gradients(plain, g)
    for x, y in zip(with_wd, by_hand):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-15)
    assert not np.allclose(with_wd[0], plain[0], rtol=1e-3)  # the decay did something


def test_unused_arguments_change_nothing(rng):
    """With the new arguments unset, or clipping bounds never reached, every optimizer gives the same bits
    as its plain form."""
    for cls in ALL:
        p0 = _params(rng, np.float32)
        grads = [[rng.standard_normal(x.shape).astype(np.float32) for x in p0] for _ in range(3)]
        results = []
        for kw in (dict(), dict(clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                                 loss_scale_factor=None), dict(clipnorm=1e6), dict(global_clipnorm=1e6)):
            p = [x.copy() for x in p0]
            opt = cls(learning_rate=0.01, **kw)
            for g in grads:
                opt.apply_gradients(p, g)
            results.append(p)
        assert all(np.array_equal(x, y) for r in results[1:] for x, y in zip(results[0], r)), cls


# ---- Lion and Ftrl against Keras's update_step ---------------------------------------------------------
def test_lion_keras_formula(rng):
    lr, b1, b2, wd = 0.003, 0.8, 0.95, 0.2
    p = rng.standard_normal(7)
    want, m = p.copy(), np.zeros(7)
    opt = optimizers.Lion(learning_rate=lr, beta_1=b1, beta_2=b2, weight_decay=wd)
    assert (optimizers.Lion().learning_rate, optimizers.Lion().beta_1, optimizers.Lion().beta_2) == (0.001, 0.9, 0.99)
    for _ in range(4):
        g = rng.standard_normal(7)
        opt.apply_gradients([p], [g])
        want = want - want * wd * lr
        want = want - lr * np.sign(m * b1 + g * (1.0 - b1))
        m = m * b2 + g * (1.0 - b2)
    np.testing.assert_allclose(p, want, rtol=1e-14)
    for bad in (0.0, 1.5, True):
        with pytest.raises(ValueError, match="beta_1"):
            optimizers.Lion(beta_1=bad)
    with pytest.raises(ValueError, match="beta_2"):
        optimizers.Lion(beta_2=-0.1)


def test_ftrl_keras_formula(rng):
    kw = dict(learning_rate=0.05, learning_rate_power=-0.6, initial_accumulator_value=0.2,
              l1_regularization_strength=0.01, l2_regularization_strength=0.02,
              l2_shrinkage_regularization_strength=0.03, beta=0.4)
    opt = optimizers.Ftrl(**kw)
    p = rng.standard_normal(6)
    var, accum, linear = p.copy(), np.full(6, 0.2), np.zeros(6)
    lr, lr_power = kw["learning_rate"], kw["learning_rate_power"]
    for _ in range(4):
        g = rng.standard_normal(6)
        opt.apply_gradients([p], [g])
        l2_reg = kw["l2_regularization_strength"] + kw["beta"] / (2.0 * lr)
        grad_to_use = g + 2 * kw["l2_shrinkage_regularization_strength"] * var
        new_accum = accum + g**2
        linear = linear + grad_to_use - (new_accum ** -lr_power - accum ** -lr_power) / lr * var
        quadratic = new_accum ** -lr_power / lr + 2 * l2_reg
        l1 = kw["l1_regularization_strength"]
        var = (np.clip(linear, -l1, l1) - linear) / quadratic
        accum = new_accum
    np.testing.assert_allclose(p, var, rtol=1e-12)
    d = optimizers.Ftrl()
    assert (d.learning_rate, d.learning_rate_power, d.initial_accumulator_value, d.beta) == (0.001, -0.5, 0.1, 0.0)
    for k, v in [("learning_rate_power", 0.5), ("initial_accumulator_value", -1.0),
                 ("l1_regularization_strength", -1.0), ("l2_regularization_strength", -1.0),
                 ("l2_shrinkage_regularization_strength", -1.0)]:
        with pytest.raises(ValueError, match=k):
            optimizers.Ftrl(**{k: v})


def test_get_by_name():
    assert isinstance(optimizers.get("lion"), optimizers.Lion)
    assert isinstance(optimizers.get("Ftrl", learning_rate=0.1), optimizers.Ftrl)


# ---- training through Sequential.fit --------------------------------------------------------------------
def _blobs(rng, n=60, classes=3, dim=5):
    y = rng.integers(0, classes, n)
    x = (3.0 * np.eye(classes, dim)[y] + 0.4 * rng.standard_normal((n, dim))).astype(np.float32)
    return x, y


@pytest.mark.parametrize("opt", [
    lambda: optimizers.Lion(learning_rate=0.003),
    lambda: optimizers.Lion(learning_rate=0.003, weight_decay=0.1, global_clipnorm=1.0),
    lambda: optimizers.Ftrl(learning_rate=0.3),
    lambda: optimizers.Ftrl(learning_rate=0.3, l1_regularization_strength=0.001, clipvalue=1.0),
    lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9, clipnorm=1.0, weight_decay=0.01),
    lambda: optimizers.Adam(learning_rate=0.01, weight_decay=0.05, clipvalue=0.5),
], ids=["lion", "lion-wd-globalclip", "ftrl", "ftrl-l1-clipvalue", "sgd-clipnorm-wd", "adam-wd-clipvalue"])
def test_fit_decreases_the_loss(rng, opt):
    x, y = _blobs(rng)
    model = fastann.Sequential([layers.Input((5,)), layers.Dense(16, activation="relu"),
                                layers.Dense(3, activation="softmax")], seed=8)
    model.compile(opt(), "sparse_categorical_crossentropy")
    h = model.fit(x, y, batch_size=10, epochs=5, verbose=0)
    assert h.history["loss"][-1] < 0.8 * h.history["loss"][0], h.history["loss"]
