"""The training features of fit on the functional Model: weight and activity regularizers, constraints,
sample and class weights, several outputs, nested models, and the layout plan of the graph's chains of
channels_last image layers (against the same network as a Sequential, by finite differences, and against
channels_first)."""
import numpy as np
import pytest

import fastann
from fastann import constraints, layers, optimizers, regularizers


def _chain_layers():
    return [layers.Dense(6, activation="tanh", kernel_regularizer=regularizers.L2(1e-2),
                         activity_regularizer=regularizers.L1(1e-2)),
            layers.Dense(4, kernel_constraint=constraints.MaxNorm(0.5), bias_regularizer="l2"),
            layers.Dense(3, activation="softmax", activity_regularizer=regularizers.L2(1e-2))]


def test_graph_matches_sequential_with_every_training_feature(rng):
    """The same chain as a Sequential and as a graph: the same losses, validation losses and weights after
    a fit with regularizers, activity regularizers, a constraint, sample weights and weighted validation."""
    x, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    w, xv, yv, wv = rng.uniform(0, 2, 40), rng.standard_normal((10, 5)), rng.integers(0, 3, 10), rng.uniform(0, 2, 10)
    seq = fastann.Sequential([fastann.Input((5,))] + _chain_layers(), seed=0, dtype="float64")
    inp = fastann.Input((5,))
    h = inp
    for layer in _chain_layers():
        h = layer(h)
    graph = fastann.Model(inp, h, seed=1, dtype="float64")
    graph.set_weights(seq.get_weights())
    runs = []
    for model in (seq, graph):
        model.compile(optimizer=optimizers.SGD(0.1, momentum=0.5), loss="sparse_categorical_crossentropy")
        hist = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, sample_weight=w,
                         validation_data=(xv, yv, wv))
        runs.append((hist.history, model.get_weights(), model.evaluate(x, y, sample_weight=w)))
    (h1, w1, e1), (h2, w2, e2) = runs
    for k in ("loss", "val_loss"):
        np.testing.assert_allclose(h1[k], h2[k], rtol=1e-12)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert e1 == pytest.approx(e2, rel=1e-12)
    assert np.linalg.norm(graph.get_weights()[2], axis=0).max() <= 0.5 + 1e-12  # max_norm on the kernel
    assert len(graph.losses) == 2 and not graph._fused_softmax_loss  # the softmax output is regularized


def _two_headed(dtype="float64"):
    """Two inputs through one shared layer with an activity regularizer (penalized at both calls), fan-out,
    a concatenation and an addition, two outputs with a weight and an activity regularizer."""
    a, b = fastann.Input((5,)), fastann.Input((5,))
    shared = layers.Dense(4, activation="tanh", activity_regularizer=regularizers.L2(0.1), name="shared")
    s, t = shared(a), shared(b)
    cls = layers.Dense(3, activation="softmax", kernel_regularizer=regularizers.L2(0.05), name="cls")(
        layers.Concatenate()([s, t]))
    reg = layers.Dense(2, activity_regularizer=regularizers.L1(0.05), name="reg")(layers.Add()([s, t]))
    model = fastann.Model([a, b], [cls, reg], seed=3, dtype=dtype)
    model.compile(optimizer=optimizers.SGD(1.0), loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5])
    return model


def test_graph_training_step_is_the_gradient_of_the_evaluated_loss(rng):
    """One SGD(1) step of train_on_batch moves every weight by minus the gradient of the loss that evaluate
    reports (sample-weighted losses of two outputs, weight and activity penalties, a shared layer penalized
    at each call): checked by central finite differences of evaluate."""
    model = _two_headed()
    xs = [rng.standard_normal((6, 5)), rng.standard_normal((6, 5))]
    ys = [rng.integers(0, 3, 6), rng.standard_normal((6, 2))]
    sw = [rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, 6)]

    def loss():
        return model.evaluate(xs, ys, sample_weight=sw, batch_size=6)[0]  # [loss, cls_loss, reg_loss]

    before = [p.copy() for p in model.trainable_weights]
    l0 = loss()
    assert model.train_on_batch(xs, ys, sample_weight=sw)[0] == pytest.approx(l0, rel=1e-12)
    grads = [b - p for b, p in zip(before, model.trainable_weights)]
    for p, b in zip(model.trainable_weights, before):
        p[...] = b
    eps = 1e-6
    for p, g in zip(model.trainable_weights, grads):
        flat = p.reshape(-1)
        for i in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            assert abs((up - down) / (2 * eps) - g.reshape(-1)[i]) < 1e-6 * max(1.0, abs(g.reshape(-1)[i]))


