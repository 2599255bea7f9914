"""Preprocessing layers with Keras's names and arguments: ``Rescaling`` and ``Normalization`` (with ``adapt``).

Both are affine maps per feature with no trainable weights; their backward passes the gradient through,
scaled by the same factor, so they may sit anywhere in a model (Keras differentiates through them too).
"""
from __future__ import annotations

import numbers

import numpy as np

from .base import Layer

__all__ = ["Normalization", "Rescaling"]

#: keras.backend.epsilon(): the floor of Normalization's standard deviation.
_KERAS_EPSILON = 1e-7


def _real_or_array(owner, name, v):
    if isinstance(v, bool) or isinstance(v, (str, bytes)):
        raise TypeError(f"{owner}: {name} must be a number or an array of numbers, got {v!r}")
    try:
        a = np.asarray(v.get() if hasattr(v, "get") and not isinstance(v, np.ndarray) else v, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must be a number or an array of numbers, got {v!r}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{owner}: {name} must be finite, got {v!r}")
    return a


class Rescaling(Layer):
    """``keras.layers.Rescaling``: ``y = x * scale + offset`` (e.g. ``Rescaling(1/255)`` for pixel values).

    Args:
        scale: a number, or an array broadcastable against the per-sample shape (NumPy's rules: aligned on
            the trailing axes, e.g. one value per channel of channels-last images).
        offset: likewise (default 0.0).
    Shapes: any (N, ...) float32/float64, output the same shape and dtype; no weights.
    Backward: dx = dy * scale. Raises TypeError for a non-numeric scale/offset, ValueError for a non-finite one
    or one that does not broadcast against the input.
    """

    def __init__(self, scale, offset=0.0, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, **kwargs)
        self.scale = _real_or_array("Rescaling", "scale", scale)
        self.offset = _real_or_array("Rescaling", "offset", offset)

    def _build(self, input_shape, rng):
        for name, v in (("scale", self.scale), ("offset", self.offset)):
            try:
                out = np.broadcast_shapes(v.shape, tuple(input_shape))
            except ValueError:
                out = None
            if out != tuple(input_shape):
                raise ValueError(f"{self.name}: {name} of shape {v.shape} does not broadcast against inputs of "
                                 f"per-sample shape {tuple(input_shape)}")

    def _as(self, v, x):
        return v.astype(x.dtype) if self.xp is np else self.xp.asarray(v, dtype=x.dtype)

    def forward(self, x, training=False):
        return x * self._as(self.scale, x) + self._as(self.offset, x)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        return grad_output * self._as(self.scale, grad_output)


class Normalization(Layer):
    """``keras.layers.Normalization``: ``y = (x - mean) / max(sqrt(variance), 1e-7)`` per feature, or its
    inverse ``y = mean + x * max(sqrt(variance), 1e-7)`` with ``invert=True``.

    Args:
        axis: the axis or axes that keep their own statistics (an int, a list/tuple of ints, or None: one
            mean and variance for everything); axes of the full input, the batch axis 0 excluded. Default -1:
            one mean and variance per feature of the last axis.
        mean, variance: given together (numbers or arrays aligned on the kept axes from the right, as Keras
            broadcasts them), or both None and set by :meth:`adapt`.
        invert: apply the inverse map.
    Weights (adapted form only, as Keras): ``mean`` and ``variance`` of shape ``tuple(input_shape[a] for a
        in sorted axes)`` and ``count``, an int64 scalar that Keras 3 keeps at 0 ("for backwards
        compatibility"), all non-trainable, in that order in get_weights/set_weights. With mean and
        variance given there are no weights.
    Shapes: any (N, ...) float32/float64; the output has the input's shape.
    Backward: dx = dy / max(sqrt(variance), 1e-7) (times it with invert).
    Raises ValueError for only one of mean/variance, shapes that differ, an axis out of range or the batch
    axis, and (forward) data of another shape than adapt saw.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, name=None, input_shape=None, **kwargs):
        super().__init__(name, input_shape=input_shape, **kwargs)
        if axis is None:
            axis = ()
        axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
        if any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes):
            raise TypeError(f"Normalization: axis must be None, an int or a list/tuple of ints, got {axis!r}")
        self.axis = tuple(int(a) for a in axes)
        if (mean is None) != (variance is None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be set. Received: "
                             f"mean={mean} and variance={variance}")
        self.input_mean = self.input_variance = None
        if mean is not None:
            self.input_mean = _real_or_array("Normalization", "mean", mean)
            self.input_variance = _real_or_array("Normalization", "variance", variance)
            if self.input_mean.shape != self.input_variance.shape:
                raise ValueError("When setting values directly, `mean` and `variance` must have the same shape. "
                                 f"Received: mean shape {self.input_mean.shape} and variance shape "
                                 f"{self.input_variance.shape}")
            if self.input_mean.ndim > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number of axes "
                                 f"({len(self.axis)}). Received: mean shape {self.input_mean.shape} for axis "
                                 f"{self.axis}")
        self.invert = bool(invert)
        self._x = None

    def _build(self, input_shape, rng):
        ndim = len(input_shape) + 1
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                             f"ndim={ndim}, while axis={self.axis}")
        keep = tuple(sorted(a % ndim for a in self.axis))
        if 0 in keep:
            raise ValueError(f"{self.name}: fastann keeps statistics per feature, not per batch position: "
                             f"axis must not include the batch axis 0, got {self.axis}")
        full = (1,) + tuple(input_shape)
        self._keep = keep
        self._reduce = tuple(d for d in range(ndim) if d not in keep)
        self._broadcast = tuple(full[d] if d in keep else 1 for d in range(ndim))
        self._stat_shape = tuple(full[d] for d in keep)
        if self.input_mean is None:
            # set directly, not through add_weight: its ascontiguousarray makes axis=None's () shape (1,)
            self.params["mean"] = self.xp.zeros(self._stat_shape, dtype=self.dtype)
            self.params["variance"] = self.xp.ones(self._stat_shape, dtype=self.dtype)
            self.params["count"] = self.xp.zeros((), dtype=np.int64)
            self.non_trainable.update(("mean", "variance", "count"))
        else:
            expanded = [1] * ndim
            m = self.input_mean
            for i in range(1, m.ndim + 1):
                expanded[keep[-i]] = m.shape[-i]
            try:
                self._given = tuple(np.broadcast_to(v.reshape(expanded), self._broadcast)
                                    for v in (self.input_mean, self.input_variance))
            except ValueError:
                raise ValueError(f"{self.name}: mean of shape {m.shape} does not match the kept axes {keep} of "
                                 f"inputs (N, {', '.join(map(str, input_shape))})") from None

    def _stats(self, dtype):
        """(mean, max(sqrt(variance), 1e-7)) in the broadcast shape, as arrays of ``dtype`` on the layer's device."""
        if self.input_mean is None:
            mean = self.params["mean"].reshape(self._broadcast)
            sd = self.xp.maximum(self.xp.sqrt(self.params["variance"].reshape(self._broadcast)), _KERAS_EPSILON)
            return mean.astype(dtype, copy=False), sd.astype(dtype, copy=False)
        mean, var = self._given
        sd = np.maximum(np.sqrt(var), _KERAS_EPSILON)
        return self.xp.asarray(mean, dtype=dtype), self.xp.asarray(sd, dtype=dtype)

    def adapt(self, data):
        """Set mean and variance (per position of the kept axes, over everything else) from ``data``: an
        (N, ...) array, or an iterable of such batches (combined as Keras does, weighted by their sizes).
        Builds the layer on its first call. Raises ValueError for data of another per-sample shape, for a layer
        built with mean and variance given, and for an empty iterable; TypeError for anything else."""
        if self.input_mean is not None:
            raise ValueError(f"{self.name}: adapt() needs a layer built without mean and variance")
        batches = [data] if hasattr(data, "shape") else None
        if batches is None:
            if not hasattr(data, "__iter__"):
                raise TypeError(f"{self.name}: adapt() takes an array or an iterable of batches, got "
                                f"{type(data).__name__}")
            batches = list(data)
            if not batches:
                raise ValueError(f"{self.name}: adapt() received an empty iterable (no batches)")
        batches = [np.asarray(b.get() if hasattr(b, "get") and not isinstance(b, np.ndarray) else b,
                              dtype=np.float64) for b in batches]
        if not self.built:
            self.build(batches[0].shape[1:], self.dtype, self.xp)
        total_mean = total_var = 0.0
        total = 0
        for b in batches:
            if b.ndim < 1 or tuple(b.shape[1:]) != self.input_shape:
                raise ValueError(f"{self.name}: the layer was built with input_shape (N, "
                                 f"{', '.join(map(str, self.input_shape))}), but adapt() got data of shape "
                                 f"{b.shape}")
            mean, var = b.mean(axis=self._reduce), b.var(axis=self._reduce)
            count = int(np.prod([b.shape[d] for d in self._reduce])) if self._reduce else 1
            total += count
            w = count / total
            new_mean = total_mean * (1 - w) + mean * w
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1 - w) + (var + (mean - new_mean) ** 2) * w
            total_mean = new_mean
        self.params["mean"][...] = self.xp.asarray(np.reshape(total_mean, self._stat_shape), dtype=self.dtype)
        self.params["variance"][...] = self.xp.asarray(np.reshape(total_var, self._stat_shape), dtype=self.dtype)

    def count_params(self) -> int:
        return int(sum(int(np.prod(p.shape)) for p in self.params.values()))

    def forward(self, x, training=False):
        mean, sd = self._stats(x.dtype)
        self._sd = sd
        return mean + x * sd if self.invert else (x - mean) / sd

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        sd = self._sd.astype(grad_output.dtype, copy=False)
        return grad_output * sd if self.invert else grad_output / sd
