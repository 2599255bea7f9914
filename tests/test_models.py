"""fastann.Sequential with losses, optimizers, metrics and callbacks, on tiny synthetic data."""
import json

import numpy as np
import pytest
from helpers import to_numpy

import fastann
from fastann import callbacks, layers, losses, metrics, optimizers

# These tests are written in channels_first (N, C, H, W); tests/test_data_format.py covers channels_last.
pytestmark = pytest.mark.usefixtures("channels_first")


def blobs(rng, n=240, classes=3, dim=5, spread=0.4):
    """Well separated Gaussian blobs: (x float32 (n, dim), y int labels (n,))."""
    centers = 3.0 * np.eye(classes, dim)  # pairwise distance 4.2 vs spread 0.4: separable
    y = rng.integers(0, classes, n)
    x = (centers[y] + spread * rng.standard_normal((n, dim))).astype(np.float32)
    return x, y


def mlp(seed=0, dim=5, classes=3, last="softmax", dtype="float32", dropout=None):
    model = fastann.Sequential([layers.Input((dim,)), layers.Dense(16, activation="relu")], seed=seed, dtype=dtype)
    if dropout:
        model.add(layers.Dropout(dropout))
    model.add(layers.Dense(classes, activation=last))
    return model


def test_fit_learns_blobs(rng):
    x, y = blobs(rng)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    assert set(hist.history) == {"loss", "accuracy"} and len(hist.history["loss"]) == 15
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    loss, acc = model.evaluate(x, y)
    assert acc > 0.95 and loss < 0.3
    assert model.history is hist and len(hist.epoch_seconds) == 15


def _numpy_sgd_step(x, y, w1, b1, w2, b2, lr):
    """One SGD step of Dense(relu) -> Dense(softmax) + mean sparse cross-entropy, by hand in float64; the
    kernels in Keras's layout (in, units), as get_weights gives them."""
    z1 = x @ w1 + b1
    h = np.maximum(z1, 0)
    z2 = h @ w2 + b2
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n = len(x)
    loss = -np.log(p[np.arange(n), y]).mean()
    dz2 = p.copy()
    dz2[np.arange(n), y] -= 1
    dz2 /= n
    dw2, db2 = h.T @ dz2, dz2.sum(0)
    dz1 = (dz2 @ w2.T) * (z1 > 0)
    dw1, db1 = x.T @ dz1, dz1.sum(0)
    return loss, [w1 - lr * dw1, b1 - lr * db1, w2 - lr * dw2, b2 - lr * db2]


@pytest.mark.parametrize("last, loss", [
    ("softmax", "sparse_categorical_crossentropy"),                       # fused softmax + CE
    (None, losses.SparseCategoricalCrossentropy(from_logits=True)),       # logits + CE
])
def test_one_step_matches_numpy_backprop(rng, last, loss):
    x, y = blobs(rng, n=12)
    model = mlp(seed=1, last=last, dtype="float64")
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss=loss)
    w = model.get_weights()
    hist = model.fit(x, y, batch_size=12, epochs=1, shuffle=False, verbose=0)
    ref_loss, ref_w = _numpy_sgd_step(x.astype(np.float64), y, *w, lr=0.1)
    assert abs(hist.history["loss"][0] - ref_loss) < 1e-10
    for got, want in zip(model.get_weights(), ref_w):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_fusion_is_detected():
    for last_layers, loss, fused in [
        ([layers.Dense(3, activation="softmax")], "sparse_categorical_crossentropy", True),
        ([layers.Dense(3), layers.Activation("softmax")], "categorical_crossentropy", True),
        ([layers.Dense(3, activation="softmax")], losses.CategoricalCrossentropy(from_logits=True), False),
        ([layers.Dense(3, activation="sigmoid")], "sparse_categorical_crossentropy", False),
        ([layers.Dense(3, activation="softmax")], "mse", False),
    ]:
        model = fastann.Sequential([layers.Input((4,))] + last_layers)
        model.compile("sgd", loss)
        assert model._fused_softmax_loss is fused, (last_layers, loss)


