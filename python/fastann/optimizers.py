"""Optimizers with Keras names and defaults (``keras.optimizers``), each step a fused fastann kernel.

``opt.apply_gradients(params, grads)`` updates every parameter array IN PLACE with one fused
``ops.<name>_step`` call per parameter (Adam and AdamW: one ``ops.adam_step_multi`` call for all of them):
the kernel reads the gradient and the optimizer state once and writes the parameter and the state once (one
pass over memory instead of the 5-10 elementwise NumPy passes of a textbook implementation). State arrays are
created lazily, zero-filled, with the parameter's array module (NumPy or CuPy), in the same order as the
parameters.

The update rules are those of the ``ops.*_step`` kernels (PyTorch's ``torch.optim`` formulations, see each
op's docstring); the hyper-parameter names and defaults are Keras's: ``learning_rate``, ``beta_1``,
``beta_2``, ``epsilon=1e-7``.

Every optimizer takes Keras 3's common arguments, applied as keras.optimizers.Optimizer.apply does
(keras/src/optimizers/base_optimizer.py), in this order before the update:

1. gradient clipping, at most one of ``clipnorm`` (each gradient scaled to norm <= clipnorm:
   g * clipnorm / max(||g||, clipnorm)), ``global_clipnorm`` (every gradient scaled by
   min(1, global_clipnorm / ||all gradients||), NaN when that norm is not finite) and ``clipvalue``
   (g clipped to [-clipvalue, clipvalue]); 0 or None switches each off. The norms are one reduction per
   gradient (``vdot``); a gradient is scaled or clipped into a new array (one extra pass) only when it
   changes, and the caller's gradient arrays are never written.
2. decoupled weight decay (``weight_decay``): param -= lr * weight_decay * param with the rate of this
   update. Adam and Lion do it inside their fused kernel; the others take one extra in-place pass over
   each parameter, only when weight_decay is set.

``use_ema``, ``ema_momentum``, ``ema_overwrite_frequency``, ``loss_scale_factor`` and
``gradient_accumulation_steps`` are accepted with their Keras defaults only: any other value raises
NotImplementedError.
"""
from __future__ import annotations

import math
import numbers

from . import _device, ops, schedules
from ._args.optim import nadam_mu, nadam_mu_product

