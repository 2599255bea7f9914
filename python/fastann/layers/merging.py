"""Merging layers (``keras.layers`` merging family): ``Add``, ``Subtract``, ``Multiply``, ``Average``,
``Maximum``, ``Concatenate``. Each takes a LIST of inputs, in the Functional API:

    x = layers.Input((64,))
    h = layers.Dense(64, activation="relu")(x)
    y = layers.Add()([x, h])                 # a residual connection

and on arrays: ``layers.Add()([a, b])``. Backward returns the list of input gradients, in input order.
The math is elementwise NumPy/CuPy arithmetic on the arrays' own module (no reduction across samples):
y = x1 + ... + xn (dy/dxi = 1), x1 - x2 (1, -1), x1 * ... * xn (the product of the others),
(x1 + ... + xn) / n (1/n), max(x1, ..., xn) (1 where xi is the maximum, the first one on ties, as
Keras's pairwise ``maximum`` reduction gives it), and concatenation along ``axis`` (the gradient split back).
"""
from __future__ import annotations

import numbers

import numpy as np

from .base import Layer, _array_module, is_symbolic

__all__ = ["Add", "Average", "Concatenate", "Maximum", "Multiply", "Subtract"]


class _Merge(Layer):
    """Base of the merge layers: several inputs (a list of 2 or more arrays of the same dtype), one output.

    Shapes: a list of (N, *shape_i) float32/float64 arrays; the elementwise merges need equal shapes
    (ValueError naming the layer and the shapes otherwise), Concatenate equal shapes except on its axis.
    TypeError for an input that is not a list of 2+ arrays/KerasTensors."""

    _MIN_INPUTS = 2
    _MAX_INPUTS = None

    def __init__(self, name=None, **kwargs):
        super().__init__(name, **kwargs)
        self._saved = None

    def _check_count(self, n):
        cls = type(self).__name__
        if n < self._MIN_INPUTS or (self._MAX_INPUTS is not None and n > self._MAX_INPUTS):
            exact = self._MAX_INPUTS == self._MIN_INPUTS
            raise ValueError(f"{cls} ({self.name}): takes {'exactly' if exact else 'at least'} "
                             f"{self._MIN_INPUTS} inputs, got {n}")

    def build(self, input_shape, dtype=np.float32, xp=np, rng=None) -> None:
        """Check the list of per-sample input shapes and fix the output shape (no parameters)."""
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
                isinstance(s, (list, tuple)) for s in input_shape):
            raise TypeError(f"{type(self).__name__} ({self.name}): takes a list of inputs, got one input of "
                            f"per-sample shape {input_shape}")
        shapes = [tuple(int(d) for d in s) for s in input_shape]
        self._check_count(len(shapes))
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{self.name}: layers compute in float32 or float64, got dtype {dtype}")
        self.output_shape = tuple(self.compute_output_shape(shapes))
        self.input_shape, self.dtype, self.xp = shapes, dtype, xp
        self.built = True

    def compute_output_shape(self, input_shape):
        first = tuple(input_shape[0])
        for s in input_shape[1:]:
            if tuple(s) != first:
                raise ValueError(f"{type(self).__name__} ({self.name}): inputs must have the same shape, got "
                                 f"{', '.join(str((None,) + tuple(t)) for t in input_shape)}")
        return first

    def __call__(self, inputs, training=False):
        """On a list of KerasTensors: a node of the graph. On a list of arrays: build on the first call,
        check the shapes, run forward."""
        if is_symbolic(inputs):
            return self.call_symbolic(inputs)
        if not isinstance(inputs, (list, tuple)) or not all(hasattr(a, "shape") for a in inputs):
            raise TypeError(f"{type(self).__name__} ({self.name}): takes a list of arrays, got "
                            f"{type(inputs).__name__}")
        shapes = [tuple(a.shape[1:]) for a in inputs]
        if not self.built:
            self.build(shapes, inputs[0].dtype, _array_module(inputs[0]))
        if len({a.shape[0] for a in inputs}) != 1 or shapes != self.input_shape:
            raise ValueError(f"{self.name}: expected inputs of per-sample shapes {self.input_shape} and one batch "
                             f"size, got {[tuple(a.shape) for a in inputs]}")
        return self.forward(list(inputs), training)

    def _grads(self, grads):
        return grads if self.need_input_grad else None


class Add(_Merge):
    """``keras.layers.Add``: the elementwise sum of the inputs (equal shapes)."""

    def forward(self, inputs, training=False):
        self._saved = len(inputs)
        y = inputs[0] + inputs[1]
        for x in inputs[2:]:
            y += x
        return y

    def backward(self, grad_output):
        return self._grads([grad_output] * self._saved)


