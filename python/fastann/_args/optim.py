"""Argument checks of the fused optimizer steps, shared by ops and reference.

Every ``*_step`` takes param, grad and state arrays (float, C-contiguous, one dtype, device and shape,
param and state writeable) and real hyperparameters (a bool is not a number here: TypeError). ``step`` is
the 1-based step count, at most :data:`MAX_STEP`. Nadam's running product of its momentum schedule is
resolved here too (:func:`nadam_mu_product`), so both layers use the same number.
"""
from __future__ import annotations

import math
import numbers

from .common import array, flag, real, same_device, same_dtype

#: The largest ``step``: the compiled kernels take it as int64 and Nadam also evaluates mu at step + 1.
MAX_STEP = 2**63 - 2

#: From this step on 0.5 * 0.96^(0.004 t) < 2^-54, so 1 - 0.5 * 0.96^(0.004 t) rounds to 1 and Nadam's
#: mu_t rounds to beta1 exactly (0.96^920 = 4.9e-17).
NADAM_MU_SETTLED = 230_000


#: The state arrays a step takes only in some configurations (None otherwise); every other one is required.
OPTIONAL_STATE = frozenset({"momentum_buffer", "grad_avg", "max_exp_avg_sq"})


def check_arrays(op, param, grad, **state):
    """param, grad and the state arrays (None allowed for :data:`OPTIONAL_STATE` only): float, C-contiguous,
    one dtype, device and shape; param writeable."""
    array(op, "param", param)
    array(op, "grad", grad)
    for k, v in state.items():
        if v is not None or k not in OPTIONAL_STATE:
            array(op, k, v)
    same_dtype(op, param=param, grad=grad, **state)
    same_device(op, param=param, grad=grad, **state)
    for k, v in [("grad", grad), *state.items()]:
        if v is not None and v.shape != param.shape:
            raise ValueError(f"{op}: {k} must have the shape of param {tuple(param.shape)}, got {tuple(v.shape)}")
    if not param.flags.writeable:
        raise ValueError(f"{op}: param is read-only")


def hyper(op, name, v, lo=0.0, hi=math.inf, hi_open=False) -> float:
    """A real hyperparameter (not a bool) in [lo, hi] (or [lo, hi) with hi_open); TypeError / ValueError
    otherwise."""
    v = real(op, name, v)
    ok = math.isfinite(v) and v >= lo and (v < hi if hi_open else v <= hi)
    if not ok:
        rng = f"[{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{op}: {name} must be in {rng}, got {v!r}")
    return v


def plain_numbers(*values) -> bool:
    """True when every value is a Python float or int (not bool): the compiled kernels then check the
    ranges themselves and the Python checks can be skipped."""
    for v in values:
        t = type(v)
        if t is not float and t is not int:
            return False
    return True