__all__ = ["schedules", "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Lion",
           "Ftrl", "Adafactor", "get"]


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
        weight_decay: None or a non-negative float: Keras's decoupled decay (module docstring).
        seed: accepted for Keras compatibility (these optimizers draw no random numbers).
        clipnorm, clipvalue, global_clipnorm: None or a non-negative float, at most one of them set
            (ValueError otherwise, as Keras); see the module docstring.
        use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps:
            Keras's defaults only (NotImplementedError otherwise).
    Subclasses define ``_state_names`` (the per-parameter state arrays) and ``_step(param, grad, state)``;
    ``_fused_weight_decay`` is True where ``_step`` applies the decoupled decay itself.
    """

    _state_names: tuple = ()
    _fused_weight_decay = False

    def __init__(self, learning_rate=0.001, weight_decay=None, seed=None, name=None, *, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None):
        opt = type(self).__name__
        unsupported = {"use_ema": (use_ema, False), "ema_momentum": (ema_momentum, 0.99),
                       "ema_overwrite_frequency": (ema_overwrite_frequency, None),
                       "loss_scale_factor": (loss_scale_factor, None),
                       "gradient_accumulation_steps": (gradient_accumulation_steps, None)}
        for k, (v, default) in unsupported.items():
            if v is not default and v != default:
                raise NotImplementedError(f"{opt}: {k}={v!r} is not implemented (only the Keras default "
                                          f"{default!r} is accepted)")
        clips = {k: None if v is None else _nonneg(opt, k, v)
                 for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm))}
        if sum(v is not None for v in clips.values()) > 1:
            raise ValueError(f"{opt}: only one of clipnorm, clipvalue and global_clipnorm can be set, got "
                             + ", ".join(f"{k}={v!r}" for k, v in clips.items()))
        self.clipnorm, self.clipvalue, self.global_clipnorm = clips.values()
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

    def apply_gradients(self, params, grads=None) -> None:
        """One update of every parameter in place: ``params`` and ``grads`` are equal-length lists of
        same-shape arrays. Called with one argument it is Keras's ``apply_gradients(grads_and_vars)``: an
        iterable of (gradient, parameter) pairs, e.g. ``zip(grads, model.trainable_weights)``. The state
        (moments) is kept per position: give the parameters in the same order at every call. ValueError when
        their number changes between calls (rebuild the optimizer)."""
        if grads is None:
            pairs = list(params)
            if any(not isinstance(p, (tuple, list)) or len(p) != 2 for p in pairs):
                raise TypeError(f"{type(self).__name__}.apply_gradients: with one argument, give (gradient, "
                                f"parameter) pairs, e.g. zip(grads, model.trainable_weights)")
            grads, params = [g for g, _ in pairs], [p for _, p in pairs]
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
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            grads = self._clip_gradients(grads)
        if self.weight_decay and not self._fused_weight_decay:
            factor = 1.0 - self._learning_rate * self.weight_decay
            for p in params:
                p *= factor
        self._step_all(params, grads)

    def _step_all(self, params, grads) -> None:
        """One update of every parameter: ``_step`` on each (subclasses may update all in one call)."""
        step = self._step
        for p, g, s in zip(params, grads, self._states):
            step(p, g, s)

    def _clip_gradients(self, grads) -> list:
        """Keras's clipping (module docstring): new arrays for the gradients it changes, the others as is."""
        if self.clipnorm:
            c, out = self.clipnorm, []
            for g in grads:
                norm = math.sqrt(float(_array_module(g).vdot(g, g)))
                out.append(g if norm <= c else g * (c / norm))  # NaN norm: NaN; inf: 0 (inf entries NaN)
            return out
        if self.global_clipnorm:
            c = self.global_clipnorm
            norm = math.sqrt(sum(float(_array_module(g).vdot(g, g)) for g in grads))
            if norm <= c:
                return list(grads)
            scale = c / norm if math.isfinite(norm) else math.nan
            return [g * scale for g in grads]
        v = self.clipvalue
        return [_array_module(g).clip(g, -v, v) for g in grads]

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
        if config.get("seed") is None:
            config.pop("seed", None)  # Keras's optimizers take no seed
        if not config.get("weight_decay"):
            config["weight_decay"] = None  # Keras's "no decay"
        return config

    @classmethod
    def from_config(cls, config):
        """The object ``cls(**config)`` (the inverse of ``get_config``)."""
        return cls(**config)

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
                 name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, seed, name, **kwargs)
        self.momentum = _unit("SGD", "momentum", momentum)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self._state_names = ("momentum_buffer",) if self.momentum > 0 else ()

    def _step(self, p, g, s):
        ops.sgd_step(p, g, s.get("momentum_buffer"), lr=self.learning_rate, momentum=self.momentum,
                     nesterov=self.nesterov)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction (``ops.adam_step``); optional AMSGrad. With weight_decay,
    Keras's decoupled decay runs in the same kernel (``ops.adamw_step``), which makes AdamW this class with a
    different default.

    m = b1·m + (1-b1)·g;  v = b2·v + (1-b2)·g²;  p -= lr·(m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps).
    Keras defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, seed=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, seed, name, **kwargs)
        self.beta_1 = _unit(type(self).__name__, "beta_1", beta_1)
        self.beta_2 = _unit(type(self).__name__, "beta_2", beta_2)
        self.epsilon = _nonneg(type(self).__name__, "epsilon", epsilon)
        self.amsgrad = bool(amsgrad)
        self._state_names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    _fused_weight_decay = True

    def _step_all(self, params, grads):
        """Every parameter in ONE call (``ops.adam_step_multi`` / ``adamw_step_multi``): the bits of one
        ``_step`` per parameter, without a Python call per parameter (none for an empty list)."""
        if len(params) == 0:
            return
        st = self._states
        multi = ops.adamw_step_multi if self.weight_decay else ops.adam_step_multi
        vmax = [s["max_exp_avg_sq"] for s in st] if self.amsgrad else None
        multi(params if type(params) is list else list(params), grads if type(grads) is list else list(grads),
              [s["exp_avg"] for s in st], [s["exp_avg_sq"] for s in st], step=self.iterations,
              lr=self._learning_rate, beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon,
              weight_decay=self.weight_decay, max_exp_avg_sqs=vmax)

    def _step(self, p, g, s):
        kw = {"max_exp_avg_sq": s["max_exp_avg_sq"]} if self.amsgrad else {}
        if self.weight_decay:  # Keras's decoupled decay, in the kernel: adamw_step's p *= 1 - lr wd
            ops.adamw_step(p, g, s["exp_avg"], s["exp_avg_sq"], step=self.iterations, lr=self.learning_rate,
                           beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon, weight_decay=self.weight_decay,
                           **kw)
        else:
            ops.adam_step(p, g, s["exp_avg"], s["exp_avg_sq"], step=self.iterations, lr=self.learning_rate,
                          beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon, **kw)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019; ``ops.adamw_step``):
    p -= lr·wd·p before the Adam update. Keras defaults: weight_decay=0.004, learning_rate=0.001."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, seed=None, name=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, seed, name, **kwargs)


