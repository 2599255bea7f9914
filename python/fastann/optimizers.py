"""Optimizers with Keras names and defaults (``keras.optimizers``), each step a fused fastann kernel.

``opt.apply_gradients(params, grads)`` updates every parameter array IN PLACE with one fused
``ops.<name>_step`` call per parameter: the kernel reads the gradient and the optimizer state once and
writes the parameter and the state once (one pass over memory instead of the 5-10 elementwise NumPy passes
of a textbook implementation). State arrays are created lazily, zero-filled, with the parameter's array
module (NumPy or CuPy), in the same order as the parameters.

The update rules are those of the ``ops.*_step`` kernels (PyTorch's ``torch.optim`` formulations, see each
op's docstring); the hyper-parameter names and defaults are Keras's: ``learning_rate``, ``beta_1``,
``beta_2``, ``epsilon=1e-7``. ``weight_decay`` is passed to the kernel: an L2 term added to the gradient
(PyTorch semantics) for all but AdamW, where it is decoupled (Loshchilov & Hutter 2019).
"""
from __future__ import annotations

import math
import numbers

from . import _device, ops, schedules
from ._args.optim import nadam_mu, nadam_mu_product

__all__ = ["schedules", "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "get"]


def _is_rate(v) -> bool:
    """True for a usable learning rate: a real number (not a bool), finite and > 0."""
    return not isinstance(v, bool) and isinstance(v, numbers.Real) and 0 < v < math.inf


def _nonneg(opt: str, name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v >= 0:
        raise ValueError(f"{opt}: {name} must be a non-negative number, got {v!r}")
    return float(v)


def _unit(opt: str, name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 <= v < 1.0:
        raise ValueError(f"{opt}: {name} must be in [0, 1), got {v!r}")
    return float(v)


class Optimizer:
    """Base class.

    Args:
        learning_rate: step size (> 0), or a ``schedules.LearningRateSchedule`` evaluated before each update
            at the number of updates already taken (Keras semantics). ``opt.learning_rate`` reads the rate
            in use (the latest update's, or the schedule's start before the first); assigning it sets a
            constant rate (TypeError when the optimizer was built with a schedule, as in Keras).
        weight_decay: None or a non-negative float (see the module docstring for its meaning).
        seed: accepted for Keras compatibility (these optimizers draw no random numbers).
    Subclasses define ``_state_names`` (the per-parameter state arrays) and ``_step(param, grad, state)``.
    """

    _state_names: tuple = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, seed=None, name=None):
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            self._schedule = learning_rate
            self._learning_rate = float(learning_rate(0))
        else:
            self._schedule = None
            self.learning_rate = learning_rate
        self.weight_decay = 0.0 if weight_decay is None else _nonneg(type(self).__name__, "weight_decay",
                                                                    weight_decay)
        self.seed = seed
        self.name = name or type(self).__name__.lower()
        self.iterations = 0          # steps taken (the kernels' 1-based `step` is iterations after += 1)
        self._states: list = []      # per parameter: dict state name -> array

    def _init_state(self, param) -> dict:
        xp = _array_module(param)
        return {k: xp.zeros_like(param) for k in self._state_names}

    def build(self, params) -> None:
        """Create the state for ``params`` (called by the first apply_gradients)."""
        self._states = [self._init_state(p) for p in params]

    def apply_gradients(self, params, grads) -> None:
        """One update of every parameter in place: ``params`` and ``grads`` are equal-length lists of
        same-shape arrays. ValueError when their number changes between calls (rebuild the optimizer)."""
        if len(params) != len(grads):
            raise ValueError(f"{type(self).__name__}: got {len(params)} parameters but {len(grads)} gradients")
        if not self._states:
            self.build(params)
        elif len(self._states) != len(params):
            raise ValueError(f"{type(self).__name__}: built for {len(self._states)} parameters, got "
                             f"{len(params)}; use a new optimizer for a different model")
        if self._schedule is not None:
            self._learning_rate = float(self._schedule(self.iterations))
        self.iterations += 1
        step = self._step
        for p, g, s in zip(params, grads, self._states):
            step(p, g, s)

    @property
    def learning_rate(self) -> float:
        """The learning rate in use (float); see the class docstring for schedules."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if self._schedule is not None:
            raise TypeError(f"{type(self).__name__}: built with the schedule {self._schedule!r} as its "
                            "learning_rate, so the rate cannot be set")
        if not _is_rate(value):
            raise ValueError(f"{type(self).__name__}: learning_rate must be a finite positive number, got "
                             f"{value!r}")
        self._learning_rate = float(value)

    def _move_to(self, xp) -> None:
        """Move the per-parameter state arrays to ``xp`` (numpy or cupy), exactly (``Sequential.to``)."""
        self._states = _device.move(self._states, xp)

    def _step(self, param, grad, state) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        config = {"learning_rate": self._schedule if self._schedule is not None else self._learning_rate}
        config.update((k, v) for k, v in vars(self).items() if not k.startswith("_") and k != "iterations")
        return config

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def _array_module(a):
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy  # noqa: PLC0415

        return cupy
    import numpy  # noqa: PLC0415

    return numpy


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum (``ops.sgd_step``).

    v = momentum·v + g;  p -= lr·(g + momentum·v if nesterov else v)   (PyTorch's form; plain SGD when
    momentum = 0). Keras defaults: learning_rate=0.01, momentum=0.0, nesterov=False.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, seed=None,
                 name=None):
        super().__init__(learning_rate, weight_decay, seed, name)
        self.momentum = _unit("SGD", "momentum", momentum)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self._state_names = ("momentum_buffer",) if self.momentum > 0 else ()

    def _step(self, p, g, s):
        ops.sgd_step(p, g, s.get("momentum_buffer"), lr=self.learning_rate, momentum=self.momentum,
                     nesterov=self.nesterov, weight_decay=self.weight_decay)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction (``ops.adam_step``); optional AMSGrad.

    m = b1·m + (1-b1)·g;  v = b2·v + (1-b2)·g²;  p -= lr·(m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps).
    Keras defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, seed=None, name=None):
        super().__init__(learning_rate, weight_decay, seed, name)
        self.beta_1 = _unit(type(self).__name__, "beta_1", beta_1)
        self.beta_2 = _unit(type(self).__name__, "beta_2", beta_2)
        self.epsilon = _nonneg(type(self).__name__, "epsilon", epsilon)
        self.amsgrad = bool(amsgrad)
        self._state_names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def _step(self, p, g, s):
        kw = {"max_exp_avg_sq": s["max_exp_avg_sq"]} if self.amsgrad else {}
        ops.adam_step(p, g, s["exp_avg"], s["exp_avg_sq"], step=self.iterations, lr=self.learning_rate,
                      beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon, weight_decay=self.weight_decay,
                      **kw)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019; ``ops.adamw_step``):
    p -= lr·wd·p before the Adam update. Keras defaults: weight_decay=0.004, learning_rate=0.001."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, seed=None, name=None):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, seed, name)

    def _step(self, p, g, s):
        kw = {"max_exp_avg_sq": s["max_exp_avg_sq"]} if self.amsgrad else {}
        ops.adamw_step(p, g, s["exp_avg"], s["exp_avg_sq"], step=self.iterations, lr=self.learning_rate,
                       beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon, weight_decay=self.weight_decay,
                       **kw)


class RMSprop(Optimizer):
    """RMSprop (Hinton, Coursera lecture 6e) with optional momentum and centering (``ops.rmsprop_step``).

    s = rho·s + (1-rho)·g²; (centered: a = rho·a + (1-rho)·g, s̃ = s - a²); step = g / (sqrt(s̃) + eps);
    with momentum: b = momentum·b + step, p -= lr·b; else p -= lr·step.
    Keras defaults: learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, seed=None, name=None):
        super().__init__(learning_rate, weight_decay, seed, name)
        self.rho = _unit("RMSprop", "rho", rho)
        self.momentum = _unit("RMSprop", "momentum", momentum)
        self.epsilon = _nonneg("RMSprop", "epsilon", epsilon)
        self.centered = bool(centered)
        self._state_names = (("square_avg",) + (("momentum_buffer",) if self.momentum > 0 else ())
                             + (("grad_avg",) if self.centered else ()))

    def _step(self, p, g, s):
        ops.rmsprop_step(p, g, s["square_avg"], s.get("momentum_buffer"), s.get("grad_avg"),
                         lr=self.learning_rate, rho=self.rho, eps=self.epsilon, momentum=self.momentum,
                         centered=self.centered, weight_decay=self.weight_decay)


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer 2011; ``ops.adagrad_step``): acc += g²; p -= lr·g / (sqrt(acc) + eps).

    Keras defaults: learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 seed=None, name=None):
        super().__init__(learning_rate, weight_decay, seed, name)
        self.initial_accumulator_value = _nonneg("Adagrad", "initial_accumulator_value", initial_accumulator_value)
        self.epsilon = _nonneg("Adagrad", "epsilon", epsilon)
        self._state_names = ("accumulator",)

    def _init_state(self, param) -> dict:
        acc = _array_module(param).full_like(param, self.initial_accumulator_value)
        return {"accumulator": acc}

    def _step(self, p, g, s):
        ops.adagrad_step(p, g, s["accumulator"], lr=self.learning_rate, eps=self.epsilon,
                         weight_decay=self.weight_decay)


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012; ``ops.adadelta_step``): E[g²] = rho·E[g²] + (1-rho)·g²;
    Δ = sqrt(E[Δ²] + eps) / sqrt(E[g²] + eps)·g; E[Δ²] = rho·E[Δ²] + (1-rho)·Δ²; p -= lr·Δ.

    Keras defaults: learning_rate=0.001, rho=0.95, epsilon=1e-7 (PyTorch uses lr=1.0: pass it for the paper's
    unscaled rule).
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, seed=None, name=None):
        super().__init__(learning_rate, weight_decay, seed, name)
        self.rho = _unit("Adadelta", "rho", rho)
        self.epsilon = _nonneg("Adadelta", "epsilon", epsilon)
        self._state_names = ("accum_grad", "accum_update")

    def _step(self, p, g, s):
        ops.adadelta_step(p, g, s["accum_grad"], s["accum_update"], lr=self.learning_rate, rho=self.rho,
                          eps=self.epsilon, weight_decay=self.weight_decay)


