"""Embedding, Masking, masks through the recurrent layers (padded batches), Bidirectional, TimeDistributed,
dropout / recurrent_dropout, stateful recurrent layers, and the summary's parameter counts."""
from __future__ import annotations

import numpy as np
import pytest

import fastann
from fastann import layers
from helpers import assert_close, numerical_grad

RNNS = [layers.SimpleRNN, layers.LSTM, layers.GRU]


def _built(layer, shape, dtype=np.float64, seed=0):
    layer.build(shape, dtype, np, np.random.default_rng(seed))
    return layer


# ---- Embedding ------------------------------------------------------------------------------------------
def test_embedding_layer_forward_backward_and_mask():
    emb = _built(layers.Embedding(10, 4, mask_zero=True), (5,), np.float32)
    assert emb.name.startswith("embedding") and emb.output_shape == (5, 4)
    w = emb.get_weights()[0]
    assert w.shape == (10, 4) and np.abs(w).max() <= 0.05  # Keras's "uniform": U[-0.05, 0.05]
    idx = np.array([[3, 1, 0, 0, 0], [9, 9, 9, 2, 0]])
    out = emb.forward(idx.astype(np.float32), training=True)  # a model hands it float32 whole numbers
    assert np.array_equal(out, w[idx])
    assert np.array_equal(emb.output_mask, idx != 0)
    g = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    assert emb.backward(g) is None
    ref = np.zeros((10, 4))
    np.add.at(ref, idx.reshape(-1), g.reshape(-1, 4))
    assert_close(emb.grads["embeddings"], ref, 1e-6)


def test_embedding_layer_errors_and_keras_arguments():
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 4)
    with pytest.raises(ValueError, match="output_dim"):
        layers.Embedding(4, 2.5)
    with pytest.warns(UserWarning, match="input_length"):
        layers.Embedding(4, 2, input_length=7)
    with pytest.raises(NotImplementedError, match="embeddings_regularizer"):
        layers.Embedding(4, 2, embeddings_regularizer="l2")
    emb = _built(layers.Embedding(4, 2, weights=np.arange(8.0).reshape(4, 2)), (3,))
    assert np.array_equal(emb.get_weights()[0], np.arange(8.0).reshape(4, 2))
    with pytest.raises(ValueError, match="out of range"):
        emb.forward(np.array([[0, 4, 1]]))
    with pytest.raises(ValueError, match="whole-number"):
        emb.forward(np.array([[0.5, 1, 1]]))
    assert emb.output_mask is None  # mask_zero=False
    called = layers.Embedding(5, 3)
    assert called(np.array([[1, 4]])).shape == (1, 2, 3) and called.dtype == np.float32  # int input, float table


# ---- Masking and masks through the recurrent layers --------------------------------------------------------
def test_masking_layer():
    m = _built(layers.Masking(mask_value=-1.0), (3, 2))
    x = np.array([[[1, 2], [-1, -1], [-1, 3]]], np.float64)
    y = m.forward(x, True)
    assert np.array_equal(m.output_mask, [[True, False, True]])
    assert np.array_equal(y, [[[1, 2], [0, 0], [-1, 3]]])
    assert np.array_equal(m.backward(np.ones_like(x)), [[[1, 1], [0, 0], [1, 1]]])


def _padded(rng, lens, T, F):
    x = rng.standard_normal((len(lens), T, F))
    for i, L in enumerate(lens):
        x[i, L:] = 0.0
    return x


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_padded_batch_trains_like_the_unpadded_sequences(cls, go_backwards, rng):
    """Masking -> RNN -> Dense: a right-padded batch gives each sequence's output and the summed gradients
    of the sequences run one by one without padding."""
    lens, T, F = [6, 3, 1, 4], 6, 3
    x = _padded(rng, lens, T, F)
    model = fastann.Sequential([layers.Input((T, F)), layers.Masking(), cls(5, go_backwards=go_backwards),
                                layers.Dense(2)], seed=0, dtype="float64")
    rnn, dense = model.layers[1], model.layers[2]
    assert rnn.mask_source is model.layers[0]
    y = model(x, training=True)
    g = rng.standard_normal(y.shape)
    rnn.backward(dense.backward(g))
    padded_grads = {k: v.copy() for k, v in rnn.grads.items()}
    total = {k: 0.0 for k in padded_grads}
    for i, L in enumerate(lens):
        # each sequence alone, unpadded: the layers run directly (the model is built for T steps), no mask
        yi = dense.forward(rnn.forward(x[i:i + 1, :L], True, mask=np.ones((1, L), bool)), True)
        assert_close(yi, y[i:i + 1], 1e-12, f"output of sequence {i}")
        rnn.backward(dense.backward(g[i:i + 1]))
        for k in total:
            total[k] = total[k] + rnn.grads[k]
    for k in total:
        assert_close(padded_grads[k], total[k], 1e-11, k)


