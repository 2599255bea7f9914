"""fastann.reference: recurrent networks over a whole sequence in NumPy float64, forward and
backpropagation through time.

Layouts (PyTorch's weights, batch-first sequences): input (N,T,F); h0, c0 (N,H) or None (zeros); weight_ih
(G*H,F), weight_hh (G*H,H), bias_ih, bias_hh (G*H,) or None. Step s reads input[:, t] with t = s, or
t = T-1-s with go_backwards (the output stays in step order, as Keras's go_backwards). Cells, with
a_t = x_t W_ih^T + b_ih and b_t = h_{t-1} W_hh^T + b_hh cut into gate blocks of H columns:

    rnn_tanh / rnn_relu (Elman 1990)   h = act(a + b)
    lstm (i, f, g, o; Hochreiter & Schmidhuber 1997, Gers et al. 2000, torch.nn.LSTM)
        i, f, o = sigmoid(a_k + b_k), g = tanh(a_g + b_g), c = f*c_prev + i*g, h = o*tanh(c)
    gru (r, z, n; Cho et al. 2014 with the reset after the product: cuDNN, torch.nn.GRU, Keras reset_after)
        r, z = sigmoid(a_k + b_k), n = tanh(a_n + r*b_n), h = (1 - z)*n + z*h_prev
    gru_reset_before (Cho et al. 2014's own form, Keras reset_after=False)
        n = tanh(a_n + (r*h_prev) W_hn^T + b_hn), otherwise as gru

``saved`` (N,T,S*H), row (n, t) for the step that read input[:, t]: rnn h; lstm i,f,g,o,c; gru r,z,n and the
n gate's recurrent term (b_n, or (r*h_prev) W_hn^T + b_hn). The kernels write the same array and their
backward reads it, as this module's backward does.
"""
from __future__ import annotations

import numpy as np

from .._args.common import flag
from .._args.rnn import check_rnn, check_rnn_backward

__all__ = ["rnn", "rnn_backward"]


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _f64(a):
    return None if a is None else np.asarray(a, np.float64)


def rnn(input, weight_ih, weight_hh, bias_ih=None, bias_hh=None, h0=None, c0=None, mode="lstm",
        go_backwards=False, rung=None):
    """Forward over the sequence; returns (output (N,T,H), h_n (N,H), c_n (N,H) or None, saved (N,T,S*H)),
    all float64. ``rung`` is checked (None, 1 or 2) and has no other effect here. Errors: see
    fastann._args.rnn.check_rnn."""
    N, T, F, H, G, S = check_rnn("rnn", mode, input, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0,
                                 go_backwards, rung)
    x, wi, wh = _f64(input), _f64(weight_ih), _f64(weight_hh)
    bi = np.zeros(G * H) if bias_ih is None else _f64(bias_ih)
    bh = np.zeros(G * H) if bias_hh is None else _f64(bias_hh)
    h = np.zeros((N, H)) if h0 is None else _f64(h0).copy()
    c = np.zeros((N, H)) if c0 is None else _f64(c0).copy()
    out, saved = np.empty((N, T, H)), np.empty((N, T, S * H))
    for s in range(T):
        t = T - 1 - s if go_backwards else s
        a = x[:, t] @ wi.T + bi
        blk = lambda m, k: m[:, k * H:(k + 1) * H]  # noqa: E731
        if mode in ("rnn_tanh", "rnn_relu"):
            v = a + h @ wh.T + bh
            h = np.tanh(v) if mode == "rnn_tanh" else np.where(v > 0, v, v * 0)  # v * 0 keeps NaN
            saved[:, t] = h
        elif mode == "lstm":
            b = h @ wh.T + bh
            i, f = _sig(blk(a, 0) + blk(b, 0)), _sig(blk(a, 1) + blk(b, 1))
            g, o = np.tanh(blk(a, 2) + blk(b, 2)), _sig(blk(a, 3) + blk(b, 3))
            c = f * c + i * g
            h = o * np.tanh(c)
            saved[:, t] = np.concatenate([i, f, g, o, c], axis=1)
        else:
            b = h @ wh[:2 * H].T + bh[:2 * H]
            r, z = _sig(blk(a, 0) + blk(b, 0)), _sig(blk(a, 1) + blk(b, 1))
            if mode == "gru":
                bn = h @ wh[2 * H:].T + bh[2 * H:]
                n = np.tanh(blk(a, 2) + r * bn)
            else:
                bn = (r * h) @ wh[2 * H:].T + bh[2 * H:]
                n = np.tanh(blk(a, 2) + bn)
            h = (1 - z) * n + z * h
            saved[:, t] = np.concatenate([r, z, n, bn], axis=1)
        out[:, s] = h
    return out, h, (c if mode == "lstm" else None), saved


