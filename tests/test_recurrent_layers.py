"""SimpleRNN, LSTM, GRU layers against hand-written NumPy formulas in Keras's weight layout; gradients; a
small LSTM trained by Sequential; unimplemented arguments."""
from __future__ import annotations

import numpy as np
import pytest

from fastann import layers


def sig(x):
    return 1 / (1 + np.exp(-x))


def keras_formula(layer, x):
    """The layer's output from Keras's equations on its get_weights() (Keras gate order and layout)."""
    w = layer.get_weights()
    k, rk = w[0], w[1]
    b = w[2] if layer.use_bias else None
    u = layer.units
    N, T, _ = x.shape
    h, c = np.zeros((N, u)), np.zeros((N, u))
    seq = []
    for s in range(T):
        xt = x[:, T - 1 - s] if layer.go_backwards else x[:, s]
        if isinstance(layer, layers.LSTM):
            z = xt @ k + h @ rk + b
            i, f, g, o = sig(z[:, :u]), sig(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sig(z[:, 3 * u:])
            c = f * c + i * g
            h = o * np.tanh(c)
        elif isinstance(layer, layers.GRU):
            if layer.reset_after:
                xz, hz = xt @ k + b[0], h @ rk + b[1]
                zg, r = sig(xz[:, :u] + hz[:, :u]), sig(xz[:, u:2 * u] + hz[:, u:2 * u])
                hh = np.tanh(xz[:, 2 * u:] + r * hz[:, 2 * u:])
            else:
                xz = xt @ k + b
                zg = sig(xz[:, :u] + h @ rk[:, :u])
                r = sig(xz[:, u:2 * u] + h @ rk[:, u:2 * u])
                hh = np.tanh(xz[:, 2 * u:] + (r * h) @ rk[:, 2 * u:])
            h = zg * h + (1 - zg) * hh
        else:
            v = xt @ k + h @ rk + b
            h = np.tanh(v) if layer.activation == "tanh" else np.maximum(v, 0)
        seq.append(h)
    return np.stack(seq, 1) if layer.return_sequences else h


CASES = [lambda **kw: layers.SimpleRNN(5, **kw), lambda **kw: layers.SimpleRNN(5, activation="relu", **kw),
         lambda **kw: layers.LSTM(5, **kw), lambda **kw: layers.GRU(5, **kw),
         lambda **kw: layers.GRU(5, reset_after=False, **kw)]


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_forward_and_gradient_against_keras_formulas(case, return_sequences, go_backwards):
    r = np.random.default_rng(case)
    layer = CASES[case](return_sequences=return_sequences, go_backwards=go_backwards)
    x = r.standard_normal((3, 4, 2))
    layer.build(x.shape[1:], np.float64, rng=np.random.default_rng(1))
    layer.set_weights([w + 0.1 * r.standard_normal(w.shape) for w in layer.get_weights()])
    y = layer(x, training=True)
    np.testing.assert_allclose(y, keras_formula(layer, x), rtol=1e-12, atol=1e-12)
    # one SGD step's weight change equals -lr * d(sum(g*y))/dW by central differences on the formula
    g = r.standard_normal(y.shape)
    layer.backward(g)
    weights = layer.get_weights()
    lr = 0.1
    for idx, name in enumerate(layer.params):
        change = -lr * layer.grads[name]
        for _ in range(3):
            i = tuple(int(r.integers(s)) for s in weights[idx].shape)
            num = []
            for e in (1e-6, -1e-6):
                w2 = [w.copy() for w in weights]
                w2[idx][i] += e
                layer.set_weights(w2)
                num.append((keras_formula(layer, x) * g).sum())
            layer.set_weights(weights)
            assert abs(change[i] + lr * (num[0] - num[1]) / 2e-6) < 1e-7, (name, i)


def test_weight_shapes_and_counts():
    lstm = layers.LSTM(128)
    lstm.build((28, 28))
    assert lstm.count_params() == 80384
    assert [w.shape for w in lstm.get_weights()] == [(28, 512), (128, 512), (512,)]
    assert (lstm.get_weights()[2][128:256] == 1).all() and (lstm.get_weights()[2][:128] == 0).all()
    rk = lstm.get_weights()[1]
    np.testing.assert_allclose(rk @ rk.T, np.eye(128), atol=1e-4)
    gru = layers.GRU(4)
    gru.build((3, 2))
    assert [w.shape for w in gru.get_weights()] == [(2, 12), (4, 12), (2, 12)]
    gru = layers.GRU(4, reset_after=False)
    gru.build((3, 2))
    assert [w.shape for w in gru.get_weights()] == [(2, 12), (4, 12), (12,)]
    rnn = layers.SimpleRNN(4)
    rnn.build((3, 2))
    assert [w.shape for w in rnn.get_weights()] == [(2, 4), (4, 4), (4,)]


def test_return_state():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    out, h, c = layers.LSTM(3, return_sequences=True, return_state=True)(x)
    assert out.shape == (2, 3, 3) and h.shape == (2, 3) and c.shape == (2, 3)
    np.testing.assert_array_equal(out[:, -1], h)


@pytest.mark.parametrize("kw", [dict(unroll=True), dict(activation="sigmoid"),
                                dict(recurrent_activation="hard_sigmoid")])
def test_unimplemented_arguments_raise(kw):
    name = next(iter(kw))
    with pytest.raises(NotImplementedError, match=name):
        layers.LSTM(4, **kw)


def test_gru_recurrent_dropout_is_not_implemented():
    """The GRU's z * h_prev term takes the state without dropout, which the kernels' initial state cannot
    express: recurrent_dropout > 0 is refused for the GRU (LSTM and SimpleRNN take it)."""
    with pytest.raises(NotImplementedError, match="recurrent_dropout"):
        layers.GRU(4, recurrent_dropout=0.1)
    layers.GRU(4, recurrent_dropout=0.0, dropout=0.1)


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_unknown_arguments_are_keras_errors(cls):
    """Keras's own message for a keyword the layer does not have (mask_zero is Embedding's)."""
    with pytest.raises(ValueError, match=f"Unrecognized keyword arguments passed to {cls.__name__}"):
        cls(4, mask_zero=True)


@pytest.mark.parametrize("init_seed", [0, 1, 2])
def test_sequential_trains_a_small_lstm(init_seed):
    """A toy sequence task (is the sum of the sequence positive?) : the loss falls."""
    from fastann.models import Sequential

    r = np.random.default_rng(0)
    x = r.standard_normal((256, 8, 1)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.int64)
    model = Sequential([layers.LSTM(8, input_shape=(8, 1)), layers.Dense(2, activation="softmax")], seed=init_seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    hist = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    loss = hist.history["loss"]
    assert loss[-1] < 0.7 * loss[0], loss