@pytest.mark.parametrize("cls", RNNS)
def test_embedding_mask_zero_feeds_the_recurrent_layer(cls, rng):
    idx = np.array([[4, 2, 7, 0, 0], [1, 0, 0, 0, 0], [3, 3, 3, 3, 3]])
    model = fastann.Sequential([layers.Input((5,)), layers.Embedding(8, 3, mask_zero=True),
                                cls(4, return_sequences=True), cls(2)], seed=1, dtype="float64")
    model.compile("sgd", "mse")
    assert model.layers[1].mask_source is model.layers[0]
    assert model.layers[2].mask_source is model.layers[0]  # a sequence output keeps the mask
    full = model.predict(idx)
    for i, L in enumerate([3, 1, 5]):
        assert_close(model.predict(idx[i:i + 1, :L]) if L == 5 else _run(model, idx[i:i + 1, :L]), full[i:i + 1],
                     1e-12, f"sequence {i}")
    model.fit(idx, rng.standard_normal((3, 2)), epochs=2, batch_size=2, verbose=0)  # trains end to end


def _run(model, x):
    h = x.astype(np.float64)
    for layer in model.layers:
        h = layer.forward(h, False)
    return h


def test_masks_pass_through_masking_layers_only():
    """As Keras's compute_mask: Dense, Dropout, Activation, TimeDistributed pass a mask on; Reshape (no
    supports_masking) and a recurrent layer returning its last state stop it."""
    model = fastann.Sequential([layers.Input((4, 2)), layers.Masking(), layers.Dense(3), layers.Dropout(0.1),
                                layers.Activation("relu"), layers.TimeDistributed(layers.Dense(3)),
                                layers.LSTM(2, return_sequences=True), layers.GRU(2)])
    assert model.layers[6].mask_source is model.layers[0] and model.layers[5].mask_source is model.layers[0]
    model = fastann.Sequential([layers.Input((4, 2)), layers.Masking(), layers.Reshape((4, 2)), layers.LSTM(2)])
    assert model.layers[2].mask_source is None


# ---- Bidirectional ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_is_the_two_directions_merged(merge_mode, return_sequences, rng):
    x = rng.standard_normal((2, 4, 3))
    bi = _built(layers.Bidirectional(layers.GRU(3, return_sequences=return_sequences), merge_mode=merge_mode),
                (4, 3))
    f, b = bi.forward_layer, bi.backward_layer
    assert b.go_backwards and not f.go_backwards
    assert len(bi.get_weights()) == 6 and bi.count_params() == 2 * f.count_params()
    for got, want in zip(bi.get_weights(), f.get_weights() + b.get_weights()):  # Keras's order
        assert np.array_equal(got, want)
    yf, yb = f.forward(x), b.forward(x)
    if return_sequences:
        yb = yb[:, ::-1]
    want = {"concat": lambda: np.concatenate([yf, yb], -1), "sum": lambda: yf + yb, "mul": lambda: yf * yb,
            "ave": lambda: (yf + yb) / 2, None: lambda: [yf, yb]}[merge_mode]()
    got = bi.forward(x)
    for a, w in zip(got if merge_mode is None else [got], want if merge_mode is None else [want]):
        assert_close(a, w, 1e-14)
    if merge_mode is not None:
        assert got.shape[1:] == bi.output_shape


