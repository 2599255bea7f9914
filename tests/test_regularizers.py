"""fastann.regularizers and fastann.constraints (Keras's formulas), and their wiring into the layers and the
training step: the penalty is in the loss fit and evaluate report, its exact gradient in the update, and the
constraints run after the update on the Keras-layout weights.

The model tests compare a model with a regularizer (or constraint) against the same seeded model without
one, after one SGD step on the same batch: the difference is the NumPy formula on ``get_weights()``, which
holds whatever layout get_weights exposes."""
import numpy as np
import pytest

import fastann
from fastann import constraints, layers, optimizers, regularizers


# ---- the regularizers on their own ------------------------------------------------------------------------
def test_penalties_and_gradients_by_hand():
    w = np.array([[1.0, -2.0], [0.0, 3.0]])
    assert float(regularizers.L1(0.5)(w)) == 0.5 * 6.0
    assert float(regularizers.L2(0.25)(w)) == 0.25 * 14.0
    assert float(regularizers.L1L2(l1=0.5, l2=0.25)(w)) == 3.0 + 3.5
    np.testing.assert_array_equal(regularizers.L1(0.5).gradient(w), [[0.5, -0.5], [0.0, 0.5]])
    np.testing.assert_array_equal(regularizers.L2(0.25).gradient(w), [[0.5, -1.0], [0.0, 1.5]])
    np.testing.assert_array_equal(regularizers.L1L2(0.5, 0.25).gradient(w), [[1.0, -1.5], [0.0, 2.0]])
    assert regularizers.L2(0.1)(w.astype(np.float32)).dtype == np.float32


def test_gradients_match_finite_differences(rng):
    w = rng.standard_normal((4, 3)) + 0.1  # away from 0, where |w| has no derivative
    reg = regularizers.L1L2(l1=0.3, l2=0.7)
    num = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        d = np.zeros_like(w)
        d[i] = 1e-6
        num[i] = (float(reg(w + d)) - float(reg(w - d))) / 2e-6
    np.testing.assert_allclose(reg.gradient(w), num, rtol=1e-6, atol=1e-8)


def test_get_names_and_keras_defaults():
    assert regularizers.get(None) is None
    assert regularizers.get("l2").l2 == 0.01 and regularizers.get("l1").l1 == 0.01
    assert (regularizers.get("l1l2").l1, regularizers.get("l1l2").l2) == (0.0, 0.0)
    assert isinstance(regularizers.get("l1_l2"), regularizers.L1L2)
    assert regularizers.l2 is regularizers.L2 and regularizers.l1_l2 is regularizers.L1L2
    r = regularizers.L2(0.5)
    assert regularizers.get(r) is r and isinstance(regularizers.get(regularizers.L1), regularizers.L1)
    with pytest.raises(ValueError, match="regularizer identifier"):
        regularizers.get("l3")
    with pytest.raises(TypeError, match="gradient"):
        regularizers.get(lambda w: 0.0)
    for bad in (-0.1, float("inf"), float("nan"), "0.1"):
        with pytest.raises(ValueError, match="non-negative float"):
            regularizers.L2(bad)


# ---- the constraints on their own -------------------------------------------------------------------------
def _norms(w, axis):
    return np.sqrt(np.sum(w * w, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=True))


def test_constraint_formulas(rng):
    w = rng.standard_normal((3, 3, 2, 4)) * 2
    for axis in (0, [0, 1, 2]):
        n = _norms(w, axis)
        np.testing.assert_allclose(constraints.MaxNorm(1.5, axis=axis)(w), w * np.minimum(n, 1.5) / (1e-7 + n))
        np.testing.assert_allclose(constraints.UnitNorm(axis=axis)(w), w / (1e-7 + n))
        np.testing.assert_allclose(constraints.MinMaxNorm(0.5, 1.0, rate=0.5, axis=axis)(w),
                                   w * (0.5 * np.clip(n, 0.5, 1.0) + 0.5 * n) / (1e-7 + n))
    np.testing.assert_array_equal(constraints.NonNeg()(w), np.maximum(w, 0))
    v = np.array([[3.0, 0.1], [4.0, 0.1]])  # column norms 5 and ~0.14: only the first is rescaled to 2
    np.testing.assert_allclose(constraints.max_norm()(v), [[1.2, 0.1], [1.6, 0.1]], rtol=1e-6)


