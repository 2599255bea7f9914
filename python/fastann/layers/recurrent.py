"""Recurrent layers (``keras.layers`` recurrent): SimpleRNN, LSTM, GRU over a whole sequence (``ops.rnn``).

Inputs (N, T, features) float32/float64. Weights are stored in Keras's layout and order (get_weights /
set_weights): kernel (F, G*units), recurrent_kernel (units, G*units) and bias, gates in Keras's order (LSTM
i, f, c, o; GRU z, r, h). Each call converts them to PyTorch's layout for the kernels (weight_ih = kernel^T,
GRU gate blocks swapped to r, z, n); docs/rnn.md gives the mapping. Outputs: (N, units) (the last state), or
(N, T, units) with return_sequences; with return_state a list [output, h_n] (LSTM: [output, h_n, c_n]).
Arguments fastann does not implement (dropout, recurrent_dropout, stateful, masking, other activations)
raise NotImplementedError naming them.
"""
from __future__ import annotations

import numbers

from .. import initializers, ops
from .base import Layer

__all__ = ["SimpleRNN", "LSTM", "GRU"]


class _Recurrent(Layer):
    _GATES = 1
    #: Keras arguments of the recurrent layers that fastann does not implement yet (accepted at Keras' default)
    _UNIMPLEMENTED = {"dropout": (0.0, 0), "recurrent_dropout": (0.0, 0), "stateful": (False,),
                      "unroll": (False,), "seed": (None,), "use_cudnn": ("auto",),
                      **{k: (None,) for k in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                                              "kernel_constraint", "recurrent_constraint", "bias_constraint")}}

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 return_sequences=False, return_state=False, go_backwards=False, name=None, rung=None, **kwargs):
        super().__init__(name, **kwargs)
        cls = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
            raise ValueError(f"{cls}: units must be a positive integer, got {units!r}")
        self.units, self.use_bias = int(units), bool(use_bias)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.rung = bool(go_backwards), rung
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

    def _add_bias(self, rng):
        self.add_weight("bias", (self._GATES * self.units,), self.bias_initializer, rng)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

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

    def forward(self, x, training=False):
        wi, wh, bi, bh = self._torch_weights()
        out, hn, cn, saved = ops.rnn(x, wi, wh, bi, bh, mode=self._MODE, go_backwards=self.go_backwards,
                                     rung=self.rung)
        if training:
            self._cache = (x, wi, wh, out, saved)
        y = out if self.return_sequences else hn
        if self.return_state:
            return [y, hn] + ([cn] if cn is not None else [])
        return y

    def backward(self, grad_output):
        """grad_output: d loss / d the output (a list matching forward's when return_state). Sets the
        gradients of kernel, recurrent_kernel, bias (Keras layout) and returns d loss / d x (N, T, F), or
        None when need_input_grad is False (its GEMM is then skipped)."""
        x, wi, wh, out, saved = self._cache
        gs = list(grad_output) if self.return_state else [grad_output]
        g_seq = gs[0] if self.return_sequences else None
        g_hn = None if self.return_sequences else gs[0]
        if self.return_state and gs[1] is not None:
            g_hn = gs[1] if g_hn is None else g_hn + gs[1]
        g_cn = gs[2] if self.return_state and len(gs) > 2 else None
        if g_hn is None:
            g_hn = self.xp.zeros((x.shape[0], self.units), x.dtype)
        dx, _dh0, _dc0, dwi, dwh, dbi, dbh = ops.rnn_backward(g_seq, g_hn, g_cn, x, wi, wh, out, saved,
                                                              mode=self._MODE, go_backwards=self.go_backwards,
                                                              rung=self.rung, need_input_grad=self.need_input_grad)
        self._keras_grads(dwi, dwh, dbi, dbh)
        return dx


class SimpleRNN(_Recurrent):
    """Elman RNN (keras.layers.SimpleRNN): h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias),
    activation "tanh" or "relu". Weights [kernel (F, u), recurrent_kernel (u, u), bias (u,)]."""

    _GATES = 1

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

    _GATES, _MODE = 4, "lstm"

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

    _GATES = 3

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
