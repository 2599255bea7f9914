"""Weight constraints with Keras names, defaults and formulas (``keras.constraints``).

A constraint projects a weight after each optimizer update: ``Dense(64, kernel_constraint=max_norm(3))``.
Calling it, ``c(w)``, returns the projected weight as a new array like w (NumPy or CuPy). ``w`` is in
KERAS'S layout (Dense kernel (in, units), Conv2D kernel (kH, kW, C_in, C_out)), so ``axis`` means what it
means in Keras: the model hands a layer's weight through ``layer._to_keras_layout`` before the constraint
and stores the result back through ``layer._from_keras_layout``. Keras applies the constraints in the
optimizer right after the update of the weights (``Optimizer.apply``); fastann does the same, for the
trainable weights that have one.

Formulas (Keras 3, ``keras/src/constraints/constraints.py``; eps = 1e-7, Keras's ``backend.epsilon()``;
norms = sqrt(sum(w^2, axis, keepdims=True))):

* ``MaxNorm(max_value=2, axis=0)``:  w * clip(norms, 0, max_value) / (eps + norms)
* ``NonNeg()``:                      maximum(w, 0)
* ``UnitNorm(axis=0)``:              w / (eps + norms)
* ``MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)``:
  w * (rate * clip(norms, min_value, max_value) + (1 - rate) * norms) / (eps + norms)

``get(identifier)``: None -> None; a Constraint or any callable w -> w -> itself; a Constraint class -> an
instance with its defaults; a name: "max_norm", "non_neg", "unit_norm", "min_max_norm" (Keras's names) or
the class names. ValueError for an unknown name, TypeError for anything else.
"""
from __future__ import annotations

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg", "unit_norm",
           "min_max_norm", "get"]

_EPSILON = 1e-7  # keras.backend.epsilon()


def _xp(a):
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy  # noqa: PLC0415

        return cupy
    import numpy  # noqa: PLC0415

    return numpy


def _norms(w, axis):
    """The L2 norms of w along ``axis`` (an int, or a list / tuple of ints as Keras takes), kept as axes."""
    xp = _xp(w)
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return xp.sqrt(xp.sum(xp.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight (an array like w, in Keras's layout)."""

    def __call__(self, w):
        return w

    @classmethod
    def from_config(cls, config):
        """The object ``cls(**config)`` (the inverse of ``get_config``)."""
        return cls(**config)

    def get_config(self) -> dict:
        return {}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class MaxNorm(Constraint):
    """Rescales each slice along ``axis`` whose L2 norm exceeds ``max_value`` down to it (Srivastava et al.
    2014, "Dropout", sec. 5.1). Keras's ``MaxNorm(max_value=2, axis=0)``: for a Dense kernel (in, units),
    axis 0 constrains each unit's incoming weight vector; for a Conv2D kernel (kH, kW, C_in, C_out) use
    axis=[0, 1, 2]."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = _xp(w).clip(norms, 0, self.max_value)
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """maximum(w, 0): the weights stay non-negative (``keras.constraints.NonNeg``)."""

    def __call__(self, w):
        return _xp(w).maximum(w, 0)


class UnitNorm(Constraint):
    """Each slice along ``axis`` divided by (eps + its L2 norm) (``keras.constraints.UnitNorm(axis=0)``)."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Each slice's L2 norm along ``axis`` moved towards [min_value, max_value] by ``rate`` (1: exactly into
    it) (``keras.constraints.MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)``)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * _xp(w).clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

_BY_NAME = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm,
            "MaxNorm": MaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm}


def get(identifier):
    """A constraint from None, an instance or callable, a class or a name (module docstring). ValueError for
    an unknown name, TypeError for anything else."""
    if identifier is None:
        return None
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Could not interpret constraint identifier: {identifier!r} (known: "
                             f"{', '.join(_BY_NAME)})")
        return _BY_NAME[identifier]()
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    raise TypeError(f"constraints.get: expected None, a name ('max_norm', 'non_neg', 'unit_norm', "
                    f"'min_max_norm'), a fastann.constraints.Constraint or a function w -> w, got {identifier!r}")
