"""Weight initializers, with Keras names and defaults (``keras.initializers``).

Each initializer is a class (``GlorotUniform()``) and a string name (``"glorot_uniform"``); calling it,
``init(shape, dtype="float32", rng=None)``, returns a new NumPy array. Randomness comes from ``rng`` (a
``numpy.random.Generator``, which a model derives from its seed) or, when that is None, from the
initializer's own ``seed`` (None: fresh entropy), so the same seed gives the same weights.

Fans follow fastann's PyTorch weight layout: a Dense kernel is (out_features, in_features) and a conv kernel
(C_out, C_in/groups, kH, kW), so ``fan_in = shape[1] * receptive_field`` and
``fan_out = shape[0] * receptive_field`` (receptive_field = prod(shape[2:])). A 1-D shape (a bias) has
fan_in = fan_out = shape[0].

Variance scaling (Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural
networks"; He et al. 2015, "Delving Deep into Rectifiers"; LeCun et al. 1998, "Efficient BackProp"):
std = sqrt(scale / n) with n = fan_in, fan_out or their mean. The uniform variants draw from [-limit, limit]
with limit = sqrt(3 * scale / n); the normal variants (glorot_normal, he_normal, lecun_normal) use a normal
truncated at two standard deviations, like Keras (``VarianceScaling(distribution="truncated_normal")``), with
the standard deviation divided by 0.87962566103423978 (the std of a standard normal truncated to [-2, 2]) so
the variance is still scale / n.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._config_args import attribute_config

__all__ = ["Initializer", "Orthogonal", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
           "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal",
           "LecunUniform", "get", "compute_fans"]

_TRUNC_STD = 0.87962566103423978  # std of N(0,1) truncated to [-2, 2]


def compute_fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) for a weight of ``shape`` in PyTorch layout (see the module docstring)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _check_shape(shape) -> tuple:
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    shape = tuple(shape)
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0 for s in shape):
        raise ValueError(f"initializer: shape must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"initializer: dtype must be float32 or float64, got {dt}")
    return dt


class Initializer:
    """Base class: ``init(shape, dtype="float32", rng=None) -> numpy.ndarray``.

    Subclasses implement ``sample(shape, rng) -> float64 array``; the result is cast to ``dtype``.
    Raises ValueError for a bad shape, TypeError for a dtype other than float32/float64.
    """

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype="float32", rng=None):
        shape = _check_shape(shape)
        dt = _check_dtype(dtype)
        if rng is None:
            rng = np.random.default_rng(self.seed)
        return np.asarray(self.sample(shape, rng), dtype=dt).reshape(shape)

    def sample(self, shape, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor's arguments (Keras's config: ``{"seed": None}`` for GlorotUniform)."""
        return attribute_config(self)

    @classmethod
    def from_config(cls, config):
        """The object ``cls(**config)`` (the inverse of ``get_config``)."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros (the default bias initializer)."""

    def sample(self, shape, rng):
        return np.zeros(shape)

    def get_config(self) -> dict:
        """{} (Keras's ``Zeros`` takes no arguments)."""
        return {}


class Ones(Initializer):
    """All ones."""

    def sample(self, shape, rng):
        return np.ones(shape)

    def get_config(self) -> dict:
        """{} (Keras's ``Ones`` takes no arguments)."""
        return {}


class Constant(Initializer):
    """All ``value``."""

    def __init__(self, value=0.0):
        super().__init__(None)
        self.value = float(value)

    def sample(self, shape, rng):
        return np.full(shape, self.value)


class RandomNormal(Initializer):
    """Normal(mean, stddev); Keras defaults mean=0, stddev=0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape, rng):
        return rng.normal(self.mean, self.stddev, shape)


class RandomUniform(Initializer):
    """Uniform[minval, maxval); Keras defaults -0.05, 0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, shape)


def _truncated_normal(rng, shape, stddev):
    """N(0, stddev) with values beyond 2*stddev redrawn (rejection sampling, as Keras/TensorFlow do)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev


class TruncatedNormal(Initializer):
    """Normal(mean, stddev) truncated to mean ± 2·stddev; Keras defaults mean=0, stddev=0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape, rng):
        return self.mean + _truncated_normal(rng, shape, self.stddev)


class VarianceScaling(Initializer):
    """Variance scale / n with n = fan_in, fan_out or fan_avg; ``distribution`` 'truncated_normal',
    'untruncated_normal' or 'uniform' (see the module docstring for the formulas)."""

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if not scale > 0:
            raise ValueError(f"VarianceScaling: scale must be > 0, got {scale!r}")
        if mode not in self.MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self.MODES}, got {mode!r}")
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: distribution must be one of {self.DISTRIBUTIONS}, "
                             f"got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def sample(self, shape, rng):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, np.sqrt(variance), shape)
        return _truncated_normal(rng, shape, np.sqrt(variance) / _TRUNC_STD)


class GlorotUniform(VarianceScaling):
    """Glorot/Xavier uniform: U[-limit, limit], limit = sqrt(6 / (fan_in + fan_out)). The Dense default."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    """Glorot/Xavier normal, truncated at 2 std like Keras: std = sqrt(2 / (fan_in + fan_out))."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeNormal(VarianceScaling):
    """He/Kaiming normal, truncated at 2 std like Keras: std = sqrt(2 / fan_in)."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    """He/Kaiming uniform: U[-limit, limit], limit = sqrt(6 / fan_in)."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)


class LecunNormal(VarianceScaling):
    """LeCun normal, truncated at 2 std like Keras: std = sqrt(1 / fan_in) (the SELU companion)."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


class LecunUniform(VarianceScaling):
    """LeCun uniform: U[-limit, limit], limit = sqrt(3 / fan_in)."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)


class Orthogonal(Initializer):
    """Orthogonal matrix (Saxe et al. 2014), as Keras: the shape is flattened to (prod(shape[:-1]), shape[-1]),
    a standard normal matrix of it (transposed when it has fewer rows than columns) is QR-factored, Q's columns
    get the signs of R's diagonal, and the result is gain * Q. The RNN layers' recurrent_kernel default."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = float(gain)

    def sample(self, shape, rng):
        rows, cols = int(np.prod(shape[:-1])), int(shape[-1])
        a = rng.normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform, "orthogonal": Orthogonal,
}


def get(identifier) -> Initializer:
    """An Initializer from a string name (``"he_normal"``), an Initializer (returned as is), or a callable
    ``f(shape, dtype, rng)``. Raises ValueError for an unknown name, TypeError for anything else."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"initializers.get: unknown initializer {identifier!r}; "
                             f"known: {', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[key]()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"initializers.get: expected a name, an Initializer or a callable, got {identifier!r}")
