"""Regularization layers: Dropout, SpatialDropout2D, GaussianNoise."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import ops
from .base import ImageLayer, Layer

__all__ = ["Dropout", "SpatialDropout2D", "GaussianNoise"]


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

    #: Elementwise: works on any layout, so a model may pass it NCHW images between channels_last image layers.
    elementwise = True

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


class SpatialDropout2D(ImageLayer):
    """Dropout of whole feature maps (Tompson et al. 2015, "Efficient Object Localization Using
    Convolutional Networks"; Keras ``SpatialDropout2D``): in training each (sample, channel) plane is zeroed
    with probability ``rate`` and the kept ones scaled by 1/(1-rate); at inference it is the identity.

    The (N, C) mask is ``ops.dropout`` of ones (its counter-based hash of (seed, index), a new seed per
    training call as Dropout's) and is kept for backward (N*C values).
    Args: rate in [0, 1); data_format ("channels_last", "channels_first" or None:
        ``fastann.config.image_data_format()``); seed: None (from the model's seeded generator) or an int.
    Shapes: x (N, H, W, C) (channels_last), (N, C, H, W) (channels_first) or (N, H, W) (one channel), the
        output the same shape; float32/float64.
    Raises ValueError for a rate outside [0, 1).
    """

    _PREFIX = "spatial_dropout2d"

    _CONFIG_BASE_KEYS = ("name", "dtype")  # Keras's SpatialDropout2D takes no ``trainable``

    def __init__(self, rate, data_format=None, seed=None, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, data_format=data_format, **kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= rate < 1.0:
            raise ValueError(f"SpatialDropout2D: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self._base_seed = None if seed is None else int(seed)
        self._calls = 0
        self._mask = None

    def _build(self, input_shape, rng):
        self._chw(input_shape)  # images only
        if self._base_seed is None:
            self._base_seed = int(rng.integers(0, 2**62))

    def forward(self, x, training=False):
        x4 = self._enter(x)
        if not training or self.rate == 0.0:
            self._mask = None
            return self._leave(x4, x.ndim == 3)
        ones = self.xp.ones(x4.shape[:2], dtype=x4.dtype)
        self._mask = ops.dropout(ones, p=self.rate, training=True, seed=self._base_seed + self._calls)
        self._calls += 1
        self._x_ndim = x.ndim
        return self._leave(x4 * self._mask[:, :, None, None], x.ndim == 3)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        if self._mask is None:
            return grad_output
        g = self._grad_enter(grad_output)
        return self._grad_leave(g * self._mask[:, :, None, None], self._x_ndim == 3)


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