@pytest.mark.parametrize("merge_mode", ["concat", "mul", None])
def test_bidirectional_gradients(merge_mode, rng):
    x = rng.standard_normal((2, 3, 2))
    bi = _built(layers.Bidirectional(layers.LSTM(2, return_sequences=True), merge_mode=merge_mode), (3, 2))
    out = bi.forward(x, True)
    outs = out if merge_mode is None else [out]
    gs = [rng.standard_normal(o.shape) for o in outs]
    dx = bi.backward(gs if merge_mode is None else gs[0])

    def loss():
        y = bi.forward(x)
        return sum(float(np.sum(a * g)) for a, g in zip(y if merge_mode is None else [y], gs))

    assert_close(dx, numerical_grad(lambda: np.array(loss()), x, np.array(1.0)), 1e-7, "dx")
    for key in ("forward/kernel", "backward/recurrent_kernel", "backward/bias"):
        assert_close(bi.grads[key], numerical_grad(lambda: np.array(loss()), bi.params[key], np.array(1.0)),
                     1e-7, key)


def test_bidirectional_arguments_and_training(rng):
    with pytest.raises(ValueError, match="merge mode"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="recurrent layer"):
        layers.Bidirectional(layers.Dense(2))
    with pytest.raises(ValueError, match="go_backwards"):
        layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2))
    bi = layers.Bidirectional(layers.LSTM(2), backward_layer=layers.SimpleRNN(3, go_backwards=True))
    model = fastann.Sequential([layers.Input((4, 3)), bi, layers.Dense(1)], seed=0)
    assert model.output_shape == (1,) and bi.output_shape == (5,)
    model.compile("adam", "mse")
    x, y = rng.standard_normal((16, 4, 3)), rng.standard_normal((16, 1))
    loss0 = model.evaluate(x, y)
    model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert model.evaluate(x, y) < loss0


# ---- TimeDistributed ---------------------------------------------------------------------------------------
def test_time_distributed_dense(rng):
    td = _built(layers.TimeDistributed(layers.Dense(3, activation="tanh")), (5, 4))
    assert td.output_shape == (5, 3) and td.count_params() == 15
    x = rng.standard_normal((2, 5, 4))
    y = td.forward(x, True)
    k, b = td.layer.get_weights()
    assert_close(y, np.tanh(x @ k + b) if k.shape == (4, 3) else np.tanh(x @ k.T + b), 1e-13)
    g = rng.standard_normal(y.shape)
    dx = td.backward(g)
    assert dx.shape == x.shape and set(td.grads) == {"kernel", "bias"}
    assert_close(dx, numerical_grad(lambda: td.forward(x), x, g), 1e-7, "dx")


# ---- dropout and recurrent_dropout --------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kw", [(layers.LSTM, dict(dropout=0.3, recurrent_dropout=0.4)),
                                    (layers.SimpleRNN, dict(recurrent_dropout=0.5)),
                                    (layers.GRU, dict(dropout=0.5))])
def test_dropout_masks_are_per_sequence_and_gradients_exact(cls, kw, rng):
    x = rng.standard_normal((3, 4, 5))
    layer = _built(cls(3, return_sequences=True, **kw), (4, 5))
    plain = _built(cls(3, return_sequences=True), (4, 5))
    plain.set_weights(layer.get_weights())
    assert np.array_equal(layer.forward(x), plain.forward(x))  # inference: no dropout
    masks = {}
    real = layer._dropout_mask

    def fixed(rate, shape, dtype):  # draw once, then replay: finite differences need the same masks
        key = (rate, shape)
        if key not in masks:
            masks[key] = real(rate, shape, dtype)
        return masks[key]

    layer._dropout_mask = fixed
    y = layer.forward(x, training=True)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    for key, m in masks.items():  # one mask per sequence: (N, features), values 0 or 1/(1-rate)
        rate = key[0]
        assert set(np.unique(m)) <= {0.0, 1 / (1 - rate)} and m.shape[0] == 3
    assert_close(dx, numerical_grad(lambda: layer.forward(x, training=True), x, g), 1e-7, "dx")
    grads = dict(layer.grads)
    for k in ("kernel", "recurrent_kernel"):
        assert_close(grads[k], numerical_grad(lambda: layer.forward(x, training=True), layer.params[k], g),
                     1e-7, k)