def test_several_outputs_sample_weight_forms(rng):
    a = fastann.Input((4,))
    h = layers.Dense(5, activation="tanh")(a)
    model = fastann.Model(a, [layers.Dense(2)(h), layers.Dense(3)(h)], seed=0, dtype="float64")
    model.compile(optimizer="sgd", loss="mse", loss_weights=[1.0, 2.0])
    x, y1, y2 = rng.standard_normal((7, 4)), rng.standard_normal((7, 2)), rng.standard_normal((7, 3))
    w = rng.uniform(0, 2, 7)
    p1, p2 = model.predict(x)
    expected = (w * ((p1 - y1) ** 2).mean(1)).sum() / 7 + 2.0 * (w * ((p2 - y2) ** 2).mean(1)).sum() / 7
    first = (w * ((p1 - y1) ** 2).mean(1)).sum() / 7
    logs = model.evaluate(x, [y1, y2], sample_weight=w)  # [loss, each output's (sample-weighted) loss]
    assert logs[0] == pytest.approx(expected, rel=1e-12) and logs[1] == pytest.approx(first, rel=1e-12)
    assert model.evaluate(x, [y1, y2], sample_weight=[w, w])[0] == pytest.approx(expected, rel=1e-12)
    assert model.evaluate(x, [y1, y2], sample_weight=[w, np.zeros(7)])[0] == pytest.approx(first, rel=1e-12)
    with pytest.raises(ValueError, match="class_weight.*single output"):
        model.fit(x, [y1, y2], class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="sample_weight must be a list of 2"):
        model.evaluate(x, [y1, y2], sample_weight=[w, w, w])
    with pytest.raises(ValueError, match=r"sample_weight\[1\].*one weight per sample"):
        model.evaluate(x, [y1, y2], sample_weight=[w, w[:3]])


def test_nested_model_penalties_count_and_nested_activity_is_not_implemented(rng):
    inner = fastann.Sequential([fastann.Input((4,)), layers.Dense(3, kernel_regularizer=regularizers.L2(0.1))],
                               seed=0, dtype="float64")
    x = fastann.Input((4,))
    outer = fastann.Model(x, layers.Dense(2)(inner(x)), seed=1, dtype="float64")
    outer.compile(optimizer="sgd", loss="mse")
    kernel = inner.layers[0].params["kernel"]
    assert len(outer.losses) == 1 and float(outer.losses[0]) == pytest.approx(0.1 * float((kernel ** 2).sum()))
    xa, ya = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))
    plain = float(((outer.predict(xa) - ya) ** 2).mean())
    assert outer.evaluate(xa, ya) == pytest.approx(plain + float(outer.losses[0]), rel=1e-12)
    inner2 = fastann.Sequential([fastann.Input((4,)), layers.Dense(3, activity_regularizer="l2")], seed=0)
    x2 = fastann.Input((4,))
    outer2 = fastann.Model(x2, layers.Dense(2)(inner2(x2)), seed=1)
    outer2.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotImplementedError, match="activity_regularizer.*nested model"):
        outer2.fit(xa.astype(np.float32), ya.astype(np.float32), verbose=0)


def _image_graph(fmt):
    """Conv2D -> BatchNormalization -> ReLU -> MaxPooling2D (a chain) added to a 1x1 Conv2D -> MaxPooling2D
    branch, then Flatten -> Dense, in data format ``fmt``."""
    cl = fmt == "channels_last"
    inp = fastann.Input((6, 6, 2) if cl else (2, 6, 6))
    h = layers.Conv2D(3, 3, padding="same", data_format=fmt)(inp)
    h = layers.BatchNormalization(axis=-1 if cl else 1)(h)
    h = layers.MaxPooling2D(2, data_format=fmt)(layers.Activation("relu")(h))
    skip = layers.MaxPooling2D(2, data_format=fmt)(layers.Conv2D(3, 1, data_format=fmt)(inp))
    out = layers.Dense(2)(layers.Flatten(data_format=fmt)(layers.Add()([h, skip])))
    model = fastann.Model(inp, out, seed=0, dtype="float64")
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    return model


