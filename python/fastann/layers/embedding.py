"""Sequence-input layers (``keras.layers`` core): Embedding (integer tokens to vectors) and Masking, the two
layers that make a mask for padded sequences.

A mask is a boolean (N, T) array, True for the steps to use. The layer that makes one keeps it as
``output_mask`` after its forward; the recurrent layers after it read it there (``layers.base.link_masks``
wires who reads whose when the model plans its run) and skip the masked steps: such a step keeps the state
and the output of the step before, as in Keras, so a right-padded batch gives the same results as the
unpadded sequences.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import initializers, ops
from .base import Layer

__all__ = ["Embedding", "Masking"]


class Embedding(Layer):
    """``keras.layers.Embedding``: integer indices (N, ...) -> rows of a trained table, (N, ..., output_dim).

    Args (Keras 3's): input_dim (vocabulary size V, indices in [0, V)), output_dim (D),
    embeddings_initializer ("uniform", Keras's default: U[-0.05, 0.05]), mask_zero (index 0 is padding:
    the layer's ``output_mask`` is ``indices != 0`` and the recurrent layers after it skip those steps;
    index 0 still has a row, so V counts it), weights (an optional initial (V, D) table), input_length
    (Keras 2's, deprecated: warns and is ignored, as Keras 3). embeddings_regularizer,
    embeddings_constraint, lora_rank, lora_alpha: NotImplementedError unless None.

    Weights: [embeddings (V, D)]. The model casts its inputs to its float dtype, so the layer takes integer
    or float arrays holding whole numbers and converts them to int64 indices (as Keras casts to int).
    Forward is ``ops.embedding`` (a row gather), backward ``ops.embedding_backward`` (a deterministic
    scatter-add); there is no input gradient (indices are not differentiable: backward returns None).
    Raises ValueError for a non-positive input_dim/output_dim, indices outside [0, V) or not whole numbers,
    TypeError for a non-numeric input.
    """

    _UNIMPLEMENTED = {"embeddings_regularizer": (None,), "embeddings_constraint": (None,), "lora_rank": (None,),
                      "lora_alpha": (None,), "quantization_config": (None,)}

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False, weights=None,
                 name=None, **kwargs):
        for arg, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={v!r} "
                                 f"(of type {type(v).__name__}).")
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.", UserWarning, stacklevel=2)
        super().__init__(name, **kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        if isinstance(embeddings_initializer, str) and embeddings_initializer.lower() == "uniform":
            embeddings_initializer = "random_uniform"  # Keras's alias
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self._initial_weights = None if weights is None else np.asarray(weights)
        if self._initial_weights is not None and self._initial_weights.shape != (self.input_dim, self.output_dim):
            raise ValueError(f"{self.name}: weights must have shape ({self.input_dim}, {self.output_dim}), got "
                             f"{self._initial_weights.shape}")
        self.output_mask = None
        self._indices = None

    def build(self, input_shape, dtype=np.float32, xp=np, rng=None) -> None:
        """As Layer.build; integer inputs (the indices' dtype, when called on them directly) give a float32
        table."""
        super().build(input_shape, dtype if np.dtype(dtype).kind == "f" else np.float32, xp, rng)

    def _build(self, input_shape, rng):
        w = self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer, rng)
        if self._initial_weights is not None:
            w[...] = self.xp.asarray(self._initial_weights, dtype=w.dtype)
            self._initial_weights = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def mask_origin(self, incoming):
        return self if self.mask_zero else None

    def _as_indices(self, x):
        xp = self.xp
        if x.dtype.kind in "iu":
            return xp.ascontiguousarray(x, dtype=xp.int64)
        if x.dtype.kind != "f":
            raise TypeError(f"{self.name}: Embedding takes integer indices, got dtype {x.dtype}")
        idx = x.astype(xp.int64)
        if not bool((idx == x).all()):
            raise ValueError(f"{self.name}: Embedding takes whole-number indices, got non-integer values")
        return idx

    def forward(self, x, training=False):
        idx = self._as_indices(x)
        try:
            out = ops.embedding(idx, self.params["embeddings"])
        except ValueError as exc:
            raise ValueError(f"{self.name}: {exc}") from None
        self.output_mask = (idx != 0) if self.mask_zero else None
        self._indices = idx if training else None
        return out

    def backward(self, grad_output):
        """Sets grads["embeddings"] (V, D); returns None (indices have no gradient)."""
        self.grads["embeddings"] = ops.embedding_backward(self.xp.ascontiguousarray(grad_output), self._indices,
                                                          self.input_dim)
        return None


class Masking(Layer):
    """``keras.layers.Masking(mask_value=0.0)``: marks the steps of a sequence (N, T, F) whose every feature
    equals ``mask_value`` as padding. The output is the input with those steps set to zero (as Keras); its
    ``output_mask`` (N, T) is True where a step has some other value, and the recurrent layers after it skip
    the masked steps. The gradient passes to the kept steps only. ValueError for input that is not (N, T,
    F); TypeError for a non-real mask_value."""

    supports_masking = True

    def __init__(self, mask_value=0.0, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
            raise TypeError(f"Masking: mask_value must be a number, got {mask_value!r}")
        self.mask_value = float(mask_value)
        self.output_mask = None
        self._keep = None

    def _build(self, input_shape, rng):
        if len(input_shape) < 2:
            raise ValueError(f"{self.name}: Masking takes sequences (N, T, features), got per-sample shape "
                             f"{input_shape}")

    def mask_origin(self, incoming):
        return self

    def forward(self, x, training=False):
        keep = (x != self.mask_value).any(axis=-1)
        self.output_mask = keep
        self._keep = keep[..., None].astype(x.dtype)
        return x * self._keep

    def backward(self, grad_output):
        return grad_output * self._keep if self.need_input_grad else None