def test_categorical_onehot_equals_sparse(rng):
    x, y = blobs(rng, n=40)
    onehot = np.eye(3, dtype=np.float32)[y]
    results = []
    for loss, target in (("sparse_categorical_crossentropy", y), ("categorical_crossentropy", onehot)):
        model = mlp(seed=5)
        model.compile("adam", loss, metrics=["accuracy"])
        h = model.fit(x, target, batch_size=8, epochs=2, verbose=0)
        results.append((h.history, model.get_weights()))
    (h_sparse, _), (h_onehot, _) = results
    assert set(h_sparse) == set(h_onehot) == {"loss", "accuracy"}
    for k in h_sparse:  # pytest.approx takes a list of numbers, not a dict of lists
        assert h_sparse[k] == pytest.approx(h_onehot[k]), k
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_unfused_probability_loss_and_mse(rng):
    """A last layer that is not softmax takes the unfused path (loss forward + backward kernels)."""
    x, y = blobs(rng, n=60, classes=2)
    model = mlp(seed=2, classes=1, last="sigmoid")
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y[:, None].astype(np.float32), batch_size=10, epochs=20, verbose=0)
    assert h.history["accuracy"][-1] > 0.9 and h.history["loss"][-1] < h.history["loss"][0]
    reg = fastann.Sequential([layers.Input((5,)), layers.Dense(1)], seed=0)
    reg.compile(optimizers.SGD(0.05), "mse", metrics=["mae"])
    xs = rng.standard_normal((60, 5)).astype(np.float32)  # well conditioned: SGD converges fast
    t = (xs @ np.arange(1, 6, dtype=np.float32) / 10)[:, None]
    h = reg.fit(xs, t, batch_size=10, epochs=30, verbose=0)
    assert h.history["loss"][-1] < 1e-3 and h.history["loss"][-1] < 0.05 * h.history["loss"][0]
    assert set(h.history) == {"loss", "mae"}  # a metric given by name logs under that name (Keras)