class RMSprop(Optimizer):
    """RMSprop (Hinton, Coursera lecture 6e) with optional momentum and centering (``ops.rmsprop_step``).

    s = rho·s + (1-rho)·g²; (centered: a = rho·a + (1-rho)·g, s̃ = s - a²); step = g / (sqrt(s̃) + eps);
    with momentum: b = momentum·b + step, p -= lr·b; else p -= lr·step.
    Keras defaults: learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, seed=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, seed, name, **kwargs)
        self.rho = _unit("RMSprop", "rho", rho)
        self.momentum = _unit("RMSprop", "momentum", momentum)
        self.epsilon = _nonneg("RMSprop", "epsilon", epsilon)
        self.centered = bool(centered)
        self._state_names = (("square_avg",) + (("momentum_buffer",) if self.momentum > 0 else ())
                             + (("grad_avg",) if self.centered else ()))

    def _step(self, p, g, s):
        ops.rmsprop_step(p, g, s["square_avg"], s.get("momentum_buffer"), s.get("grad_avg"),
                         lr=self.learning_rate, rho=self.rho, eps=self.epsilon, momentum=self.momentum,
                         centered=self.centered)


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer 2011; ``ops.adagrad_step``): acc += g²; p -= lr·g / (sqrt(acc) + eps).

    Keras defaults: learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 seed=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, seed, name, **kwargs)
        self.initial_accumulator_value = _nonneg("Adagrad", "initial_accumulator_value", initial_accumulator_value)
        self.epsilon = _nonneg("Adagrad", "epsilon", epsilon)
        self._state_names = ("accumulator",)

    def _init_state(self, param) -> dict:
        acc = _array_module(param).full_like(param, self.initial_accumulator_value)
        return {"accumulator": acc}

    def _step(self, p, g, s):
        ops.adagrad_step(p, g, s["accumulator"], lr=self.learning_rate, eps=self.epsilon)


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012; ``ops.adadelta_step``): E[g²] = rho·E[g²] + (1-rho)·g²;
    Δ = sqrt(E[Δ²] + eps) / sqrt(E[g²] + eps)·g; E[Δ²] = rho·E[Δ²] + (1-rho)·Δ²; p -= lr·Δ.

    Keras defaults: learning_rate=0.001, rho=0.95, epsilon=1e-7 (PyTorch uses lr=1.0: pass it for the paper's
    unscaled rule).
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, seed=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, seed, name, **kwargs)
        self.rho = _unit("Adadelta", "rho", rho)
        self.epsilon = _nonneg("Adadelta", "epsilon", epsilon)
        self._state_names = ("accum_grad", "accum_update")

    def _step(self, p, g, s):
        ops.adadelta_step(p, g, s["accum_grad"], s["accum_update"], lr=self.learning_rate, rho=self.rho,
                          eps=self.epsilon)


class Adamax(Optimizer):
    """Adamax (Kingma & Ba 2015, section 7.1; ``ops.adamax_step``): m = b1·m + (1-b1)·g;
    u = max(b2·u, |g| + eps); p -= lr / (1-b1^t) · m / u. Keras defaults: 0.001, 0.9, 0.999, 1e-7."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 seed=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, seed, name, **kwargs)
        self.beta_1 = _unit("Adamax", "beta_1", beta_1)
        self.beta_2 = _unit("Adamax", "beta_2", beta_2)
        self.epsilon = _nonneg("Adamax", "epsilon", epsilon)
        self._state_names = ("exp_avg", "exp_inf")

    def _step(self, p, g, s):
        ops.adamax_step(p, g, s["exp_avg"], s["exp_inf"], step=self.iterations, lr=self.learning_rate,
                        beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon)


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum and Dozat's momentum schedule mu_t = b1·(1 - 0.5·0.96^(0.004 t))
    (Dozat 2016, as keras.optimizers.Nadam and torch.optim.NAdam; ``ops.nadam_step`` has the full rule).
    Keras defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 seed=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, seed, name, **kwargs)
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
                       beta2=self.beta_2, eps=self.epsilon, mu_product=self._mu_product)


