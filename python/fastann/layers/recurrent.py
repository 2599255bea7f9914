"""Recurrent layers (``keras.layers`` recurrent): SimpleRNN, LSTM, GRU over a whole sequence (``ops.rnn``).

Inputs (N, T, features) float32/float64. Weights are stored in Keras's layout and order (get_weights /
set_weights): kernel (F, G*units), recurrent_kernel (units, G*units) and bias, gates in Keras's order (LSTM
i, f, c, o; GRU z, r, h). Each call converts them to PyTorch's layout for the kernels (weight_ih = kernel^T,
GRU gate blocks swapped to r, z, n); docs/rnn.md gives the mapping. Outputs: (N, units) (the last state), or
(N, T, units) with return_sequences; with return_state a list [output, h_n] (LSTM: [output, h_n, c_n]).

Masks (from Masking or Embedding(mask_zero=True), wired by ``layers.base.link_masks``, or the ``mask``
argument of forward): a masked step keeps the previous state and output, as Keras; such a batch runs one
step at a time. dropout / recurrent_dropout: one mask per sequence in training (Keras); recurrent_dropout
also runs step by step and is refused for the GRU. stateful=True carries the last state to the next batch
(reset_states()). Arguments fastann does not implement (unroll, regularizers, constraints, other
activations) raise NotImplementedError naming them.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import initializers, ops
from .base import Layer

__all__ = ["SimpleRNN", "LSTM", "GRU"]


class _Recurrent(Layer):
    _GATES = 1
    #: Keras arguments of the recurrent layers that fastann does not implement yet (accepted at Keras' default)
    _UNIMPLEMENTED = {"unroll": (False,), "use_cudnn": ("auto",)}
    #: regularizers and constraints per weight (``Layer._WEIGHT_ARGS``), on the Keras-layout weights
    _WEIGHT_ARGS = {"kernel": ("kernel_regularizer", "kernel_constraint"),
                    "recurrent_kernel": ("recurrent_regularizer", "recurrent_constraint"),
                    "bias": ("bias_regularizer", "bias_constraint")}
    #: whether recurrent_dropout can be applied through the kernels' initial state (not for the GRU, whose
    #: z * h_prev term takes the state without dropout)
    _RECURRENT_DROPOUT = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, zero_output_for_mask=False, name=None, rung=None, **kwargs):
        """Keras's arguments (the cells add activation checks and their own: unit_forget_bias, reset_after).
        dropout, recurrent_dropout in [0, 1) (ValueError otherwise); seed: None or an int for their masks
        (TypeError otherwise); zero_output_for_mask: a masked step outputs zeros instead of the previous
        output; rung: the kernels' ladder step (ops.rnn). ValueError for units that is not a positive int."""
        super().__init__(name, **kwargs)
        cls = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
            raise ValueError(f"{cls}: units must be a positive integer, got {units!r}")
        self.units, self.use_bias = int(units), bool(use_bias)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        for arg, v in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 <= v < 1.0:
                raise ValueError(f"{cls}: {arg} must be in [0, 1), got {v!r}")
        if recurrent_dropout and not self._RECURRENT_DROPOUT:
            raise NotImplementedError(f"{cls}: fastann does not implement the Keras argument recurrent_dropout="
                                      f"{recurrent_dropout!r} for this cell (accepted: 0.0)")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"{cls}: seed must be None or an int, got {seed!r}")
        self.dropout, self.recurrent_dropout, self.seed = float(dropout), float(recurrent_dropout), seed
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.rung = bool(go_backwards), bool(stateful), rung
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.mask_source = None  # the layer whose output_mask masks this layer's input (layers.base.link_masks)
        self.states = None       # stateful: [h] or [h, c] carried from batch to batch
        self._rng = None
        self._cache = None

    def _build(self, input_shape, rng):
        if len(input_shape) != 2:
            raise ValueError(f"{self.name}: {type(self).__name__} takes inputs of shape (N, T, features), got "
                             f"per-sample shape {input_shape}")
        G, u = self._GATES, self.units
        self.add_weight("kernel", (input_shape[1], G * u), self.kernel_initializer, rng)
        self.add_weight("recurrent_kernel", (u, G * u), self.recurrent_initializer, rng)
        if self.use_bias:
            self._add_bias(rng)
        if self.dropout or self.recurrent_dropout:  # only then: a layer without dropout draws nothing more
            self._rng = np.random.default_rng(self.seed if self.seed is not None else int(rng.integers(0, 2**62)))

    def _add_bias(self, rng):
        self.add_weight("bias", (self._GATES * self.units,), self.bias_initializer, rng)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def mask_origin(self, incoming):
        """A sequence output keeps its input's mask (Keras); the last state has none."""
        return incoming if self.return_sequences else None

    def reset_states(self, states=None):
        """Keras's reset_states for stateful=True: the carried states back to zeros (None), or to ``states``
        ([h] or [h, c] for the LSTM, each (N, units))."""
        if states is not None:
            states = [self.xp.asarray(s, dtype=self.dtype) for s in states]
            if len(states) != (2 if self._MODE == "lstm" else 1):
                raise ValueError(f"{self.name}: reset_states takes {2 if self._MODE == 'lstm' else 1} states, "
                                 f"got {len(states)}")
        self.states = states

    reset_state = reset_states

    # Keras layout <-> the kernels' (PyTorch) layout; the GRU overrides the gate order and biases.
    def _perm(self, m):
        return m

    def _torch_weights(self):
        p, xp = self.params, self.xp
        wi = xp.ascontiguousarray(self._perm(p["kernel"].T))
        wh = xp.ascontiguousarray(self._perm(p["recurrent_kernel"].T))
        b = p.get("bias")
        return wi, wh, (None if b is None else xp.ascontiguousarray(self._perm(b))), None

    def _keras_grads(self, dwi, dwh, dbi, dbh):
        xp = self.xp
        self.grads["kernel"] = xp.ascontiguousarray(self._perm(dwi).T)
        self.grads["recurrent_kernel"] = xp.ascontiguousarray(self._perm(dwh).T)
        if self.use_bias:
            self.grads["bias"] = self._perm(dbi)

    def _dropout_mask(self, rate, shape, dtype):
        """Keras's one dropout mask per sequence: (N, features) of 0 and 1/(1-rate), drawn on the host."""
        keep = self._rng.random(shape) >= rate
        return self.xp.asarray(keep.astype(dtype) / dtype.type(1.0 - rate))

    def _initial_states(self, n):
        if not self.stateful or self.states is None:
            return None, None
        if self.states[0].shape[0] != n:
            raise ValueError(f"{self.name}: a stateful layer takes batches of {self.states[0].shape[0]} sequences "
                             f"(the size of its carried state), got {n}; call reset_states() to change it")
        return self.states[0], (self.states[1] if len(self.states) > 1 else None)

    def forward(self, x, training=False, mask=None):
        """x (N, T, F) -> (N, units) or (N, T, units) (see the module); ``mask`` (N, T) bool, or None to use
        the mask of ``mask_source`` (a Masking or Embedding(mask_zero=True) before it), if any."""
        xp = self.xp
        if mask is None and self.mask_source is not None:
            mask = self.mask_source.output_mask
        if mask is not None:
            mask = xp.asarray(mask, dtype=bool)
            if mask.shape != x.shape[:2]:
                raise ValueError(f"{self.name}: the mask must have shape (N, T) = {x.shape[:2]}, got {mask.shape}")
            if bool(mask.all()):
                mask = None
        N = x.shape[0]
        drop = self._dropout_mask(self.dropout, (N, x.shape[2]), x.dtype) if training and self.dropout else None
        rdrop = (self._dropout_mask(self.recurrent_dropout, (N, self.units), x.dtype)
                 if training and self.recurrent_dropout else None)
        xin = x * drop[:, None, :] if drop is not None else x
        h0, c0 = self._initial_states(N)
        wi, wh, bi, bh = self._torch_weights()
        if mask is None and rdrop is None:
            out, hn, cn, saved = ops.rnn(xin, wi, wh, bi, bh, h0=h0, c0=c0, mode=self._MODE,
                                         go_backwards=self.go_backwards, rung=self.rung)
            steps = None
        else:
            out, hn, cn, steps = self._forward_steps(xin, wi, wh, bi, bh, h0, c0, mask, rdrop)
            saved = None
        if self.stateful:
            self.states = [hn.copy()] + ([cn.copy()] if cn is not None else [])
        self._cache = (xin, wi, wh, out, saved, h0, c0, drop, rdrop, mask, steps) if training else None
        y = out if self.return_sequences else hn
        if self.return_state:
            return [y, hn] + ([cn] if cn is not None else [])
        return y

    def _forward_steps(self, x, wi, wh, bi, bh, h0, c0, mask, rdrop):
        """The sequence one step at a time (one ops.rnn call of T = 1 each), for a mask or recurrent dropout:
        a masked step keeps the previous state (and output: the previous one, or zeros with
        zero_output_for_mask); recurrent dropout multiplies the state fed to the recurrent product."""
        xp = self.xp
        N, T, _ = x.shape
        lstm = self._MODE == "lstm"
        h = h0 if h0 is not None else xp.zeros((N, self.units), x.dtype)
        c = (c0 if c0 is not None else xp.zeros((N, self.units), x.dtype)) if lstm else None
        out = xp.empty((N, T, self.units), x.dtype)
        prev_out = xp.zeros((N, self.units), x.dtype)
        steps = []
        for s in range(T):
            t = T - 1 - s if self.go_backwards else s
            xt = xp.ascontiguousarray(x[:, t:t + 1])
            hin = h * rdrop if rdrop is not None else h
            o, hn, cn, sv = ops.rnn(xt, wi, wh, bi, bh, h0=hin, c0=c, mode=self._MODE, rung=self.rung)
            steps.append((t, xt, hin, c, o, sv))
            if mask is not None:
                m = mask[:, t:t + 1]
                h = xp.where(m, hn, h)
                c = xp.where(m, cn, c) if lstm else None
                prev_out = xp.where(m, hn, 0 if self.zero_output_for_mask else prev_out)
            else:
                h, c, prev_out = hn, cn, hn
            out[:, s] = prev_out
        return out, h, c, steps

    def backward(self, grad_output):
        """grad_output: d loss / d the output (a list matching forward's when return_state). Sets the
        gradients of kernel, recurrent_kernel, bias (Keras layout) and returns d loss / d x (N, T, F), or
        None when need_input_grad is False (its GEMM is then skipped)."""
        xin, wi, wh, out, saved, h0, c0, drop, rdrop, mask, steps = self._cache
        gs = list(grad_output) if self.return_state else [grad_output]
        g_seq = gs[0] if self.return_sequences else None
        g_hn = None if self.return_sequences else gs[0]
        if self.return_state and gs[1] is not None:
            g_hn = gs[1] if g_hn is None else g_hn + gs[1]
        g_cn = gs[2] if self.return_state and len(gs) > 2 else None
        if g_hn is None:
            g_hn = self.xp.zeros((xin.shape[0], self.units), xin.dtype)
        if steps is None:
            dx, _dh0, _dc0, dwi, dwh, dbi, dbh = ops.rnn_backward(
                g_seq, g_hn, g_cn, xin, wi, wh, out, saved, h0=h0, c0=c0, mode=self._MODE,
                go_backwards=self.go_backwards, rung=self.rung,
                need_input_grad=self.need_input_grad)
        else:
            dx, dwi, dwh, dbi, dbh = self._backward_steps(g_seq, g_hn, g_cn, xin, wi, wh, mask, rdrop, steps)
        self._keras_grads(dwi, dwh, dbi, dbh)
        if not self.need_input_grad:
            return None
        return dx * drop[:, None, :] if drop is not None else dx

    def _backward_steps(self, g_seq, g_hn, g_cn, x, wi, wh, mask, rdrop, steps):
        """Backpropagation through time of _forward_steps, step by step in reverse (ops.rnn_backward of T = 1
        each); the weight gradients are summed over the steps in a fixed order."""
        xp = self.xp
        lstm = self._MODE == "lstm"
        dh = g_hn
        dc = (g_cn if g_cn is not None else xp.zeros_like(g_hn)) if lstm else None
        dout = xp.zeros_like(g_hn)  # with a mask: the gradient reaching a step's output through later outputs
        dx = xp.empty(x.shape, x.dtype)
        dwi = dwh = dbi = dbh = None
        for s in range(len(steps) - 1, -1, -1):
            t, xt, hin, c_prev, o, sv = steps[s]
            g = g_seq[:, s] if g_seq is not None else None
            if mask is None:
                dh_step = dh + g if g is not None else dh
                dc_step, dh_keep, dc_keep = dc, None, None
            else:
                m = mask[:, t:t + 1]
                dout = dout + g if g is not None else dout
                dh_step = xp.where(m, dh + dout, 0)
                dh_keep = xp.where(m, 0, dh)
                dout = xp.where(m, 0, dout if not self.zero_output_for_mask else 0)
                dc_step = xp.where(m, dc, 0) if lstm else None
                dc_keep = xp.where(m, 0, dc) if lstm else None
            dxt, dh0, dc0, dwi_t, dwh_t, dbi_t, dbh_t = ops.rnn_backward(
                None, xp.ascontiguousarray(dh_step), dc_step if dc_step is None else xp.ascontiguousarray(dc_step),
                xt, wi, wh, o, sv, h0=hin, c0=c_prev, mode=self._MODE, rung=self.rung)
            dx[:, t] = dxt[:, 0]
            dh = dh0 * rdrop if rdrop is not None else dh0
            if dh_keep is not None:
                dh = dh + dh_keep
            if lstm:
                dc = dc0 + dc_keep if dc_keep is not None else dc0
            if dwi is None:
                dwi, dwh, dbi, dbh = dwi_t, dwh_t, dbi_t, dbh_t
            else:
                dwi, dwh, dbi, dbh = dwi + dwi_t, dwh + dwh_t, dbi + dbi_t, dbh + dbh_t
        return dx, dwi, dwh, dbi, dbh