class Adamax(Optimizer):
    """Adamax (Kingma & Ba 2015, section 7.1; ``ops.adamax_step``): m = b1·m + (1-b1)·g;
    u = max(b2·u, |g| + eps); p -= lr / (1-b1^t) · m / u. Keras defaults: 0.001, 0.9, 0.999, 1e-7."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 seed=None, name=None):
        super().__init__(learning_rate, weight_decay, seed, name)
        self.beta_1 = _unit("Adamax", "beta_1", beta_1)
        self.beta_2 = _unit("Adamax", "beta_2", beta_2)
        self.epsilon = _nonneg("Adamax", "epsilon", epsilon)
        self._state_names = ("exp_avg", "exp_inf")

    def _step(self, p, g, s):
        ops.adamax_step(p, g, s["exp_avg"], s["exp_inf"], step=self.iterations, lr=self.learning_rate,
                        beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon, weight_decay=self.weight_decay)


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum and Dozat's momentum schedule mu_t = b1·(1 - 0.5·0.96^(0.004 t))
    (Dozat 2016, as keras.optimizers.Nadam and torch.optim.NAdam; ``ops.nadam_step`` has the full rule).
    Keras defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 seed=None, name=None):
        super().__init__(learning_rate, weight_decay, seed, name)
        self.beta_1 = _unit("Nadam", "beta_1", beta_1)
        self.beta_2 = _unit("Nadam", "beta_2", beta_2)
        self.epsilon = _nonneg("Nadam", "epsilon", epsilon)
        self._state_names = ("exp_avg", "exp_avg_sq")
        # P_t = mu_1 ... mu_t for t = self._mu_step, kept across updates (torch.optim.NAdam's mu_product,
        # Keras' u_product): one multiplication per update instead of t.
        self._mu_product, self._mu_step = 1.0, 0

    def _step(self, p, g, s):
        t = self.iterations
        if self._mu_step != t:
            if self._mu_step == t - 1:
                self._mu_product *= nadam_mu(self.beta_1, t)
            else:  # iterations was set from outside: start the product over
                self._mu_product = nadam_mu_product(self.beta_1, t)
            self._mu_step = t
        ops.nadam_step(p, g, s["exp_avg"], s["exp_avg_sq"], step=t, lr=self.learning_rate, beta1=self.beta_1,
                       beta2=self.beta_2, eps=self.epsilon, weight_decay=self.weight_decay,
                       mu_product=self._mu_product)


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
            "adadelta": Adadelta, "adamax": Adamax, "nadam": Nadam}


def get(identifier, **kwargs) -> Optimizer:
    """An Optimizer from a name (``"adam"``, with optional keyword arguments such as learning_rate), an
    Optimizer instance (returned as is) or an Optimizer class. ValueError for an unknown name, TypeError
    otherwise."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"optimizers.get: unknown optimizer {identifier!r}; known: {', '.join(_BY_NAME)}")
        return _BY_NAME[key](**kwargs)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier(**kwargs)
    raise TypeError(f"optimizers.get: expected an optimizer name or a fastann.optimizers.Optimizer, "
                    f"got {identifier!r}")