def test_evaluate_predict_consistent(rng):
    x, y = blobs(rng, n=50)
    model = mlp(seed=3)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    p = model.predict(x, batch_size=7)
    assert p.shape == (50, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    np.testing.assert_allclose(p, model.predict(x, batch_size=50), rtol=1e-6)
    loss, acc = model.evaluate(x, y, batch_size=9)
    assert loss == pytest.approx(-np.log(p[np.arange(50), y].astype(np.float64)).mean(), rel=1e-4)
    assert acc == pytest.approx((p.argmax(1) == y).mean())
    assert model.evaluate(x, y, return_dict=True).keys() == {"loss", "accuracy"}
    model.compile("adam", "sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y), float)


def test_validation_split_and_data(rng):
    x, y = blobs(rng, n=100)
    model = mlp(seed=4)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    seen = []
    cb = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(model.evaluate(x[80:], y[80:])))
    h = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.2, callbacks=[cb], verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    # the held-out part is the last 20%, evaluated after each epoch
    assert [v[0] for v in seen] == pytest.approx(h.history["val_loss"])
    h = model.fit(x[:80], y[:80], epochs=1, validation_data=(x[80:], y[80:]), verbose=0)
    assert h.history["val_loss"][0] == pytest.approx(model.evaluate(x[80:], y[80:])[0])


def test_same_seed_same_run(rng):
    x, y = blobs(rng, n=64)
    runs = []
    for seed in (11, 11, 12):
        model = mlp(seed=seed, dropout=0.2)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        runs.append((model.fit(x, y, batch_size=8, epochs=2, verbose=0).history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(runs[0][1][0], runs[2][1][0])


def test_dropout_only_in_training(rng):
    x, _ = blobs(rng, n=20)
    model = mlp(seed=0, dropout=0.5)
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    a = to_numpy(model(x, training=True))
    assert not np.allclose(a, model.predict(x))


def test_early_stopping_and_restore(rng):
    x, y = blobs(rng, n=40)
    model = mlp(seed=6)
    model.compile(optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    snapshots = []
    keep = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(model.get_weights()))
    # min_delta huge: no epoch after the first counts as an improvement
    stop = callbacks.EarlyStopping(monitor="loss", min_delta=1e9, patience=2, restore_best_weights=True)
    h = model.fit(x, y, epochs=20, callbacks=[keep, stop], verbose=0)
    assert len(h.history["loss"]) == 3 and stop.stopped_epoch == 2 and stop.best_epoch == 0
    for a, b in zip(model.get_weights(), snapshots[0]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="val_loss"):
        model.fit(x, y, epochs=1, callbacks=[callbacks.EarlyStopping()], verbose=0)


def test_batch_callbacks_and_checkpoint(rng, tmp_path):
    x, y = blobs(rng, n=50)
    model = mlp(seed=7)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    batches = []
    cb = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: batches.append((b, sorted(logs))))
    ck = callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch}.npz"), monitor="loss", save_best_only=False,
                                  save_weights_only=True)
    model.fit(x, y, batch_size=16, epochs=2, callbacks=[cb, ck], verbose=0)
    assert [b for b, _ in batches] == [0, 1, 2, 3] * 2 and batches[0][1] == ["accuracy", "loss"]
    other = mlp(seed=99)
    other.load_weights(tmp_path / "w-2.npz")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_summary_and_weights_io(rng, tmp_path):
    model = fastann.Sequential([layers.Input((784,)), layers.Dense(300, activation="relu"),
                                layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for s in ("(None, 300)", "235,500", "30,100", "1,010", "Total params: 266,610"):
        assert s in text
    assert model.count_params() == 266610
    path = tmp_path / "weights.npz"
    model.save_weights(path)
    clone = fastann.Sequential([layers.Input((784,)), layers.Dense(300, activation="relu"),
                                layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")])
    clone.load_weights(path)
    for a, b in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    wrong = fastann.Sequential([layers.Input((784,)), layers.Dense(30), layers.Dense(10)])
    with pytest.raises(ValueError):
        wrong.load_weights(path)
    with pytest.raises(ValueError, match="got 1 arrays"):
        model.set_weights([np.zeros(3)])
    with pytest.raises(ValueError, match="not built"):
        fastann.Sequential([layers.Dense(3)]).summary()


def test_lazy_build_from_data(rng):
    x, y = blobs(rng, n=30, dim=4)
    model = fastann.Sequential([layers.Flatten(), layers.Dense(3, activation="softmax")], seed=0)
    assert not model.built
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x.reshape(30, 2, 2), y, epochs=1, verbose=0)
    assert model.built and model.layers[1].params["kernel"].shape == (3, 4)
    assert not model.layers[0].need_input_grad and not model.layers[1].need_input_grad


def test_every_optimizer_trains(rng):
    x, y = blobs(rng, n=60)
    for name, kwargs in [("sgd", {"learning_rate": 0.1}), ("sgd", {"learning_rate": 0.05, "momentum": 0.9}),
                         ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
                         ("adam", {"learning_rate": 0.01}), ("adam", {"learning_rate": 0.01, "amsgrad": True}),
                         ("adamw", {"learning_rate": 0.01}), ("rmsprop", {"learning_rate": 0.01}),
                         ("rmsprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
                         ("adagrad", {"learning_rate": 0.1}), ("adadelta", {"learning_rate": 1.0}),
                         ("adamax", {"learning_rate": 0.01}), ("nadam", {"learning_rate": 0.01})]:
        model = mlp(seed=8)
        model.compile(optimizers.get(name, **kwargs), "sparse_categorical_crossentropy")
        h = model.fit(x, y, batch_size=10, epochs=5, verbose=0)
        assert h.history["loss"][-1] < 0.8 * h.history["loss"][0], (name, kwargs, h.history["loss"])


def test_adam_matches_hand_computed_rule():
    p = np.array([1.0, -2.0, 0.5], dtype=np.float64)
    grads = [np.array([0.1, -0.3, 0.0]), np.array([-0.2, 0.1, 0.4])]
    opt = optimizers.Adam(learning_rate=0.01)
    m = v = np.zeros(3)
    want = p.copy()
    for t, g in enumerate(grads, start=1):
        opt.apply_gradients([p], [g])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        want = want - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-7)
        np.testing.assert_allclose(p, want, rtol=1e-12)
    assert opt.iterations == 2
    sgd = optimizers.SGD(learning_rate=0.5, momentum=0.9)
    q = np.array([1.0, 2.0])
    sgd.apply_gradients([q], [np.array([1.0, -1.0])])
    sgd.apply_gradients([q], [np.array([1.0, -1.0])])
    # buf1 = g, q1 = q0 - 0.5 g; buf2 = 0.9 g + g, q2 = q1 - 0.5 * 1.9 g
    np.testing.assert_allclose(q, [1.0 - 0.5 - 0.95, 2.0 + 0.5 + 0.95])


def test_metric_functions():
    y = np.array([0, 2, 1, 1])
    p = np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.2, 0.5, 0.3]])
    assert metrics.sparse_categorical_accuracy(y, p) == 0.75
    assert metrics.categorical_accuracy(np.eye(3)[y], p) == 0.75
    assert metrics.binary_accuracy(np.array([1.0, 0, 1, 0]), np.array([0.7, 0.2, 0.4, 0.6])) == 0.5
    assert metrics.accuracy(np.array([1, 2, 3]), np.array([1, 2, 4])) == pytest.approx(2 / 3)
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(y[:2], p[:2])
    m.update_state(y[2:], p[2:])
    assert m.result() == 0.75
    m.reset_state()
    assert np.isnan(m.result())
    assert isinstance(metrics.get("accuracy", losses.get("categorical_crossentropy")), metrics.CategoricalAccuracy)
    assert isinstance(metrics.get("acc", losses.get("binary_crossentropy")), metrics.BinaryAccuracy)
    with pytest.raises(ValueError, match="shape"):
        metrics.sparse_categorical_accuracy(y[:3], p)