def rnn_backward(grad_output, grad_h_n, grad_c_n, input, weight_ih, weight_hh, output, saved, h0=None, c0=None,
                 mode="lstm", go_backwards=False, rung=None, need_input_grad=True):
    """Backpropagation through time (Werbos 1990) from rnn's output and saved arrays.

    grad_output (N,T,H), grad_h_n, grad_c_n (N,H) (lstm only) or None for zeros. Returns (dinput (N,T,F),
    dh0 (N,H), dc0 (N,H) or None, dweight_ih (G*H,F), dweight_hh (G*H,H), dbias_ih (G*H,), dbias_hh (G*H,)),
    float64. At each step, from the step's gradient dh (grad_output[:, s] plus what flows back from step s+1)
    the gate pre-activation gradients dA (input side) and dB (recurrent side) are formed; then
    dx_t = dA W_ih, dW_ih += dA^T x_t, dW_hh += dB^T h_prev, and dh_prev = dB W_hh + the element-wise part.
    need_input_grad=False returns None for dinput.
    """
    N, T, F, H, G, S = check_rnn_backward("rnn_backward", mode, grad_output, grad_h_n, grad_c_n, input, weight_ih,
                                          weight_hh, output, saved, h0, c0, go_backwards, rung)
    flag("rnn_backward", "need_input_grad", need_input_grad)
    x, wi, wh, out, sv = _f64(input), _f64(weight_ih), _f64(weight_hh), _f64(output), _f64(saved)
    go = np.zeros((N, T, H)) if grad_output is None else _f64(grad_output)
    dh = np.zeros((N, H)) if grad_h_n is None else _f64(grad_h_n).copy()
    dc = np.zeros((N, H)) if grad_c_n is None else _f64(grad_c_n).copy()
    h0_ = np.zeros((N, H)) if h0 is None else _f64(h0)
    c0_ = np.zeros((N, H)) if c0 is None else _f64(c0)
    dx, dwi, dwh = np.zeros((N, T, F)), np.zeros_like(wi), np.zeros_like(wh)
    dbi, dbh = np.zeros(G * H), np.zeros(G * H)
    tx = (lambda s: T - 1 - s) if go_backwards else (lambda s: s)
    for s in reversed(range(T)):
        t = tx(s)
        hp = h0_ if s == 0 else out[:, s - 1]
        dh = dh + go[:, s]
        g = [sv[:, t, k * H:(k + 1) * H] for k in range(S)]
        if mode in ("rnn_tanh", "rnn_relu"):
            da = dh * (1 - g[0] ** 2) if mode == "rnn_tanh" else np.where(g[0] > 0, dh, 0.0)
            db, dh_prev, hin = da, np.zeros((N, H)), [hp]
        elif mode == "lstm":
            i, f, gg, o, c = g
            cp = c0_ if s == 0 else sv[:, tx(s - 1), 4 * H:5 * H]
            tc = np.tanh(c)
            dct = dc + dh * o * (1 - tc ** 2)
            da = np.concatenate([dct * gg * i * (1 - i), dct * cp * f * (1 - f), dct * i * (1 - gg ** 2),
                                 dh * tc * o * (1 - o)], axis=1)
            dc = dct * f
            db, dh_prev, hin = da, np.zeros((N, H)), [hp]
        else:
            r, z, n, bn = g
            dn = dh * (1 - z) * (1 - n ** 2)
            dz = dh * (hp - n) * z * (1 - z)
            dh_prev = dh * z
            if mode == "gru":
                dr = dn * bn * r * (1 - r)
                da = np.concatenate([dr, dz, dn], axis=1)
                db = np.concatenate([dr, dz, dn * r], axis=1)
                hin = [hp]
            else:
                drh = dn @ wh[2 * H:]
                dr = drh * hp * r * (1 - r)
                dh_prev = dh_prev + drh * r
                da = db = np.concatenate([dr, dz, dn], axis=1)
                hin = [hp, r * hp]
        dx[:, t] = da @ wi
        dwi += da.T @ x[:, t]
        dbi += da.sum(0)
        dbh += db.sum(0)
        if len(hin) == 1:
            dwh += db.T @ hin[0]
            dh = dh_prev + db @ wh
        else:  # gru_reset_before: the n rows of W_hh multiply r * h_prev
            dwh[:2 * H] += db[:, :2 * H].T @ hin[0]
            dwh[2 * H:] += db[:, 2 * H:].T @ hin[1]
            dh = dh_prev + db[:, :2 * H] @ wh[:2 * H]
    return (dx if need_input_grad else None), dh, (dc if mode == "lstm" else None), dwi, dwh, dbi, dbh
