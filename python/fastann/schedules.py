"""Learning-rate schedules with Keras names and formulas (``keras.optimizers.schedules``).

A schedule is a function of the optimizer's step count. Pass one as an optimizer's ``learning_rate``:

    lr = fastann.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps_per_epoch * epochs)
    model.compile(optimizer=fastann.optimizers.Adam(learning_rate=lr), ...)

Before each update the optimizer evaluates ``schedule(step)``, where ``step`` counts the updates already
taken (0 for the first one, as in Keras), and uses the value as the update's learning rate. The value is a
Python float in the optimizer's units (a multiplier of the update direction). ``optimizer.learning_rate``
then reads the rate of the latest update. These are a few floating-point operations per training step, not
a kernel.

Every constructor raises ValueError for an argument out of range (a negative rate, decay_steps <= 0, ...),
naming the argument. Calling a schedule with a negative step raises ValueError.
"""
from __future__ import annotations

import bisect
import math
import numbers

__all__ = ["LearningRateSchedule", "CosineDecay", "ExponentialDecay", "PiecewiseConstantDecay"]


def _rate(cls: str, name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{cls}: {name} must be a finite number >= 0, got {v!r}")
    return float(v)


def _length(cls: str, name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and v > 0):
        raise ValueError(f"{cls}: {name} must be a finite number > 0 (steps), got {v!r}")
    return v


def _count(cls: str, name: str, v, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
        raise ValueError(f"{cls}: {name} must be an integer >= {low}, got {v!r}")
    return int(v)


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step) -> float`` and ``get_config()``."""

    def __call__(self, step) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_step(self, step) -> int:
        return _count(type(self).__name__, "step", step, 0)

    def get_config(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    @classmethod
    def from_config(cls, config):
        """The object ``cls(**config)`` (the inverse of ``get_config``)."""
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class CosineDecay(LearningRateSchedule):
    """Cosine decay (SGDR without restarts: Loshchilov & Hutter 2017, eq. 5), with an optional linear warmup.

    Without warmup, for step s:

        lr(s) = initial_learning_rate · ((1 - alpha) · 0.5 · (1 + cos(pi · min(s, decay_steps) / decay_steps))
                                         + alpha)

    so it falls from ``initial_learning_rate`` at s = 0 to ``alpha · initial_learning_rate`` at
    s = decay_steps and stays there. With ``warmup_steps`` > 0 and a ``warmup_target``, the rate first rises
    linearly from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps`` steps, then decays
    from ``warmup_target`` as above, counting s from the end of the warmup (keras.optimizers.schedules.
    CosineDecay).

    Args:
        initial_learning_rate: float >= 0.
        decay_steps: number > 0, the length of the decay in optimizer steps (e.g. steps per epoch · epochs).
        alpha: the final rate as a fraction of the start (float in [0, 1]).
        warmup_target: None (no warmup) or the rate reached at the end of the warmup (float >= 0).
        warmup_steps: int >= 0; must be > 0 exactly when warmup_target is given.
    Raises ValueError for any argument out of range.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name=None, warmup_target=None,
                 warmup_steps=0):
        cls = type(self).__name__
        self.initial_learning_rate = _rate(cls, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _length(cls, "decay_steps", decay_steps)
        self.alpha = _rate(cls, "alpha", alpha)
        if self.alpha > 1:
            raise ValueError(f"{cls}: alpha must be in [0, 1], got {alpha!r}")
        self.warmup_target = None if warmup_target is None else _rate(cls, "warmup_target", warmup_target)
        self.warmup_steps = _count(cls, "warmup_steps", warmup_steps, 0)
        if (self.warmup_target is None) != (self.warmup_steps == 0):
            raise ValueError(f"{cls}: warmup needs both warmup_target and warmup_steps > 0, got "
                             f"warmup_target={warmup_target!r}, warmup_steps={warmup_steps!r}")
        self.name = name or cls

    def __call__(self, step) -> float:
        s = self._check_step(step)
        start = self.initial_learning_rate
        if self.warmup_target is not None:
            if s < self.warmup_steps:
                return start + (self.warmup_target - start) * s / self.warmup_steps
            start, s = self.warmup_target, s - self.warmup_steps
        fraction = min(s, self.decay_steps) / self.decay_steps
        return start * ((1.0 - self.alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + self.alpha)


class ExponentialDecay(LearningRateSchedule):
    """Exponential decay: lr(s) = initial_learning_rate · decay_rate ^ (s / decay_steps), the exponent
    rounded down to an integer when ``staircase`` (keras.optimizers.schedules.ExponentialDecay).

    Args:
        initial_learning_rate: float >= 0.
        decay_steps: number > 0.
        decay_rate: float >= 0 (below 1 decays, above 1 grows).
        staircase: bool.
    Raises ValueError for any argument out of range.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        cls = type(self).__name__
        self.initial_learning_rate = _rate(cls, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _length(cls, "decay_steps", decay_steps)
        self.decay_rate = _rate(cls, "decay_rate", decay_rate)
        self.staircase = bool(staircase)
        self.name = name or cls

    def __call__(self, step) -> float:
        s = self._check_step(step)
        exponent = s // self.decay_steps if self.staircase else s / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** exponent


class PiecewiseConstantDecay(LearningRateSchedule):
    """Piecewise constant: ``values[0]`` for s <= boundaries[0], ``values[i]`` for
    boundaries[i-1] < s <= boundaries[i], ``values[-1]`` after the last boundary
    (keras.optimizers.schedules.PiecewiseConstantDecay).

    Args:
        boundaries: strictly increasing integers >= 0 (the steps where the rate changes).
        values: floats >= 0, one more than ``boundaries``.
    Raises ValueError when the lengths do not match, the boundaries do not increase, or a value is negative.
    """

    def __init__(self, boundaries, values, name=None):
        cls = type(self).__name__
        self.boundaries = [_count(cls, "boundaries[i]", b, 0) for b in boundaries]
        self.values = [_rate(cls, "values[i]", v) for v in values]
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(f"{cls}: values must have one more entry than boundaries, got {len(self.values)} "
                             f"values for {len(self.boundaries)} boundaries")
        if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"{cls}: boundaries must increase strictly, got {self.boundaries}")
        self.name = name or cls

    def __call__(self, step) -> float:
        return self.values[bisect.bisect_left(self.boundaries, self._check_step(step))]
