"""fastann's SimpleRNN / LSTM / GRU (and Bidirectional) against PyTorch's nn.RNN / nn.LSTM / nn.GRU with the
weights mapped as docs/rnn.md describes: forward outputs and the weight changes of one SGD step, in float32,
within 2e-4 relative. Skipped where torch is not installed (it is never a dependency of fastann)."""
from __future__ import annotations

import numpy as np
import pytest

import fastann
from fastann import layers
from helpers import rel_err

torch = pytest.importorskip("torch", reason="the PyTorch comparison needs torch (tests run without it)")

TOL = 2e-4
CELLS = {"rnn": (layers.SimpleRNN, torch.nn.RNN), "lstm": (layers.LSTM, torch.nn.LSTM),
         "gru": (layers.GRU, torch.nn.GRU)}


def _perm(m, layer):
    """Keras's GRU gate blocks z, r, h <-> PyTorch's r, z, n along the first axis (the identity otherwise)."""
    if not isinstance(layer, layers.GRU):
        return m
    u = layer.units
    return np.concatenate([m[u:2 * u], m[:u], m[2 * u:]], axis=0)


def torch_state(layer, suffix=""):
    """The state dict of the PyTorch module equal to fastann ``layer`` (docs/rnn.md's mapping)."""
    w = layer.get_weights()
    kernel, rk = w[0], w[1]
    if isinstance(layer, layers.GRU):
        b_ih, b_hh = w[2][0], w[2][1]
    else:
        b_ih, b_hh = w[2], np.zeros_like(w[2])
    t = lambda a: torch.tensor(np.ascontiguousarray(_perm(a, layer)))  # noqa: E731
    return {f"weight_ih_l0{suffix}": t(kernel.T), f"weight_hh_l0{suffix}": t(rk.T), f"bias_ih_l0{suffix}": t(b_ih),
            f"bias_hh_l0{suffix}": t(b_hh)}


def keras_from_torch_grads(layer, grads, suffix=""):
    """PyTorch's weight gradients in Keras's layout and order (kernel, recurrent_kernel, bias)."""
    g = {k: v.detach().numpy() for k, v in grads.items()}
    kernel = _perm(g[f"weight_ih_l0{suffix}"], layer).T
    rk = _perm(g[f"weight_hh_l0{suffix}"], layer).T
    bi, bh = _perm(g[f"bias_ih_l0{suffix}"], layer), _perm(g[f"bias_hh_l0{suffix}"], layer)
    # Keras's single LSTM / SimpleRNN bias is PyTorch's bias_ih (bias_hh held at 0): its change is bias_ih's
    bias = np.stack([bi, bh]) if isinstance(layer, layers.GRU) else bi
    return [kernel, rk, bias]


def _torch_module(cls, F, H, bidirectional=False):
    kw = dict(nonlinearity="tanh") if cls is torch.nn.RNN else {}
    return cls(F, H, batch_first=True, bidirectional=bidirectional, **kw)


def _sgd_step(model, x, y, lr):
    """One SGD step of ``model`` on MSE; returns the weight changes (Keras layout)."""
    before = model.get_weights()
    model.compile(optimizer=fastann.optimizers.SGD(learning_rate=lr), loss="mse")
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return [a - b for a, b in zip(model.get_weights(), before)]


def _torch_sgd_step(mod, x, y, lr, select):
    params = dict(mod.named_parameters())
    out = select(mod(torch.tensor(x)))
    loss = torch.nn.functional.mse_loss(out, torch.tensor(y))
    loss.backward()
    return {k: -lr * p.grad for k, p in params.items()}, out.detach().numpy()


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_layer_matches_torch(cell, return_sequences, go_backwards):
    ours, theirs = CELLS[cell]
    rng = np.random.default_rng(7)
    N, T, F, H = 8, 7, 5, 6
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    model = fastann.Sequential([layers.Input((T, F)), ours(H, return_sequences=return_sequences,
                                                           go_backwards=go_backwards)], seed=3)
    layer = model.layers[0]
    if layer.use_bias:  # non-zero biases, so the bias mapping is exercised
        b = layer.get_weights()
        layer.set_weights(b[:2] + [rng.standard_normal(b[2].shape).astype(np.float32) * 0.3])
    mod = _torch_module(theirs, F, H)
    mod.load_state_dict(torch_state(layer))
    y = rng.standard_normal((N,) + model.output_shape).astype(np.float32)

    xt = x[:, ::-1].copy() if go_backwards else x  # Keras's go_backwards = PyTorch on the reversed sequence

    def select(res):
        out, h = res
        h_n = h[0] if isinstance(h, tuple) else h
        return out if return_sequences else h_n[0]

    deltas, out_t = _torch_sgd_step(mod, xt, y, 0.5, select)
    assert rel_err(model.predict(x, batch_size=N), out_t) < TOL
    ours_delta = _sgd_step(model, x, y, 0.5)
    want = keras_from_torch_grads(layer, deltas)
    for name, a, w in zip(("kernel", "recurrent_kernel", "bias"), ours_delta, want):
        assert rel_err(a, w) < TOL, name


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_torch(cell, return_sequences):
    ours, theirs = CELLS[cell]
    rng = np.random.default_rng(11)
    N, T, F, H = 6, 5, 4, 3
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    model = fastann.Sequential([layers.Input((T, F)),
                                layers.Bidirectional(ours(H, return_sequences=return_sequences))], seed=5)
    bi = model.layers[0]
    mod = _torch_module(theirs, F, H, bidirectional=True)
    state = {**torch_state(bi.forward_layer), **torch_state(bi.backward_layer, "_reverse")}
    mod.load_state_dict(state)
    y = rng.standard_normal((N,) + model.output_shape).astype(np.float32)

    def select(res):
        out, h = res
        h_n = h[0] if isinstance(h, tuple) else h
        return out if return_sequences else torch.cat([h_n[0], h_n[1]], dim=-1)

    deltas, out_t = _torch_sgd_step(mod, x, y, 0.5, select)
    assert rel_err(model.predict(x, batch_size=N), out_t) < TOL
    ours_delta = _sgd_step(model, x, y, 0.5)
    want = keras_from_torch_grads(bi.forward_layer, deltas) + keras_from_torch_grads(bi.backward_layer, deltas,
                                                                                     "_reverse")
    for i, (a, w) in enumerate(zip(ours_delta, want)):
        assert rel_err(a, w) < TOL, i


def test_embedding_matches_torch():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((20, 8)).astype(np.float32)
    idx = rng.integers(0, 20, (5, 7))
    g = rng.standard_normal((5, 7, 8)).astype(np.float32)
    wt = torch.tensor(w, requires_grad=True)
    out = torch.nn.functional.embedding(torch.tensor(idx), wt, padding_idx=3)
    out.backward(torch.tensor(g))
    assert np.array_equal(fastann.ops.embedding(idx, w, padding_idx=3), out.detach().numpy())
    assert rel_err(fastann.ops.embedding_backward(g, idx, 20, padding_idx=3), wt.grad.numpy()) < 1e-6