class Lion(Optimizer):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"; ``ops.lion_step``):
    p -= lr·sign(b1·m + (1-b1)·g); m = b2·m + (1-b2)·g, with Keras's decoupled weight decay in the same
    kernel. Keras defaults: learning_rate=0.001, beta_1=0.9, beta_2=0.99; beta_1 in (0, 1] (ValueError
    otherwise, as Keras), beta_2 in [0, 1]."""

    _fused_weight_decay = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, seed=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, seed, name, **kwargs)
        if isinstance(beta_1, bool) or not isinstance(beta_1, numbers.Real) or not 0.0 < beta_1 <= 1.0:
            raise ValueError(f"Lion: beta_1 must be in (0, 1], got {beta_1!r}")
        if isinstance(beta_2, bool) or not isinstance(beta_2, numbers.Real) or not 0.0 <= beta_2 <= 1.0:
            raise ValueError(f"Lion: beta_2 must be in [0, 1], got {beta_2!r}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self._state_names = ("exp_avg",)

    def _step(self, p, g, s):
        ops.lion_step(p, g, s["exp_avg"], lr=self.learning_rate, beta1=self.beta_1, beta2=self.beta_2,
                      weight_decay=self.weight_decay)


class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al. 2013) in keras.optimizers.Ftrl's form (``ops.ftrl_step`` has the rule).

    Keras defaults and checks: learning_rate=0.001, learning_rate_power=-0.5 (<= 0),
    initial_accumulator_value=0.1, l1_regularization_strength=0.0, l2_regularization_strength=0.0,
    l2_shrinkage_regularization_strength=0.0, beta=0.0 (all >= 0; ValueError otherwise)."""

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, weight_decay=None, seed=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, seed, name, **kwargs)
        lrp = learning_rate_power
        if isinstance(lrp, bool) or not isinstance(lrp, numbers.Real) or not -math.inf < lrp <= 0.0:
            raise ValueError(f"Ftrl: learning_rate_power must be a finite number <= 0, got {lrp!r}")
        self.learning_rate_power = float(lrp)
        self.initial_accumulator_value = _nonneg("Ftrl", "initial_accumulator_value", initial_accumulator_value)
        self.l1_regularization_strength = _nonneg("Ftrl", "l1_regularization_strength", l1_regularization_strength)
        self.l2_regularization_strength = _nonneg("Ftrl", "l2_regularization_strength", l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = _nonneg("Ftrl", "l2_shrinkage_regularization_strength",
                                                            l2_shrinkage_regularization_strength)
        self.beta = _nonneg("Ftrl", "beta", beta)
        self._state_names = ("accumulator", "linear")

    def _init_state(self, param) -> dict:
        xp = _array_module(param)
        return {"accumulator": xp.full_like(param, self.initial_accumulator_value), "linear": xp.zeros_like(param)}

    def _step(self, p, g, s):
        ops.ftrl_step(p, g, s["accumulator"], s["linear"], lr=self.learning_rate, lr_power=self.learning_rate_power,
                      l1=self.l1_regularization_strength, l2=self.l2_regularization_strength,
                      l2_shrinkage=self.l2_shrinkage_regularization_strength, beta=self.beta)


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern 2018) as keras.optimizers.Adafactor (``ops.adafactor_step`` has the rule):
    second moments factored into row and column averages for parameters of rank >= 2 (the last two axes),
    the full average otherwise; step size max(epsilon_2, rms(param)) * min(learning_rate, 1/sqrt(t)); the
    update clipped to rms <= clip_threshold.

    Keras defaults: learning_rate=0.001, beta_2_decay=-0.8 (<= 0), epsilon_1=1e-30, epsilon_2=1e-3 (>= 0),
    clip_threshold=1.0 (> 0), relative_step=True (a bool). In Keras 3's update the step size is
    min(learning_rate, 1/sqrt(t)) whatever relative_step says, so relative_step changes nothing there and
    nothing here. State per parameter: row_var and col_var (rank >= 2) or variance, starting at zeros.
    Raises ValueError for values out of those ranges, TypeError for a non-bool relative_step."""

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0,
                 relative_step=True, weight_decay=None, seed=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, seed, name, **kwargs)
        d = beta_2_decay
        if isinstance(d, bool) or not isinstance(d, numbers.Real) or not -math.inf < d <= 0.0:
            raise ValueError(f"Adafactor: beta_2_decay must be a finite number <= 0, got {d!r}")
        c = clip_threshold
        if isinstance(c, bool) or not isinstance(c, numbers.Real) or not 0.0 < c < math.inf:
            raise ValueError(f"Adafactor: clip_threshold must be a finite number > 0, got {c!r}")
        if not isinstance(relative_step, bool):
            raise TypeError(f"Adafactor: relative_step must be a bool, got {relative_step!r}")
        self.beta_2_decay, self.clip_threshold, self.relative_step = float(d), float(c), relative_step
        self.epsilon_1 = _nonneg("Adafactor", "epsilon_1", epsilon_1)
        self.epsilon_2 = _nonneg("Adafactor", "epsilon_2", epsilon_2)

    def _init_state(self, param) -> dict:
        xp = _array_module(param)
        if param.ndim >= 2:
            return {"row_var": xp.zeros(param.shape[:-1], param.dtype),
                    "col_var": xp.zeros(param.shape[:-2] + param.shape[-1:], param.dtype)}
        return {"variance": xp.zeros_like(param)}

    def _step(self, p, g, s):
        ops.adafactor_step(p, g, s.get("row_var"), s.get("col_var"), s.get("variance"), step=self.iterations,
                           lr=self.learning_rate, beta_2_decay=self.beta_2_decay, epsilon_1=self.epsilon_1,
                           epsilon_2=self.epsilon_2, clip_threshold=self.clip_threshold)


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
            "adadelta": Adadelta, "adamax": Adamax, "nadam": Nadam, "lion": Lion, "ftrl": Ftrl,
            "adafactor": Adafactor}


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