def test_loss_objects_against_numpy(rng):
    p = rng.uniform(0.05, 0.95, (6, 4))
    t = rng.uniform(0, 1, (6, 4))
    assert float(losses.get("mse")(t, p)) == pytest.approx(((p - t) ** 2).mean(), rel=1e-10)
    assert float(losses.get("mae")(t, p)) == pytest.approx(np.abs(p - t).mean(), rel=1e-10)
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
    assert float(losses.get("binary_crossentropy")(t, p)) == pytest.approx(bce, rel=1e-8)
    logits = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    ls = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    ce = -ls[np.arange(6), labels].mean()
    loss, grad = losses.SparseCategoricalCrossentropy(from_logits=True).forward_backward(logits, labels)
    assert float(loss) == pytest.approx(ce, rel=1e-10)
    want = np.exp(ls)
    want[np.arange(6), labels] -= 1
    np.testing.assert_allclose(grad, want / 6, rtol=1e-9)
    probs = np.exp(ls)
    assert float(losses.get("sparse_categorical_crossentropy")(labels, probs)) == pytest.approx(ce, rel=1e-8)


def test_model_errors(rng):
    x, y = blobs(rng, n=20)
    model = mlp()
    with pytest.raises(ValueError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="unknown optimizer"):
        model.compile("adamm", "mse")
    with pytest.raises(ValueError, match="unknown loss"):
        model.compile("adam", "cross_entropy")
    with pytest.raises(ValueError, match="unknown metric"):
        model.compile("adam", "mse", metrics=["precisionn"])
    with pytest.raises(TypeError, match="metrics must be a list"):
        model.compile("adam", "mse", metrics="accuracy")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(TypeError, match="integer class labels"):
        model.fit(x, y.astype(np.float32), verbose=0)
    with pytest.raises(ValueError, match="label 3 is out of range"):
        model.fit(x, np.where(y == 0, 3, y), verbose=0)
    with pytest.raises(ValueError, match="label -1"):
        model.fit(x, y - 1, verbose=0)
    with pytest.raises(ValueError, match="20 samples but y has 19"):
        model.fit(x, y[:19], verbose=0)
    with pytest.raises(ValueError, match=r"inputs of shape \(N, 5\)"):
        model.fit(x[:, :4], y, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(x[:0], y[:0], verbose=0)
    with pytest.raises(TypeError, match="numpy array"):
        model.fit(x.tolist(), y, verbose=0)
    for kw, msg in [({"batch_size": 0}, "batch_size"), ({"epochs": -1}, "epochs"),
                    ({"validation_split": 1.0}, "validation_split"), ({"verbose": 3}, "verbose")]:
        with pytest.raises(ValueError, match=msg):
            model.fit(x, y, **kw)
    with pytest.raises(TypeError, match="Layer"):
        model.add("dense")
    with pytest.raises(TypeError, match="callbacks"):
        model.fit(x, y, callbacks=[print], verbose=0)
    onehot_model = mlp()
    onehot_model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"y must have shape \(N, 3\)"):
        onehot_model.fit(x, y, verbose=0)


def test_progress_bar_output(rng, capsys):
    x, y = blobs(rng, n=64)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "val_accuracy=" in err and "loss=" in err
    model.fit(x, y, batch_size=16, epochs=1, verbose=2)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "loss:" in err
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr() == ("", "")
    json.dumps(model.history.history)  # plain floats: serialisable


def test_frozen_layer_is_not_trained(rng):
    x, y = blobs(rng, n=40)
    model = mlp(seed=9)
    model.layers[0].trainable = False  # the hidden Dense (model.layers leaves out the Input, as Keras)
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = model.get_weights()
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert not np.array_equal(before[2], after[2])
    # backward stops at the first trainable layer: the frozen one is never asked for gradients
    assert not model.layers[0].need_input_grad and not model.layers[1].need_input_grad
    lines = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 96" in "\n".join(lines)  # 16 x 5 + 16
