"""The focal cross-entropies and label_smoothing (Keras 3's formulas, keras/src/losses/losses.py): values
against float64 NumPy formulas written out here, gradients against finite differences, float32 against
float64, the fused softmax path of a model with label smoothing, and Keras itself where it is installed."""
import numpy as np
import pytest

import fastann
from fastann import layers, losses, optimizers
from helpers import numerical_grad
from test_sample_weight import keras_or_skip

EPS = 1e-7


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def cfce_ref(t, y, alpha=0.25, gamma=2.0, from_logits=False, ls=0.0):
    """keras.losses.categorical_focal_crossentropy, then the mean over the batch, in float64."""
    t = t * (1 - ls) + ls / t.shape[-1]
    y = _softmax(y) if from_logits else y
    q = np.clip(y / y.sum(axis=-1, keepdims=True), EPS, 1 - EPS)
    return np.mean(np.sum(alpha * (1 - q) ** gamma * -t * np.log(q), axis=-1))


def bfce_ref(t, y, alpha=0.25, gamma=2.0, from_logits=False, ls=0.0, balance=False):
    """keras.losses.binary_focal_crossentropy, then the mean over the batch, in float64."""
    t = t * (1 - ls) + 0.5 * ls
    p = _sigmoid(y) if from_logits else y
    q = np.clip(p, EPS, 1 - EPS)
    bce = -(t * np.log(q) + (1 - t) * np.log(1 - q))
    pt = t * p + (1 - t) * (1 - p)
    out = (1 - pt) ** gamma * bce
    if balance:
        out = (t * alpha + (1 - t) * (1 - alpha)) * out
    return np.mean(np.mean(out, axis=-1))


def cce_ref(t, y, from_logits=False, ls=0.0):
    t = t * (1 - ls) + ls / t.shape[-1]
    if from_logits:
        z = y - y.max(axis=-1, keepdims=True)
        logq = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    else:
        logq = np.log(np.clip(y / y.sum(axis=-1, keepdims=True), EPS, 1 - EPS))
    return np.mean(-np.sum(t * logq, axis=-1))


def bce_ref(t, y, from_logits=False, ls=0.0):
    t = t * (1 - ls) + 0.5 * ls
    p = _sigmoid(y) if from_logits else np.clip(y, EPS, 1 - EPS)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))


_CASES = [
    ("cfce", dict(), lambda **k: losses.CategoricalFocalCrossentropy(**k), cfce_ref),
    ("cfce", dict(from_logits=True), lambda **k: losses.CategoricalFocalCrossentropy(**k), cfce_ref),
    ("cfce", dict(alpha=0.6, gamma=0.5, ls=0.1), lambda ls=0.0, **k: losses.CategoricalFocalCrossentropy(
        label_smoothing=ls, **k), cfce_ref),
    ("cfce", dict(from_logits=True, gamma=3.0, ls=0.2), lambda ls=0.0, **k: losses.CategoricalFocalCrossentropy(
        label_smoothing=ls, **k), cfce_ref),
    ("bfce", dict(), lambda **k: losses.BinaryFocalCrossentropy(**k), bfce_ref),
    ("bfce", dict(from_logits=True, balance=True, alpha=0.4),
     lambda balance=False, **k: losses.BinaryFocalCrossentropy(apply_class_balancing=balance, **k), bfce_ref),
    ("bfce", dict(gamma=1.5, ls=0.3), lambda ls=0.0, **k: losses.BinaryFocalCrossentropy(label_smoothing=ls, **k),
     bfce_ref),
    ("cce", dict(ls=0.1), lambda ls=0.0, **k: losses.CategoricalCrossentropy(label_smoothing=ls, **k), cce_ref),
    ("cce", dict(ls=0.3, from_logits=True), lambda ls=0.0, **k: losses.CategoricalCrossentropy(
        label_smoothing=ls, **k), cce_ref),
    ("bce", dict(ls=0.2), lambda ls=0.0, **k: losses.BinaryCrossentropy(label_smoothing=ls, **k), bce_ref),
    ("bce", dict(ls=0.4, from_logits=True), lambda ls=0.0, **k: losses.BinaryCrossentropy(label_smoothing=ls, **k),
     bce_ref),
]


def _inputs(kind, from_logits, rng, shape=(6, 4)):
    z = rng.standard_normal(shape)
    if kind in ("cfce", "cce"):
        t = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
        y = z if from_logits else _softmax(z)
    else:
        t = (rng.random(shape) > 0.5).astype(np.float64)
        y = z if from_logits else _sigmoid(z)
    return t, y