def test_constraint_get():
    assert constraints.get(None) is None
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert constraints.get("max_norm").max_value == 2 and constraints.get("max_norm").axis == 0
    assert isinstance(constraints.get("non_neg"), constraints.NonNeg)
    assert isinstance(constraints.get("unit_norm"), constraints.UnitNorm)
    assert isinstance(constraints.get("min_max_norm"), constraints.MinMaxNorm)
    f = lambda w: w * 0  # noqa: E731 - any function w -> w is a constraint, as in Keras
    assert constraints.get(f) is f
    with pytest.raises(ValueError, match="constraint identifier"):
        constraints.get("maxnorm2")
    with pytest.raises(TypeError):
        constraints.get(3)


def test_layer_arguments_are_checked_at_construction():
    with pytest.raises(ValueError, match="Dense: kernel_regularizer"):
        layers.Dense(3, kernel_regularizer="l3")
    with pytest.raises(ValueError, match="Conv2D: bias_constraint"):
        layers.Conv2D(2, 3, bias_constraint="positive")
    with pytest.raises(ValueError, match="Unrecognized keyword"):
        layers.Conv2D(2, 3, depthwise_regularizer="l2")  # Keras's Conv2D has no such argument
    with pytest.raises(ValueError, match="Dense: activity_regularizer"):
        layers.Dense(3, activity_regularizer="l5")
    d = layers.Dense(3, kernel_regularizer="l2", bias_constraint="non_neg")
    assert isinstance(d.kernel_regularizer, regularizers.L2) and d.bias_regularizer is None
    assert isinstance(d.bias_constraint, constraints.NonNeg)


# ---- wiring into the model --------------------------------------------------------------------------------
_X = np.random.default_rng(7).standard_normal((16, 6, 6))
_Y = np.random.default_rng(8).standard_normal((16, 3))

#: layer factory (kwargs -> layer), the parameter's position in get_weights, the regularizer keyword
_LAYERS = {
    "dense": (lambda **kw: [layers.Flatten(), layers.Dense(5, activation="tanh", **kw)], 0, "kernel"),
    "dense_bias": (lambda **kw: [layers.Flatten(), layers.Dense(5, bias_initializer="ones", **kw)], 1, "bias"),
    "conv2d": (lambda **kw: [layers.Conv2D(2, 3, **kw), layers.Flatten()], 0, "kernel"),
    "depthwise": (lambda **kw: [layers.DepthwiseConv2D(3, depth_multiplier=2, **kw), layers.Flatten()], 0,
                  "depthwise"),
    "conv2d_transpose": (lambda **kw: [layers.Conv2DTranspose(2, 3, **kw), layers.Flatten()], 0, "kernel"),
    "lstm_kernel": (lambda **kw: [layers.LSTM(4, **kw)], 0, "kernel"),
    "lstm_recurrent": (lambda **kw: [layers.LSTM(4, **kw)], 1, "recurrent"),
    "gru_bias": (lambda **kw: [layers.GRU(4, bias_initializer="ones", **kw)], 2, "bias"),
    "batch_norm_gamma": (lambda **kw: [layers.Flatten(), layers.BatchNormalization(**kw)], 0, "gamma"),
}


def _model(key, **kw):
    make, _, _ = _LAYERS[key]
    model = fastann.Sequential([layers.Input((6, 6))] + make(**kw) + [layers.Dense(3)], seed=3, dtype="float64")
    model.compile(optimizers.SGD(0.1), "mse")
    return model


def _one_step(model, **fit):
    h = model.fit(_X, _Y, batch_size=16, epochs=1, shuffle=False, verbose=0, **fit)
    return h.history["loss"][0]