class Subtract(_Merge):
    """``keras.layers.Subtract``: inputs[0] - inputs[1] (exactly two inputs, equal shapes)."""

    _MAX_INPUTS = 2

    def forward(self, inputs, training=False):
        return inputs[0] - inputs[1]

    def backward(self, grad_output):
        return self._grads([grad_output, -grad_output])


class Multiply(_Merge):
    """``keras.layers.Multiply``: the elementwise product of the inputs (equal shapes); keeps the inputs
    in training for the backward (d/dxi = the product of the others)."""

    def forward(self, inputs, training=False):
        y = inputs[0] * inputs[1]
        for x in inputs[2:]:
            y *= x
        self._saved = list(inputs) if training else None
        return y

    def backward(self, grad_output):
        if self._saved is None:
            raise ValueError(f"{self.name}: backward needs a forward with training=True first")
        if not self.need_input_grad:
            return None
        xs = self._saved
        out = []
        for i in range(len(xs)):
            g = grad_output
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x
            out.append(g)
        return out


class Average(_Merge):
    """``keras.layers.Average``: the elementwise mean of the inputs (equal shapes)."""

    def forward(self, inputs, training=False):
        self._saved = len(inputs)
        y = inputs[0] + inputs[1]
        for x in inputs[2:]:
            y += x
        y *= y.dtype.type(1.0 / len(inputs))
        return y

    def backward(self, grad_output):
        g = grad_output * grad_output.dtype.type(1.0 / self._saved)
        return self._grads([g] * self._saved)


class Maximum(_Merge):
    """``keras.layers.Maximum``: the elementwise maximum of the inputs (equal shapes); the gradient goes to
    the input holding the maximum, the first one on ties (Keras reduces pairwise with ``maximum``)."""

    def forward(self, inputs, training=False):
        xp = _array_module(inputs[0])
        y = inputs[0].copy()
        winner = xp.zeros(y.shape, dtype=np.int8) if training else None
        for i, x in enumerate(inputs[1:], start=1):
            if training:
                winner[x > y] = i
            xp.maximum(y, x, out=y)
        self._saved = (winner, len(inputs)) if training else None
        return y

    def backward(self, grad_output):
        if self._saved is None:
            raise ValueError(f"{self.name}: backward needs a forward with training=True first")
        if not self.need_input_grad:
            return None
        winner, n = self._saved
        zero = grad_output.dtype.type(0)
        xp = _array_module(grad_output)
        return [xp.where(winner == i, grad_output, zero) for i in range(n)]


class Concatenate(_Merge):
    """``keras.layers.Concatenate(axis=-1)``: the inputs joined along ``axis`` of the (N, ...) arrays.

    ``axis=-1`` (Keras' default) joins the last axis: the features of (N, F) inputs, the channels of
    channels_last images (N, H, W, C), fastann's default image layout; join the channels of channels_first
    images (N, C, H, W) with ``axis=1``. Every other axis must match.
    Raises ValueError for axis 0 (the batch), an axis out of range, or shapes that differ off the axis."""

    def __init__(self, axis=-1, name=None, **kwargs):
        super().__init__(name, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ValueError(f"Concatenate: axis must be an int, got {axis!r}")
        self.axis = int(axis)

    def _sample_axis(self, ndim):
        """``self.axis`` as an index into the per-sample shape (ndim = per-sample rank)."""
        a = self.axis + ndim + 1 if self.axis < 0 else self.axis
        if not 1 <= a <= ndim:
            raise ValueError(f"Concatenate ({self.name}): axis={self.axis} is out of range for inputs of rank "
                             f"{ndim + 1} (the batch axis 0 cannot be concatenated)")
        return a - 1

    def compute_output_shape(self, input_shape):
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise ValueError(f"Concatenate ({self.name}): inputs must have the same rank, got "
                             f"{[(None,) + tuple(s) for s in input_shape]}")
        a = self._sample_axis(ranks.pop())
        first = list(input_shape[0])
        for s in input_shape[1:]:
            if [d for i, d in enumerate(s) if i != a] != [d for i, d in enumerate(first) if i != a]:
                raise ValueError(f"Concatenate ({self.name}): inputs must match on every axis but axis="
                                 f"{self.axis}, got {[(None,) + tuple(t) for t in input_shape]}")
        first[a] = sum(int(s[a]) for s in input_shape)
        return tuple(first)

    def forward(self, inputs, training=False):
        xp = _array_module(inputs[0])
        a = self._sample_axis(inputs[0].ndim - 1) + 1
        self._saved = (a, [x.shape[a] for x in inputs])
        return xp.concatenate(inputs, axis=a)

    def backward(self, grad_output):
        if not self.need_input_grad:
            return None
        a, sizes = self._saved
        xp = _array_module(grad_output)
        cuts = np.cumsum(sizes)[:-1].tolist()
        return [xp.ascontiguousarray(g) for g in xp.split(grad_output, cuts, axis=a)]