def check_step(op, step) -> int:
    """The 1-based step count: an int (Python or NumPy, not bool) in [1, MAX_STEP]; ValueError otherwise."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or not 1 <= step <= MAX_STEP:
        raise ValueError(f"{op}: step must be the 1-based step count (an int in [1, 2^63 - 2]), got {step!r}")
    return int(step)


def sgd_hypers(op, lr, momentum, dampening, nesterov, weight_decay, momentum_buffer):
    """(lr, momentum, dampening, nesterov, weight_decay) of sgd_step, checked."""
    lr, momentum = hyper(op, "lr", lr), hyper(op, "momentum", momentum)
    dampening, wd = hyper(op, "dampening", dampening, 0, 1), hyper(op, "weight_decay", weight_decay)
    nesterov = flag(op, "nesterov", nesterov)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{op}: nesterov needs momentum > 0 and dampening = 0, got momentum={momentum} "
                         f"dampening={dampening}")
    if momentum > 0 and momentum_buffer is None:
        raise ValueError(f"{op}: momentum={momentum} needs a momentum_buffer")
    return lr, momentum, dampening, nesterov, wd


def adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay):
    """(step, lr, beta1, beta2, eps, weight_decay) of adam_step / adamw_step / adamax_step, checked."""
    t = check_step(op, step)
    lr, eps, wd = hyper(op, "lr", lr), hyper(op, "eps", eps), hyper(op, "weight_decay", weight_decay)
    b1, b2 = hyper(op, "beta1", beta1, 0, 1, True), hyper(op, "beta2", beta2, 0, 1, True)
    return t, lr, b1, b2, eps, wd


def rmsprop_hypers(op, lr, rho, eps, momentum, centered, weight_decay, momentum_buffer, grad_avg):
    """(lr, rho, eps, momentum, centered, weight_decay) of rmsprop_step, checked."""
    lr, rho, eps = hyper(op, "lr", lr), hyper(op, "rho", rho, 0, 1, True), hyper(op, "eps", eps)
    momentum, wd = hyper(op, "momentum", momentum), hyper(op, "weight_decay", weight_decay)
    centered = flag(op, "centered", centered)
    if momentum > 0 and momentum_buffer is None:
        raise ValueError(f"{op}: momentum={momentum} needs a momentum_buffer")
    if centered and grad_avg is None:
        raise ValueError(f"{op}: centered=True needs a grad_avg array")
    return lr, rho, eps, momentum, centered, wd


def adagrad_hypers(op, lr, eps, weight_decay):
    """(lr, eps, weight_decay) of adagrad_step, checked."""
    return hyper(op, "lr", lr), hyper(op, "eps", eps), hyper(op, "weight_decay", weight_decay)


def adadelta_hypers(op, lr, rho, eps, weight_decay):
    """(lr, rho, eps, weight_decay) of adadelta_step, checked."""
    return (hyper(op, "lr", lr), hyper(op, "rho", rho, 0, 1, True), hyper(op, "eps", eps),
            hyper(op, "weight_decay", weight_decay))


def lion_hypers(op, lr, beta1, beta2, weight_decay):
    """(lr, beta1, beta2, weight_decay) of lion_step, checked: betas in [0, 1] (Chen et al. 2023 allow both ends)."""
    return (hyper(op, "lr", lr), hyper(op, "beta1", beta1, 0, 1), hyper(op, "beta2", beta2, 0, 1),
            hyper(op, "weight_decay", weight_decay))


def ftrl_hypers(op, lr, lr_power, l1, l2, l2_shrinkage, beta):
    """(lr, lr_power, l1, l2, l2_shrinkage, beta) of ftrl_step, checked: lr > 0 (the rule divides by it),
    lr_power <= 0 (Keras's bound), the rest >= 0."""
    lr = hyper(op, "lr", lr)
    if lr == 0:
        raise ValueError(f"{op}: lr must be > 0 (the FTRL rule divides by it), got 0.0")
    lr_power = hyper(op, "lr_power", lr_power, -math.inf, 0)
    return (lr, lr_power, hyper(op, "l1", l1), hyper(op, "l2", l2), hyper(op, "l2_shrinkage", l2_shrinkage),
            hyper(op, "beta", beta))


def adafactor_arrays(op, param, grad, row_var, col_var, variance) -> bool:
    """Adafactor's arrays: param and grad as every step's; for a param of rank >= 2 (factored: returns True)
    row_var of shape param.shape[:-1] and col_var of shape param.shape[:-2] + param.shape[-1:], variance None;
    otherwise variance of param's shape, row_var and col_var None. One dtype and device; state writeable."""
    array(op, "param", param)
    factored = param.ndim >= 2
    if factored:
        if variance is not None:
            raise ValueError(f"{op}: variance must be None for a parameter of rank >= 2 (its second moment is "
                             f"factored into row_var and col_var), got param shape {tuple(param.shape)}")
        want = {"row_var": tuple(param.shape[:-1]), "col_var": tuple(param.shape[:-2]) + (param.shape[-1],)}
        state = {"row_var": row_var, "col_var": col_var}
    else:
        if row_var is not None or col_var is not None:
            raise ValueError(f"{op}: row_var and col_var must be None for a parameter of rank < 2 (its second "
                             f"moment is the full variance), got param shape {tuple(param.shape)}")
        want = {"variance": tuple(param.shape)}
        state = {"variance": variance}
    array(op, "grad", grad)
    for k, v in state.items():
        array(op, k, v)
    same_dtype(op, param=param, grad=grad, **state)
    same_device(op, param=param, grad=grad, **state)
    if grad.shape != param.shape:
        raise ValueError(f"{op}: grad must have the shape of param {tuple(param.shape)}, got {tuple(grad.shape)}")
    for k, v in state.items():
        if tuple(v.shape) != want[k]:
            raise ValueError(f"{op}: {k} must have shape {want[k]} for param {tuple(param.shape)}, got "
                             f"{tuple(v.shape)}")
        if not v.flags.writeable:
            raise ValueError(f"{op}: {k} is read-only")
    if not param.flags.writeable:
        raise ValueError(f"{op}: param is read-only")
    return factored


def adafactor_hypers(op, step, lr, beta_2_decay, epsilon_1, epsilon_2, clip_threshold):
    """(step, lr, beta_2_decay, epsilon_1, epsilon_2, clip_threshold) of adafactor_step, checked: lr, epsilons
    >= 0, beta_2_decay <= 0 (so 1 - step^beta_2_decay is in [0, 1)), clip_threshold > 0."""
    clip = hyper(op, "clip_threshold", clip_threshold)
    if clip == 0:
        raise ValueError(f"{op}: clip_threshold must be > 0, got 0.0")
    return (check_step(op, step), hyper(op, "lr", lr), hyper(op, "beta_2_decay", beta_2_decay, -math.inf, 0),
            hyper(op, "epsilon_1", epsilon_1), hyper(op, "epsilon_2", epsilon_2), clip)


def nadam_mu(beta1, t):
    """mu_t = beta1 (1 - 0.5 * 0.96^(0.004 t)), Nadam's momentum schedule (Dozat 2016; Keras, PyTorch)."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (0.004 * t))


def nadam_mu_product(beta1, step):
    """P_step = mu_1 * ... * mu_step, multiplied left to right as an optimizer keeping it in its state
    does (torch.optim.NAdam's ``mu_product``, Keras' ``u_product``), in at most :data:`NADAM_MU_SETTLED`
    multiplications: past that step every mu_t equals beta1, so the rest is beta1^(step - NADAM_MU_SETTLED).
    Stops early once the product underflows to 0 (every mu_t is finite, so it stays 0)."""
    p = 1.0
    for i in range(1, min(step, NADAM_MU_SETTLED) + 1):
        p *= nadam_mu(beta1, i)
        if p == 0.0:
            return 0.0
    if step > NADAM_MU_SETTLED:
        p *= beta1 ** (step - NADAM_MU_SETTLED)
    return p


def nadam_hypers(op, step, lr, beta1, beta2, eps, weight_decay, mu_product):
    """adam_hypers plus Nadam's P_step: ``mu_product`` (a real in [0, 1)) when given, else computed by
    :func:`nadam_mu_product`. Returns (step, lr, beta1, beta2, eps, weight_decay, mu_product)."""
    t, lr, b1, b2, eps, wd = adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay)
    if mu_product is None:
        mu_product = nadam_mu_product(b1, t)
    else:
        mu_product = hyper(op, "mu_product", mu_product, 0, 1, True)
    return t, lr, b1, b2, eps, wd, mu_product



def check_entries(op, params, grads, **states):
    """The lists of a multi-tensor step (``adam_step_multi``): params, grads and each state list
    (max_exp_avg_sqs may be None: no AMSGrad) are lists or tuples of one length >= 1 (TypeError /
    ValueError); entry i of each is a float, C-contiguous array of params[0]'s dtype and device and
    params[i]'s shape, non-empty, writeable except the grads (messages name it as ``exp_avgs[1]``, as the
    compiled module does). Returns the number of entries."""
    lists = {"params": params, "grads": grads,
             **{k: v for k, v in states.items() if v is not None or k != "max_exp_avg_sqs"}}
    for k, v in lists.items():
        if not isinstance(v, (list, tuple)):
            is_array = hasattr(v, "shape") or hasattr(v, "__cuda_array_interface__")
            got = "a single array" if is_array else type(v).__name__   # as the compiled modules say
            raise TypeError(f"{op}: {k} must be a list of arrays, got {got}")
    n = len(params)
    if n == 0:
        raise ValueError(f"{op}: params is empty (give at least one parameter)")
    if any(len(v) != n for v in lists.values()):
        raise ValueError(f"{op}: {', '.join(lists)} must have one entry per parameter, got lengths "
                         f"{', '.join(str(len(v)) for v in lists.values())}")
    for i in range(n):
        named = {f"{k}[{i}]": v[i] for k, v in lists.items()}
        for k, v in named.items():
            array(op, k, v)
        p = params[i]
        same_dtype(op, **{"params[0]": params[0], **named})
        same_device(op, **{"params[0]": params[0], **named})
        for k, v in named.items():
            if v.shape != p.shape:
                raise ValueError(f"{op}: {k} must have the shape of params[{i}] {tuple(p.shape)}, got {tuple(v.shape)}")
        if p.size == 0:
            raise ValueError(f"{op}: params[{i}] is empty (shape {tuple(p.shape)})")
        for k, v in named.items():
            if not k.startswith("grads") and not v.flags.writeable:
                raise ValueError(f"{op}: output {k} is read-only")
    return n

__all__ = ["MAX_STEP", "NADAM_MU_SETTLED", "OPTIONAL_STATE", "adadelta_hypers", "adagrad_hypers", "adam_hypers",
           "check_arrays", "check_entries", "check_step", "ftrl_hypers", "hyper", "lion_hypers", "nadam_hypers",
           "nadam_mu", "nadam_mu_product", "plain_numbers", "rmsprop_hypers", "sgd_hypers"]
