"""fit / evaluate with Keras's sample_weight, class_weight, validation_data=(x, y, sample_weight) and
initial_epoch: the weighted loss is sum(w_i l_i) / N (Keras 3's "sum_over_batch_size"), each sample's
gradient is scaled by its weight, class weights become per-sample weights from the labels, and epochs are
numbered from initial_epoch. Values are checked against float64 NumPy formulas on predict's outputs."""
import os

import numpy as np
import pytest

import fastann
from fastann import callbacks, constraints, layers, losses, optimizers, regularizers


def keras_or_skip():
    """Keras 3 on its torch backend for the comparison tests, or a skip saying why."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch", reason="PyTorch (Keras's backend here) is not installed (comparison only)")
    return pytest.importorskip("keras", reason="Keras is not installed (comparison only)")


def _data(n=24, dim=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim)), rng.integers(0, classes, n)


def _mlp(loss="sparse_categorical_crossentropy", last="softmax", units=3, lr=0.1):
    model = fastann.Sequential([layers.Input((5,)), layers.Dense(7, activation="tanh"),
                                layers.Dense(units, activation=last)], seed=1, dtype="float64")
    model.compile(optimizers.SGD(lr), loss)
    return model


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


# ---- the losses with weights ------------------------------------------------------------------------------
def test_weighted_loss_by_hand():
    p = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]])
    t = np.zeros((3, 2))
    w = np.array([1.0, 0.5, 0.0])
    # per-sample MSE: 2.5, 17, 0.5 -> (2.5 + 8.5 + 0) / 3 (divided by the batch, not by sum(w))
    assert float(losses.MeanSquaredError()(t, p, sample_weight=w)) == pytest.approx(11.0 / 3.0, rel=1e-15)
    _, g = losses.MeanSquaredError().weighted_forward_backward(p, t, w)
    np.testing.assert_allclose(g, 2 * p / 6 * w[:, None])


@pytest.mark.parametrize("loss", [losses.MeanSquaredError(), losses.MeanAbsoluteError(), losses.Huber(0.7),
                                  losses.BinaryCrossentropy(), losses.BinaryCrossentropy(from_logits=True),
                                  losses.CategoricalCrossentropy(), losses.CategoricalCrossentropy(from_logits=True),
                                  losses.KLDivergence(), losses.Hinge(), losses.SquaredHinge(), losses.LogCosh(),
                                  losses.Poisson(), losses.SparseCategoricalCrossentropy(),
                                  losses.CategoricalFocalCrossentropy(), losses.BinaryFocalCrossentropy()])
def test_weighted_losses_match_the_unweighted_kernels(loss, rng):
    """sum(w l_i)/N with one-hot weights picks one sample: N * loss(that sample alone); all-ones weights give
    the unweighted loss; the gradient is the per-sample rows scaled."""
    n, c = 5, 4
    p = rng.uniform(0.05, 0.95, (n, c))
    p /= p.sum(axis=1, keepdims=True)
    t = np.eye(c)[rng.integers(0, c, n)]
    if loss.target_kind == "labels":
        t = t.argmax(axis=1)
    if isinstance(loss, losses.KLDivergence):
        t = 0.8 * t + 0.05
    ones = np.ones(n)
    np.testing.assert_allclose(float(loss(t, p, sample_weight=ones)), float(loss(t, p)), rtol=1e-12)
    w = rng.uniform(0, 2, n)
    lw, gw = loss.weighted_forward_backward(p, t, w)
    per = np.array([float(loss(t[i:i + 1], p[i:i + 1])) for i in range(n)]) if not isinstance(
        loss, losses.Hinge) else loss.per_sample(p, t)
    np.testing.assert_allclose(float(lw), np.sum(w * per) / n, rtol=1e-12)
    np.testing.assert_allclose(gw, loss.backward(p, t) * w[:, None], rtol=1e-12)


def test_per_sample_of_a_custom_loss_is_not_implemented():
    class Mine(losses.Loss):
        def forward(self, y_pred, y_true):
            return ((y_pred - y_true) ** 2).mean()

    with pytest.raises(NotImplementedError, match="sample_weight"):
        Mine()(np.zeros((2, 1)), np.ones((2, 1)), sample_weight=np.ones(2))


# ---- fit and evaluate -------------------------------------------------------------------------------------
def test_evaluate_sample_weight_fused_softmax_path():
    x, y = _data()
    model = _mlp()
    w = np.random.default_rng(3).uniform(0, 3, len(y))
    logp = np.log(model.predict(x))
    expect = np.sum(-logp[np.arange(len(y)), y] * w) / len(y)
    assert model.evaluate(x, y, sample_weight=w, batch_size=len(y)) == pytest.approx(expect, rel=1e-10)
    # batches: the mean of the per-batch weighted losses, weighted by the batch sizes (Keras's loss tracker)
    b = 10
    per = [np.sum((-logp[np.arange(len(y)), y] * w)[i:i + b]) / len(y[i:i + b]) for i in range(0, len(y), b)]
    sizes = [len(y[i:i + b]) for i in range(0, len(y), b)]
    assert model.evaluate(x, y, sample_weight=w, batch_size=b) == pytest.approx(np.average(per, weights=sizes),
                                                                                rel=1e-10)


def test_one_sgd_step_scales_each_samples_gradient():
    """With SGD the update is linear in the gradient: weights 2 give twice the step of weights 1, and weights
    of all ones give exactly the unweighted step."""
    x, y = _data()
    base, ones, twos = _mlp(), _mlp(), _mlp()
    w0 = base.get_weights()
    base.fit(x, y, batch_size=24, shuffle=False, verbose=0)
    ones.fit(x, y, batch_size=24, shuffle=False, verbose=0, sample_weight=np.ones(24))
    h = twos.fit(x, y, batch_size=24, shuffle=False, verbose=0, sample_weight=np.full(24, 2.0))
    for a, b, c, init in zip(base.get_weights(), ones.get_weights(), twos.get_weights(), w0):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(c - init, 2 * (a - init), rtol=1e-10, atol=1e-15)
    p = _mlp().predict(x)
    assert h.history["loss"][0] == pytest.approx(2 * np.mean(-np.log(p[np.arange(24), y])), rel=1e-10)


def test_class_weight_equals_the_matching_sample_weight():
    x, y = _data()
    cw = {0: 2.0, 2: 0.5}  # class 1 missing: weight 1.0
    a, b = _mlp(), _mlp()
    ha = a.fit(x, y, batch_size=8, epochs=2, verbose=0, class_weight=cw)
    hb = b.fit(x, y, batch_size=8, epochs=2, verbose=0, sample_weight=np.array([cw.get(int(c), 1.0) for c in y]))
    assert ha.history["loss"] == hb.history["loss"]
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_class_weight_from_one_hot_and_binary_targets():
    x, y = _data(classes=3)
    onehot = np.eye(3)[y]
    a, b = _mlp("categorical_crossentropy"), _mlp("categorical_crossentropy")
    a.fit(x, onehot, batch_size=24, verbose=0, shuffle=False, class_weight={1: 3.0})
    b.fit(x, onehot, batch_size=24, verbose=0, shuffle=False, sample_weight=np.where(y == 1, 3.0, 1.0))
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
    yb = (y == 1).astype(np.float64)
    a, b = _mlp("binary_crossentropy", "sigmoid", 1), _mlp("binary_crossentropy", "sigmoid", 1)
    a.fit(x, yb, batch_size=24, verbose=0, shuffle=False, class_weight={0: 0.25, 1: 4.0})
    b.fit(x, yb, batch_size=24, verbose=0, shuffle=False, sample_weight=np.where(yb == 1, 4.0, 0.25))
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])


def test_validation_data_with_weights_and_validation_split():
    x, y = _data(n=30)
    w = np.random.default_rng(4).uniform(0.5, 2, 30)
    model = _mlp()
    h = model.fit(x[:20], y[:20], epochs=1, verbose=0, validation_data=(x[20:], y[20:], w[20:]))
    assert h.history["val_loss"][0] == pytest.approx(model.evaluate(x[20:], y[20:], sample_weight=w[20:],
                                                                    batch_size=256), rel=1e-12)
    model = _mlp()
    h = model.fit(x, y, epochs=1, verbose=0, validation_split=0.2, sample_weight=w)  # the last 6 are validation
    assert h.history["val_loss"][0] == pytest.approx(model.evaluate(x[24:], y[24:], sample_weight=w[24:],
                                                                    batch_size=256), rel=1e-12)


def test_weight_arguments_are_checked():
    x, y = _data()
    model = _mlp()
    with pytest.raises(ValueError, match="class_weight.*sample_weight"):
        model.fit(x, y, verbose=0, sample_weight=np.ones(24), class_weight={0: 1.0})
    with pytest.raises(ValueError, match="sample_weight must have one weight per sample"):
        model.fit(x, y, verbose=0, sample_weight=np.ones(23))
    with pytest.raises(ValueError, match="sample_weight"):
        model.evaluate(x, y, sample_weight=np.ones((24, 2)))
    with pytest.raises(TypeError, match="sample_weight must hold numbers"):
        model.fit(x, y, verbose=0, sample_weight=np.array(["a"] * 24))
    with pytest.raises(TypeError, match="class_weight"):
        model.fit(x, y, verbose=0, class_weight=[1.0, 2.0])
    with pytest.raises(TypeError, match="class_weight keys"):
        model.fit(x, y, verbose=0, class_weight={"0": 1.0})
    with pytest.raises(ValueError, match="validation_data"):
        model.fit(x, y, verbose=0, validation_data=(x, y, None, None))
    model.fit(x, y, verbose=0, sample_weight=np.ones((24, 1)))  # (N, 1) is one weight per sample too


# ---- initial_epoch ----------------------------------------------------------------------------------------
def test_initial_epoch_numbers_epochs_for_callbacks_and_schedules():
    x, y = _data()
    model = _mlp()
    seen, rates = [], []
    sched = callbacks.LearningRateScheduler(lambda epoch: 0.1 / (1 + epoch))
    track = callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: (seen.append(e),
                                                                      rates.append(model.optimizer.learning_rate)))
    h = model.fit(x, y, epochs=5, initial_epoch=2, verbose=0, callbacks=[sched, track])
    assert seen == [2, 3, 4] and len(h.history["loss"]) == 3
    np.testing.assert_allclose(rates, [0.1 / 3, 0.1 / 4, 0.1 / 5])
    assert model.fit(x, y, epochs=2, initial_epoch=2, verbose=0).history == {}
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="initial_epoch"):
            model.fit(x, y, epochs=3, initial_epoch=bad, verbose=0)


# ---- against Keras ----------------------------------------------------------------------------------------
def test_fit_matches_keras():
    """The same weights, data and SGD steps in Keras 3 and fastann: sample weights, class weights, weighted
    validation data, weight and activity regularizers and layout-free constraints (NonNeg, MaxNorm on a bias)
    give the same losses and weights."""
    keras = keras_or_skip()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 4)).astype("float32"), rng.integers(0, 3, 20)
    w = rng.uniform(0, 2, 20).astype("float32")

    def stack(lib, regs, cons):
        return lib.Sequential([
            lib.layers.Input((4,)),
            lib.layers.Dense(5, activation="tanh", kernel_regularizer=regs.L1L2(0.01, 0.02),
                             bias_regularizer=regs.L2(0.1), kernel_constraint=cons.NonNeg(),
                             bias_constraint=cons.MaxNorm(0.3)),
            lib.layers.Dense(3, activation="softmax", activity_regularizer=regs.L2(0.05))])

    km = stack(keras, keras.regularizers, keras.constraints)
    fm = stack(fastann, regularizers, constraints)
    km.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    fm.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    kw = km.get_weights()
    fm.set_weights([a if a.shape == b.shape else a.T for a, b in zip(kw, fm.get_weights())])
    hk = km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, sample_weight=w, validation_data=(x, y, w))
    hf = fm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, sample_weight=w, validation_data=(x, y, w))
    for k in ("loss", "val_loss"):
        np.testing.assert_allclose(hf.history[k], hk.history[k], rtol=1e-5)
    hk = km.fit(x, y, batch_size=8, epochs=3, initial_epoch=1, shuffle=False, verbose=0, class_weight={0: 3.0, 2: 0.2})
    hf = fm.fit(x, y, batch_size=8, epochs=3, initial_epoch=1, shuffle=False, verbose=0, class_weight={0: 3.0, 2: 0.2})
    np.testing.assert_allclose(hf.history["loss"], hk.history["loss"], rtol=1e-5)
    for a, b in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(b if a.shape == b.shape else b.T, a, rtol=1e-4, atol=1e-6)
    assert float(np.asarray(km.evaluate(x, y, sample_weight=w, verbose=0))) == pytest.approx(
        fm.evaluate(x, y, sample_weight=w), rel=1e-5)