@pytest.mark.parametrize("key", list(_LAYERS))
def test_l2_penalty_in_loss_and_gradient(key):
    _, index, prefix = _LAYERS[key]
    l2 = 0.05
    plain, reg = _model(key), _model(key, **{f"{prefix}_regularizer": regularizers.L2(l2)})
    w0 = plain.get_weights()[index]
    np.testing.assert_array_equal(w0, reg.get_weights()[index])
    penalty = l2 * np.sum(w0 ** 2)
    np.testing.assert_allclose(reg.evaluate(_X, _Y, batch_size=16), plain.evaluate(_X, _Y, batch_size=16) + penalty,
                               rtol=1e-12)
    loss_plain, loss_reg = _one_step(plain), _one_step(reg)
    np.testing.assert_allclose(loss_reg, loss_plain + penalty, rtol=1e-12)
    # SGD: w1 = w0 - lr (g + 2 l2 w0), so the two models differ by -lr 2 l2 w0 on that weight only
    np.testing.assert_allclose(reg.get_weights()[index] - plain.get_weights()[index], -0.1 * 2 * l2 * w0,
                               rtol=1e-9, atol=1e-13)
    for i, (a, b) in enumerate(zip(reg.get_weights(), plain.get_weights())):
        if i != index:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_l1_gradient_and_layer_losses():
    plain, reg = _model("dense"), _model("dense", kernel_regularizer=regularizers.L1(0.02))
    w0 = plain.get_weights()[0]
    assert float(reg.layers[1].losses[0]) == pytest.approx(0.02 * np.abs(w0).sum(), rel=1e-12)
    assert len(reg.losses) == 1 and float(reg.losses[0]) == float(reg.layers[1].losses[0]) and plain.losses == []
    _one_step(plain), _one_step(reg)
    np.testing.assert_allclose(reg.get_weights()[0] - plain.get_weights()[0], -0.1 * 0.02 * np.sign(w0), atol=1e-12)


def test_frozen_layer_has_no_penalty():
    plain, reg = _model("dense"), _model("dense", kernel_regularizer="l2")
    reg.layers[1].trainable = False
    plain.layers[1].trainable = False
    assert reg.layers[1].losses == []
    assert reg.evaluate(_X, _Y) == pytest.approx(plain.evaluate(_X, _Y), rel=1e-12)


def test_unregularized_model_is_unchanged_by_the_machinery():
    """Regularizers given as None leave the training bit-identical to a model built without the keywords."""
    a = _model("dense")
    b = _model("dense", kernel_regularizer=None, bias_constraint=None)
    assert _one_step(a) == _one_step(b)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("key", ["dense", "conv2d", "depthwise", "conv2d_transpose", "lstm_recurrent",
                                 "batch_norm_gamma"])
def test_max_norm_applied_after_the_update_in_keras_layout(key):
    _, index, prefix = _LAYERS[key]
    plain = _model(key)
    con = _model(key, **{f"{prefix}_constraint": constraints.MaxNorm(0.3, axis=0)})
    _one_step(plain), _one_step(con)
    w = plain.get_weights()[index]  # the unconstrained update, in the layout get_weights exposes
    n = _norms(w, 0)
    np.testing.assert_allclose(con.get_weights()[index], w * np.minimum(n, 0.3) / (1e-7 + n), rtol=1e-9,
                               atol=1e-14)


def test_non_neg_keeps_weights_non_negative():
    model = fastann.Sequential([layers.Input((4,)), layers.Dense(6, kernel_constraint="non_neg",
                                                                  bias_constraint=constraints.NonNeg()),
                                layers.Dense(1)], seed=0)
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((64, 4)), rng.standard_normal(64), epochs=3, verbose=0)
    w, b = model.layers[0].get_weights()
    assert w.min() >= 0 and b.min() >= 0


