"""Regularization layers: Dropout, GaussianNoise."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import ops
from .base import Layer

__all__ = ["Dropout", "GaussianNoise"]


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014): in training, each element is zeroed with probability
    ``rate`` and the kept ones scaled by 1/(1-rate); at inference it is the identity (``ops.dropout``).

    The mask is not stored: ``ops.dropout`` derives it from a counter-based hash of (seed, element index), so
    backward regenerates it. Each training call uses a new seed (base seed + call count); the base comes
    from ``seed`` or, when None, from the model's seeded generator, so the same model seed repeats a run.
    Raises ValueError for a rate outside [0, 1).
    """

    _UNIMPLEMENTED = {"noise_shape": (None,)}  # Keras arguments accepted only at their default

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


class GaussianNoise(Layer):
    """``keras.layers.GaussianNoise``: in training, y = x + stddev * e with e ~ N(0, 1) drawn per element;
    at inference the identity. Backward passes the gradient through (dy/dx = 1).

    The noise is drawn on the host from a NumPy generator seeded with (base seed + call count), the base
    from ``seed`` or, when None, from the model's seeded generator: the same model seed repeats a run, on
    every device (a GPU model copies the noise to the device).
    Args: stddev (a finite number >= 0), seed (int or None), and the base layer's keywords.
    Shapes: any (N, ...) float32/float64, output the same shape and dtype.
    Raises ValueError for a stddev that is negative or not a finite number.
    """

    def __init__(self, stddev, seed=None, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, numbers.Real) or not math.isfinite(stddev) \
                or stddev < 0:
            raise ValueError(f"GaussianNoise: stddev must be a finite number >= 0, got {stddev!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"GaussianNoise: seed must be an int or None, got {seed!r}")
        self.stddev = float(stddev)
        self.seed = seed
        self._base_seed = None if seed is None else int(seed)
        self._calls = 0

    def _build(self, input_shape, rng):
        if self._base_seed is None:
            self._base_seed = int(rng.integers(0, 2**62))

    def forward(self, x, training=False):
        if not training or self.stddev == 0.0:
            return x
        rng = np.random.default_rng(self._base_seed + self._calls)
        self._calls += 1
        noise = rng.standard_normal(x.shape, dtype=np.dtype(x.dtype).type)
        noise *= noise.dtype.type(self.stddev)
        return x + (noise if isinstance(x, np.ndarray) else self.xp.asarray(noise))

    def backward(self, grad_output):
        return grad_output if self.need_input_grad else None
