"""Regularization layers: Dropout."""
from __future__ import annotations

import numbers

from .. import ops
from .base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014): in training, each element is zeroed with probability
    ``rate`` and the kept ones scaled by 1/(1-rate); at inference it is the identity (``ops.dropout``).

    The mask is not stored: ``ops.dropout`` derives it from a counter-based hash of (seed, element index), so
    backward regenerates it. Each training call uses a new seed (base seed + call count); the base comes
    from ``seed`` or, when None, from the model's seeded generator, so the same model seed repeats a run.
    Raises ValueError for a rate outside [0, 1).
    """

    _UNIMPLEMENTED = {"noise_shape": (None,)}  # Keras arguments accepted only at their default
    supports_masking = True  # Keras: a sequence mask passes through

    def __init__(self, rate, seed=None, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, **kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self._base_seed = None if seed is None else int(seed)
        self._calls = 0
        self._active_seed = None

    def _build(self, input_shape, rng):
        if self._base_seed is None:
            self._base_seed = int(rng.integers(0, 2**62))

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._active_seed = None
            return x
        self._active_seed = self._base_seed + self._calls
        self._calls += 1
        return ops.dropout(x, p=self.rate, training=True, seed=self._active_seed)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        if self._active_seed is None:
            return grad_output
        return ops.dropout_backward(grad_output, self.rate, self._active_seed)
