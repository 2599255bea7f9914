"""Weight regularizers with Keras names, defaults and formulas (``keras.regularizers``).

A regularizer adds a penalty on one weight to the training loss: ``Dense(10, kernel_regularizer="l2")`` or
``kernel_regularizer=regularizers.L2(1e-4)``. Calling it, ``reg(w)``, returns the penalty as a 0-d array of
w's dtype (NumPy or CuPy, like w); ``reg.gradient(w)`` returns d penalty / d w, the term a training step
adds to the weight's gradient before the optimizer runs (fastann has no autograd, so every regularizer
states its gradient; a subclass of ``Regularizer`` must define both).

Formulas (Keras 3, ``keras/src/regularizers/regularizers.py``):

* ``L1(l1=0.01)``:          l1 * sum(|w|)             gradient l1 * sign(w) (0 at w = 0)
* ``L2(l2=0.01)``:          l2 * sum(w^2)             gradient 2 * l2 * w
* ``L1L2(l1=0.0, l2=0.0)``: the sum of both.

Both penalties are sums over every element, so they do not depend on the layout the weight is stored in.
The model adds the penalties of its trainable weights to the loss that fit and evaluate report (Keras:
``Model.compute_loss`` adds ``model.losses``), computed on the weights of the forward pass.

``get(identifier)``: None -> None; a Regularizer -> itself; a Regularizer class -> an instance with its
defaults; a name: "l1", "l2", "l1l2" (Keras's snake-case names), "l1_l2" (the exported alias), or the class
names "L1", "L2", "L1L2". ValueError for an unknown name or a factor that is not a non-negative finite
number (Keras's message); TypeError for anything else (a plain function has no gradient here).
"""
from __future__ import annotations

import math
import numbers

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get"]


def _xp(a):
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy  # noqa: PLC0415

        return cupy
    import numpy  # noqa: PLC0415

    return numpy


def _factor(name, value) -> float:
    """Keras's ``validate_float_arg``: a non-negative finite int or float, else ValueError."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isinf(value)
            or math.isnan(value) or value < 0):
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. Received: "
                         f"{name}={value!r}")
    return float(value)


class Regularizer:
    """Base class: ``__call__(w)`` -> the penalty (0-d array of w's dtype), ``gradient(w)`` -> d penalty /
    d w (an array like w). Subclasses implement both."""

    def __call__(self, w):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}: a fastann regularizer defines __call__(w)")

    def gradient(self, w):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}: a fastann regularizer defines gradient(w) (the "
                                  "training step adds it to the weight's gradient; there is no autograd)")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        """The object ``cls(**config)`` (the inverse of ``get_config``)."""
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w^2) (``keras.regularizers.L1L2``, defaults l1=0.0, l2=0.0).
    Gradient l1 * sign(w) + 2 * l2 * w. ValueError for a negative or non-finite factor."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor("l1", l1)
        self.l2 = _factor("l2", l2)

    def __call__(self, w):
        xp = _xp(w)
        total = xp.zeros((), dtype=w.dtype)
        if self.l1:
            total = total + w.dtype.type(self.l1) * xp.abs(w).sum()
        if self.l2:
            total = total + w.dtype.type(self.l2) * xp.square(w).sum()
        return total

    def gradient(self, w):
        xp = _xp(w)
        g = xp.zeros_like(w)
        if self.l1:
            g += w.dtype.type(self.l1) * xp.sign(w)
        if self.l2:
            g += w.dtype.type(2.0 * self.l2) * w
        return g

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 * sum(|w|) (``keras.regularizers.L1``, default l1=0.01); gradient l1 * sign(w)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """l2 * sum(w^2) (``keras.regularizers.L2``, default l2=0.01); gradient 2 * l2 * w."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


l1 = L1
l2 = L2
l1_l2 = L1L2

_BY_NAME = {"l1": L1, "l2": L2, "l1l2": L1L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier):
    """A Regularizer from None, an instance, a class or a name (module docstring). ValueError for an
    unknown name, TypeError for another kind of object."""
    if identifier is None:
        return None
    if isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Could not interpret regularizer identifier: {identifier!r} (known: "
                             f"{', '.join(_BY_NAME)})")
        return _BY_NAME[identifier]()
    raise TypeError(f"regularizers.get: expected None, a name ('l1', 'l2', 'l1l2') or a "
                    f"fastann.regularizers.Regularizer (which states its gradient), got {identifier!r}")