def test_layout_plan_of_the_graph_chains_matches_channels_first(rng):
    last, first = _image_graph("channels_last"), _image_graph("channels_first")
    first.set_weights(last.get_weights())  # Keras's layouts: the same arrays in both formats
    conv, bn, act, pool = (last.get_layer(index=i) for i in range(1, 5))
    assert (conv._nchw_in, conv._nchw_out, bn._nchw_in, bn._nchw_out, pool._nchw_in, pool._nchw_out) == \
        (False, True, True, True, True, False)  # NCHW inside the chain, NHWC at the Add
    x, y = rng.standard_normal((4, 6, 6, 2)), rng.standard_normal((4, 2))
    xf = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(last.predict(x), first.predict(xf), rtol=1e-12, atol=1e-13)
    assert last.train_on_batch(x, y) == pytest.approx(first.train_on_batch(xf, y), rel=1e-12)
    for a, b in zip(last.get_weights(), first.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_sequential_with_a_nested_model_after_batch_normalization(rng):
    """A BatchNormalization followed by a nested model (not fused with it; no activity regularizer of its
    own) computes what the flat model (fused BatchNormalization -> ReLU) computes."""
    inner = fastann.Sequential([fastann.Input((4, 4, 2)), layers.Activation("relu")])
    nested = fastann.Sequential([fastann.Input((4, 4, 2)), layers.Conv2D(2, 1), layers.BatchNormalization(), inner,
                                 layers.Flatten(), layers.Dense(2)], seed=0, dtype="float64")
    flat = fastann.Sequential([fastann.Input((4, 4, 2)), layers.Conv2D(2, 1), layers.BatchNormalization(),
                               layers.Activation("relu"), layers.Flatten(), layers.Dense(2)], seed=1, dtype="float64")
    flat.set_weights(nested.get_weights())
    x, y = rng.standard_normal((8, 4, 4, 2)), rng.standard_normal((8, 2))
    for model in (nested, flat):
        model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
        model.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(nested.get_weights(), flat.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_masks_of_padded_sequences_through_the_graph(rng):
    """Embedding(mask_zero=True) -> LSTM -> LSTM in a graph reads the masks as the same Sequential does (the
    same outputs for padded sequences); a mask reaching a merge layer is NotImplementedError."""
    idx = np.array([[4, 2, 7, 0, 0], [1, 0, 0, 0, 0], [3, 3, 3, 3, 3]])
    seq = fastann.Sequential([layers.Input((5,)), layers.Embedding(8, 3, mask_zero=True),
                              layers.LSTM(4, return_sequences=True), layers.LSTM(2)], seed=1, dtype="float64")
    inp = fastann.Input((5,))
    emb = layers.Embedding(8, 3, mask_zero=True)
    first, second = layers.LSTM(4, return_sequences=True), layers.LSTM(2)
    graph = fastann.Model(inp, second(first(emb(inp))), seed=2, dtype="float64")
    assert first.mask_source is emb and second.mask_source is emb
    graph.set_weights(seq.get_weights())
    np.testing.assert_allclose(graph.predict(idx), seq.predict(idx), rtol=1e-12, atol=1e-14)
    y = rng.standard_normal((3, 2))
    for model in (seq, graph):
        model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
        model.fit(idx, y, epochs=2, batch_size=2, shuffle=False, verbose=0)
    for a, b in zip(graph.get_weights(), seq.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    x2 = fastann.Input((5,))
    masked = layers.Embedding(8, 3, mask_zero=True)(x2)
    with pytest.raises(NotImplementedError, match="mask"):
        fastann.Model(x2, layers.LSTM(2)(layers.Add()([masked, masked])))