# ---- activity regularizers --------------------------------------------------------------------------------
def _activity_model(where, reg, last="linear"):
    """Dense(4, tanh) -> Dense(3, last); ``where`` ("hidden", "last" or None) carries the activity regularizer."""
    hidden, out = (reg if where == "hidden" else None), (reg if where == "last" else None)
    return fastann.Sequential([layers.Input((5,)), layers.Dense(4, activation="tanh", activity_regularizer=hidden),
                               layers.Dense(3, activation=last, activity_regularizer=out)], seed=2, dtype="float64")


@pytest.mark.parametrize("where", ["hidden", "last"])
@pytest.mark.parametrize("loss, last", [("mse", "linear"), ("categorical_crossentropy", "softmax")])
def test_activity_regularizer_penalty_and_gradient(where, loss, last):
    """Keras 3: penalty(output) / batch size in the loss of fit and evaluate; the gradient checked against
    central differences of the whole training loss through one SGD step (w1 = w0 - lr * dL/dw)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 5))
    y = np.eye(3)[rng.integers(0, 3, 8)]
    reg = regularizers.L1L2(l1=0.03, l2=0.2)
    model = _activity_model(where, reg, last)
    model.compile(optimizers.SGD(1.0), loss)
    w0 = model.get_weights()

    def total_loss(weights):
        kernel1, b1, kernel2, b2 = weights
        m = _activity_model(None, None, last)
        m.set_weights(weights)
        m.compile(optimizers.SGD(1.0), loss)
        hidden = np.tanh(x @ kernel1 + b1) if kernel1.shape == (5, 4) else np.tanh(x @ kernel1.T + b1)
        out = m.predict(x)
        act = hidden if where == "hidden" else out
        return m.evaluate(x, y, batch_size=8) + float(reg(act)) / 8

    expect = total_loss(w0)
    assert model.evaluate(x, y, batch_size=8) == pytest.approx(expect, rel=1e-12)
    h = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert h.history["loss"][0] == pytest.approx(expect, rel=1e-12)
    for k in range(4):
        num = np.zeros_like(w0[k])
        for idx in np.ndindex(w0[k].shape):
            wp = [w.copy() for w in w0]
            wm = [w.copy() for w in w0]
            wp[k][idx] += 1e-6
            wm[k][idx] -= 1e-6
            num[idx] = (total_loss(wp) - total_loss(wm)) / 2e-6
        np.testing.assert_allclose(w0[k] - model.get_weights()[k], num, rtol=1e-5, atol=1e-8)


def test_activity_regularizer_turns_off_fusion():
    model = _activity_model("last", "l2", "softmax")
    model.compile("sgd", "categorical_crossentropy")
    assert not model._fused_softmax_loss


def test_all_of_it_on_every_backend(backend):
    """Weight and activity regularizers, constraints, class weights and a focal loss in one fit, on each
    backend; the GPU run matches the CPU run (float32 rounding)."""
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((40, 6)).astype(np.float32), rng.integers(0, 3, 40)

    def run(device):
        model = fastann.Sequential([
            layers.Input((6,)),
            layers.Dense(8, activation="relu", kernel_regularizer="l2", bias_constraint="non_neg",
                         activity_regularizer=regularizers.L1(1e-3)),
            layers.Dense(3, activation="softmax", kernel_constraint=constraints.MaxNorm(0.8))], seed=4)
        model.to(device)
        model.compile("adam", fastann.losses.CategoricalFocalCrossentropy(label_smoothing=0.1))
        h = model.fit(x, np.eye(3, dtype=np.float32)[y], batch_size=16, epochs=2, verbose=0,
                      class_weight={0: 2.0, 1: 0.5}, validation_data=(x, np.eye(3)[y], np.ones(40)))
        return h.history, model.get_weights()

    hist, weights = run(backend)
    ref_hist, ref_weights = run("cpu")
    for k in ref_hist:
        np.testing.assert_allclose(hist[k], ref_hist[k], rtol=1e-4)
    for a, b in zip(weights, ref_weights):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    assert weights[1].min() >= 0