class SimpleRNN(_Recurrent):
    """Elman RNN (keras.layers.SimpleRNN): h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias),
    activation "tanh" or "relu". Weights [kernel (F, u), recurrent_kernel (u, u), bias (u,)]."""

    _GATES, _PREFIX = 1, "simple_rnn"

    def __init__(self, units, activation="tanh", **kw):
        super().__init__(units, activation=activation, **kw)
        if activation not in ("tanh", "relu"):
            raise NotImplementedError(f"SimpleRNN: activation={activation!r} is not implemented by fastann yet "
                                      "(tanh, relu)")
        self._MODE = "rnn_" + activation


class LSTM(_Recurrent):
    """LSTM (keras.layers.LSTM): gates i, f, c, o; c_t = f*c_{t-1} + i*tanh(.), h_t = o*tanh(c_t).
    Weights [kernel (F, 4u), recurrent_kernel (u, 4u), bias (4u,)]; unit_forget_bias sets the forget gate's
    bias to 1 at build (Jozefowicz et al. 2015). activation "tanh", recurrent_activation "sigmoid" only."""

    _GATES, _MODE, _PREFIX = 4, "lstm", "lstm"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kw):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kw)
        _only_tanh_sigmoid("LSTM", activation, recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _add_bias(self, rng):
        b = self.add_weight("bias", (4 * self.units,), self.bias_initializer, rng)
        if self.unit_forget_bias:
            b[self.units:2 * self.units] = 1


class GRU(_Recurrent):
    """GRU (keras.layers.GRU): gates z, r, h (Keras order). reset_after=True (default, cuDNN / PyTorch form):
    weights [kernel (F, 3u), recurrent_kernel (u, 3u), bias (2, 3u)] (row 0 the input bias, row 1 the
    recurrent one); reset_after=False (Cho et al. 2014): bias (3u,)."""

    _GATES, _PREFIX, _RECURRENT_DROPOUT = 3, "gru", False

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, **kw):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kw)
        _only_tanh_sigmoid("GRU", activation, recurrent_activation)
        self.reset_after = bool(reset_after)
        self._MODE = "gru" if self.reset_after else "gru_reset_before"

    def _add_bias(self, rng):
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self.add_weight("bias", shape, self.bias_initializer, rng)

    def _perm(self, m):  # Keras z, r, h <-> PyTorch r, z, n along the first axis (its own inverse)
        u = self.units
        return self.xp.concatenate([m[u:2 * u], m[:u], m[2 * u:]], axis=0)

    def _torch_weights(self):
        if not (self.use_bias and self.reset_after):
            return super()._torch_weights()
        wi, wh = self._torch_matrices()
        b, xp = self.params["bias"], self.xp
        return wi, wh, xp.ascontiguousarray(self._perm(b[0])), xp.ascontiguousarray(self._perm(b[1]))

    def _torch_matrices(self):
        p, xp = self.params, self.xp
        return (xp.ascontiguousarray(self._perm(p["kernel"].T)),
                xp.ascontiguousarray(self._perm(p["recurrent_kernel"].T)))

    def _keras_grads(self, dwi, dwh, dbi, dbh):
        super()._keras_grads(dwi, dwh, dbi, dbh)
        if self.use_bias and self.reset_after:
            self.grads["bias"] = self.xp.stack([self._perm(dbi), self._perm(dbh)])


def _only_tanh_sigmoid(cls, activation, recurrent_activation):
    if activation != "tanh":
        raise NotImplementedError(f"{cls}: activation={activation!r} is not implemented by fastann yet (tanh)")
    if recurrent_activation != "sigmoid":
        raise NotImplementedError(f"{cls}: recurrent_activation={recurrent_activation!r} is not implemented by "
                                  "fastann yet (sigmoid)")
