"""Layer wrappers (``keras.layers``): Bidirectional (a recurrent layer run both ways over the sequence) and
TimeDistributed (a layer applied to every step of a sequence).

A wrapper owns its inner layers: it builds them, runs their forward and backward, and exposes their
parameters as its own (``params`` holds the inner layers' arrays themselves, under "forward/...",
"backward/..." or the inner name, so the optimizer updates the inner layers in place), in Keras's weight
order (Bidirectional: the forward layer's weights, then the backward layer's).
"""
from __future__ import annotations

import copy

from .base import Layer

__all__ = ["Bidirectional", "TimeDistributed"]

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class _Wrapper(Layer):
    """What the wrappers share: the inner layers' parameters and gradients as the wrapper's own."""

    def _inner(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _collect(self):
        self.params, self.non_trainable = {}, set()
        for prefix, layer in self._inner():
            for k, v in layer.params.items():
                self.params[prefix + k] = v
                if k in layer.non_trainable:
                    self.non_trainable.add(prefix + k)

    def _collect_grads(self):
        self.grads = {prefix + k: g for prefix, layer in self._inner() for k, g in layer.grads.items()}

    def _to_keras_layout(self, key, array):
        prefix, inner_key = self._split(key)
        return dict(self._inner())[prefix]._to_keras_layout(inner_key, array)

    def _from_keras_layout(self, key, array):
        prefix, inner_key = self._split(key)
        return dict(self._inner())[prefix]._from_keras_layout(inner_key, array)

    def _split(self, key):
        for prefix, _layer in self._inner():
            if key.startswith(prefix):
                return prefix, key[len(prefix):]
        raise KeyError(key)  # pragma: no cover

    def _move_to(self, xp):
        for _prefix, layer in self._inner():
            layer._move_to(xp)
        super()._move_to(xp)
        self._collect()  # the moved arrays


class Bidirectional(_Wrapper):
    """``keras.layers.Bidirectional(layer, merge_mode="concat", backward_layer=None)``: a SimpleRNN, LSTM or
    GRU run forward and, as a copy with go_backwards flipped (or ``backward_layer``), backward over the same
    sequence (Schuster & Paliwal 1997). With return_sequences the backward outputs are put back in time
    order before merging. merge_mode: "concat" (last axis 2*units), "sum", "mul", "ave", or None (a list
    [forward output, backward output]). return_state: [output(s)..., forward states..., backward states...].
    Weights: the forward layer's, then the backward layer's (Keras's order). Masks flow to both layers.

    Raises ValueError for an unknown merge_mode, a layer that is not recurrent (no go_backwards /
    return_sequences), a backward_layer whose return_sequences/return_state differ or whose go_backwards
    equals the layer's; TypeError for a non-Layer.
    """

    _UNIMPLEMENTED = {"weights": (None,)}

    def __init__(self, layer, merge_mode="concat", backward_layer=None, name=None, **kwargs):
        if not isinstance(layer, Layer) or not hasattr(layer, "go_backwards") or not hasattr(layer,
                                                                                             "return_sequences"):
            raise ValueError(f"Please initialize `Bidirectional` layer with a recurrent layer (SimpleRNN, LSTM, "
                             f"GRU). Received: {layer!r}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should be one of "
                             '{"sum", "mul", "ave", "concat", None}')
        if layer.built:
            raise ValueError("Bidirectional: pass a layer that is not built yet (it is copied for each direction)")
        super().__init__(name, **kwargs)
        self.forward_layer = copy.deepcopy(layer)
        self.forward_layer.name = "forward_" + layer.name.removeprefix("forward_")
        if backward_layer is None:
            self.backward_layer = copy.deepcopy(layer)
            self.backward_layer.go_backwards = not layer.go_backwards
            self.backward_layer.name = "backward_" + layer.name.removeprefix("backward_")
        else:
            if not isinstance(backward_layer, Layer) or not hasattr(backward_layer, "go_backwards"):
                raise ValueError(f"Bidirectional: backward_layer must be a recurrent layer, got {backward_layer!r}")
            self.backward_layer = backward_layer
            for attr in ("return_sequences", "return_state"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(f"Forward layer and backward layer should have the same {attr}; got "
                                     f"{getattr(layer, attr)} and {getattr(backward_layer, attr)}")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError("Forward layer and backward layer are expected to have different `go_backwards` "
                                 f"values, got {layer.go_backwards} for both")
        if self.forward_layer.return_sequences:  # Keras: masked steps output zeros in both directions
            self.forward_layer.zero_output_for_mask = self.backward_layer.zero_output_for_mask = True
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.mask_source = None

    def _inner(self):
        return [("forward/", self.forward_layer), ("backward/", self.backward_layer)]

    def _build(self, input_shape, rng):
        for _prefix, layer in self._inner():
            layer.build(input_shape, self.dtype, self.xp, rng)
        self._collect()

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            return tuple(shape[:-1]) + (shape[-1] + self.backward_layer.compute_output_shape(input_shape)[-1],)
        return tuple(shape)  # a list of two of these for merge_mode=None

    def mask_origin(self, incoming):
        return incoming if self.return_sequences else None

    def forward(self, x, training=False, mask=None):
        if mask is None and self.mask_source is not None:
            mask = self.mask_source.output_mask
        yf = self.forward_layer.forward(x, training, mask=mask)
        yb = self.backward_layer.forward(x, training, mask=mask)
        states = []
        if self.return_state:
            states = yf[1:] + yb[1:]
            yf, yb = yf[0], yb[0]
        if self.return_sequences:
            yb = yb[:, ::-1]
        self._cache = (yf, yb) if training else None
        xp = self.xp
        if self.merge_mode == "concat":
            out = xp.concatenate([yf, yb], axis=-1)
        elif self.merge_mode == "sum":
            out = yf + yb
        elif self.merge_mode == "ave":
            out = (yf + yb) / 2
        elif self.merge_mode == "mul":
            out = yf * yb
        else:
            out = [yf, xp.ascontiguousarray(yb)]
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + states
        return out

    def backward(self, grad_output):
        """Splits the gradient of the merged output between the two layers, runs their backward and returns
        the sum of their input gradients (N, T, F)."""
        yf, yb = self._cache
        xp = self.xp
        gs = list(grad_output) if self.return_state or self.merge_mode is None else [grad_output]
        n_out = 2 if self.merge_mode is None else 1
        g = gs[:n_out]
        if self.merge_mode == "concat":
            u = yf.shape[-1]
            gf, gb = g[0][..., :u], g[0][..., u:]
        elif self.merge_mode == "sum":
            gf = gb = g[0]
        elif self.merge_mode == "ave":
            gf = gb = g[0] / 2
        elif self.merge_mode == "mul":
            gf, gb = g[0] * yb, g[0] * yf
        else:
            gf, gb = g
        if self.return_sequences:
            gb = gb[:, ::-1]
        gf, gb = xp.ascontiguousarray(gf), xp.ascontiguousarray(gb)
        if self.return_state:
            k = (len(gs) - n_out) // 2
            gf, gb = [gf] + gs[n_out:n_out + k], [gb] + gs[n_out + k:]
        dx = self.forward_layer.backward(gf) + self.backward_layer.backward(gb)
        self._collect_grads()
        return dx


class TimeDistributed(_Wrapper):
    """``keras.layers.TimeDistributed(layer)``: applies ``layer`` to every step of (N, T, ...) by running it
    once on the N*T rows (N*T, ...) and reshaping back to (N, T, ...). The weights are the inner layer's.
    A mask passes through unchanged (Keras). Raises ValueError for inputs of fewer than 2 per-sample axes
    and TypeError for a non-Layer."""

    supports_masking = True

    def __init__(self, layer, name=None, **kwargs):
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed: layer must be a fastann Layer, got {layer!r}")
        super().__init__(name, **kwargs)
        self.layer = layer

    def _inner(self):
        return [("", self.layer)]

    def _build(self, input_shape, rng):
        if len(input_shape) < 2:
            raise ValueError(f"{self.name}: TimeDistributed takes inputs (N, T, ...), got per-sample shape "
                             f"{input_shape}")
        if not self.layer.built:
            self.layer.build(input_shape[1:], self.dtype, self.xp, rng)
        self._collect()

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(self.layer.compute_output_shape(input_shape[1:]))

    def forward(self, x, training=False):
        N, T = x.shape[:2]
        self._nt = (N, T)
        y = self.layer.forward(x.reshape((N * T,) + x.shape[2:]), training)
        return y.reshape((N, T) + y.shape[1:])

    def backward(self, grad_output):
        N, T = self._nt
        self.layer.need_input_grad = self.need_input_grad
        dx = self.layer.backward(grad_output.reshape((N * T,) + grad_output.shape[2:]))
        self._collect_grads()
        return None if dx is None else dx.reshape((N, T) + dx.shape[1:])