@pytest.mark.parametrize("kind, kw, make, ref", _CASES)
def test_value_and_gradient(kind, kw, make, ref, rng):
    loss = make(**kw)
    t, y = _inputs(kind, kw.get("from_logits", False), rng)
    value, grad = loss.forward_backward(y, t)
    np.testing.assert_allclose(float(value), ref(t, y, **kw), rtol=1e-12)
    num = numerical_grad(lambda: np.asarray(float(loss.forward(y, t))), y, np.ones(()))
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(loss.backward(y, t), grad, rtol=1e-13)
    # float32: the same formulas in single precision
    v32, g32 = loss.forward_backward(y.astype(np.float32), t.astype(np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(float(v32), float(value), rtol=1e-5)
    np.testing.assert_allclose(g32, grad, rtol=1e-3, atol=1e-6)


def test_focal_losses_on_higher_rank_outputs(rng):
    """(N, T, C): the per-sample loss is the mean over T of the per-position losses (Keras's reduction)."""
    loss = losses.CategoricalFocalCrossentropy(from_logits=True)
    t, y = _inputs("cfce", True, rng, (3, 5, 4))
    np.testing.assert_allclose(float(loss(t, y)), cfce_ref(t.reshape(-1, 4), y.reshape(-1, 4), from_logits=True),
                               rtol=1e-12)
    w = rng.uniform(0, 1, 3)
    per = [cfce_ref(t[i], y[i], from_logits=True) for i in range(3)]
    np.testing.assert_allclose(float(loss(t, y, sample_weight=w)), np.sum(w * per) / 3, rtol=1e-12)


def test_focal_hand_value():
    """Keras's documented example: categorical_focal_crossentropy([[0,1,0],[0,0,1]], [[.05,.9,.05],
    [.1,.85,.05]]) = [2.634e-04, 6.759e-01] per sample."""
    t = np.array([[0, 1, 0], [0, 0, 1]], dtype=np.float64)
    y = np.array([[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]])
    per = losses.CategoricalFocalCrossentropy().per_sample(y, t)
    np.testing.assert_allclose(per, [2.63401289e-04, 6.75912094e-01], rtol=1e-6)
    assert per[0] == pytest.approx(0.25 * 0.1 ** 2 * -np.log(0.9), rel=1e-12)


def test_arguments_are_checked():
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="label_smoothing"):
            losses.CategoricalCrossentropy(label_smoothing=bad)
        with pytest.raises(ValueError, match="label_smoothing"):
            losses.BinaryFocalCrossentropy(label_smoothing=bad)
    with pytest.raises(TypeError, match="label_smoothing"):
        losses.BinaryCrossentropy(label_smoothing="0.1")
    with pytest.raises(ValueError, match="gamma"):
        losses.CategoricalFocalCrossentropy(gamma=-1)
    with pytest.raises(TypeError):
        losses.SparseCategoricalCrossentropy(label_smoothing=0.1)  # Keras's sparse loss has none
    assert isinstance(losses.get("categorical_focal_crossentropy"), losses.CategoricalFocalCrossentropy)
    assert isinstance(losses.get("binary_focal_crossentropy"), losses.BinaryFocalCrossentropy)
    assert losses.CategoricalCrossentropy(label_smoothing=0.1).get_config()["label_smoothing"] == 0.1


def test_model_with_label_smoothing_uses_the_fused_path_correctly():
    """softmax + CategoricalCrossentropy(label_smoothing): the model runs the loss on the logits (one kernel)
    with the smoothed targets; evaluate equals the formula on predict's probabilities."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 5)), np.eye(3)[rng.integers(0, 3, 20)]
    model = fastann.Sequential([layers.Input((5,)), layers.Dense(3, activation="softmax")], seed=0, dtype="float64")
    model.compile(optimizers.SGD(0.5), losses.CategoricalCrossentropy(label_smoothing=0.2))
    assert model._fused_softmax_loss
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=20), cce_ref(y, model.predict(x), ls=0.2), rtol=1e-10)
    h = model.fit(x, y, epochs=30, batch_size=20, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    # the optimum of a smoothed target keeps probabilities away from 0 and 1
    assert model.predict(x).max() < 0.95


@pytest.mark.parametrize("kind, kw, make, ref", _CASES)
def test_against_keras(kind, kw, make, ref, rng):
    keras = keras_or_skip()
    kw = dict(kw)
    keras_kw = {"label_smoothing": kw.pop("ls")} if "ls" in kw else {}
    if "balance" in kw:
        keras_kw["apply_class_balancing"] = kw.pop("balance")
    keras_kw.update(kw)
    cls = {"cfce": keras.losses.CategoricalFocalCrossentropy, "bfce": keras.losses.BinaryFocalCrossentropy,
           "cce": keras.losses.CategoricalCrossentropy, "bce": keras.losses.BinaryCrossentropy}[kind]
    t, y = _inputs(kind, kw.get("from_logits", False), rng)
    t, y = t.astype(np.float32), y.astype(np.float32)
    expect = float(np.asarray(cls(**keras_kw)(t, y)))
    ours = make(**({"ls": keras_kw["label_smoothing"]} if "label_smoothing" in keras_kw else {}),
                **({"balance": keras_kw["apply_class_balancing"]} if "apply_class_balancing" in keras_kw else {}),
                **kw)
    np.testing.assert_allclose(float(ours(t, y)), expect, rtol=2e-6)