def test_dropout_arguments():
    with pytest.raises(ValueError, match="dropout must be in"):
        layers.LSTM(2, dropout=1.0)
    with pytest.raises(ValueError, match="recurrent_dropout must be in"):
        layers.SimpleRNN(2, recurrent_dropout=-0.1)
    a = _built(layers.LSTM(2, dropout=0.5, seed=3), (3, 2), seed=0)
    b = _built(layers.LSTM(2, dropout=0.5, seed=3), (3, 2), seed=0)
    x = np.ones((4, 3, 2))
    assert np.array_equal(a.forward(x, True), b.forward(x, True))  # seed fixes the masks


# ---- stateful -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", RNNS)
def test_stateful_carries_the_state_between_batches(cls, rng):
    x = rng.standard_normal((2, 6, 3))
    whole = _built(cls(4, return_sequences=True), (6, 3))
    st = _built(cls(4, return_sequences=True, stateful=True), (3, 3))
    st.set_weights(whole.get_weights())
    y = whole.forward(x)
    y1, y2 = st.forward(np.ascontiguousarray(x[:, :3])), st.forward(np.ascontiguousarray(x[:, 3:]))
    assert_close(np.concatenate([y1, y2], 1), y, 1e-13)
    with pytest.raises(ValueError, match="stateful"):
        st.forward(np.ascontiguousarray(x[:1, :3]))
    st.reset_states()
    assert_close(st.forward(np.ascontiguousarray(x[:, :3])), y1, 0)
    # training: the gradient flows within the batch only (truncated backpropagation through time)
    st.forward(np.ascontiguousarray(x[:, :3]), True)
    assert st.backward(np.ones((2, 3, 4))).shape == (2, 3, 3)


# ---- summary --------------------------------------------------------------------------------------------------
def test_summary_counts_keras_parameters():
    model = fastann.Sequential([layers.Input((28, 28)), layers.LSTM(128), layers.Dense(10, activation="softmax")])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "80,384" in text and "(None, 128)" in text and "Total params: 81,674" in text
    assert model.layers[0].name.startswith("lstm")
    model = fastann.Sequential([layers.Input((28, 28)), layers.Bidirectional(layers.GRU(16, return_sequences=True)),
                                layers.TimeDistributed(layers.Dense(4)), layers.SimpleRNN(8)])
    assert [l.count_params() for l in model.layers] == [2 * 3 * 16 * (28 + 16 + 2), 33 * 4, 8 * (4 + 8 + 1)]
    assert model.layers[0].output_shape == (28, 32)


def test_bidirectional_return_state(rng):
    """Keras's order: [output, forward h, forward c, backward h, backward c]; gradients reach x through all."""
    x = rng.standard_normal((2, 3, 2))
    bi = _built(layers.Bidirectional(layers.LSTM(2, return_state=True)), (3, 2))
    out = bi.forward(x, True)
    assert len(out) == 5 and out[0].shape == (2, 4) and all(o.shape == (2, 2) for o in out[1:])
    assert np.array_equal(out[0], np.concatenate([out[1], out[3]], -1))  # the last states are the outputs
    gs = [rng.standard_normal(o.shape) for o in out]
    dx = bi.backward(gs)

    def loss():
        return np.array(sum(float(np.sum(a * g)) for a, g in zip(bi.forward(x), gs)))

    assert_close(dx, numerical_grad(loss, x, np.array(1.0)), 1e-7, "dx")


def test_bidirectional_with_a_padded_batch(rng):
    """The mask reaches both directions: each padded sequence's output equals its unpadded output."""
    lens, T, F = [5, 2, 3], 5, 2
    x = _padded(rng, lens, T, F)
    model = fastann.Sequential([layers.Input((T, F)), layers.Masking(), layers.Bidirectional(layers.GRU(3))],
                               seed=2, dtype="float64")
    bi = model.layers[1]
    assert bi.mask_source is model.layers[0]
    y = model.predict(x)
    for i, L in enumerate(lens):
        assert_close(bi.forward(x[i:i + 1, :L], mask=np.ones((1, L), bool)), y[i:i + 1], 1e-12, f"sequence {i}")
