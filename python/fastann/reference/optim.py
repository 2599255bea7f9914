"""fastann.reference: the fused optimizer steps in plain NumPy float64.

Each ``*_step`` updates ``param`` and its state arrays IN PLACE (computing in float64, writing back in the
arrays' dtype) and returns None, exactly like fastann.ops. The rules are those of torch.optim (the
algorithm boxes of https://pytorch.org/docs/stable/optim.html), with Keras' default eps = 1e-7:

- SGD: g = grad + wd p; b = momentum b + (1 - dampening) g; g = g + momentum b (nesterov) or b; p -= lr g.
  The buffer starts at zeros (PyTorch starts it at the first g: identical unless dampening > 0).
- Adam (Kingma & Ba 2015, Algorithm 1): g = grad + wd p (L2); m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  AMSGrad (Reddi et al. 2018): vmax = max(vmax, v), used for v; p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps).
- AdamW (Loshchilov & Hutter 2019): p *= 1 - lr wd, then Adam with g = grad.
- RMSprop (Hinton, Coursera lecture 6e; centered: Graves 2013): s = rho s + (1 - rho) g^2; centered:
  a = rho a + (1 - rho) g, s' = s - a^2; d = g / (sqrt(s') + eps); momentum: b = momentum b + d, p -= lr b.
- Adagrad (Duchi et al. 2011): acc += g^2; p -= lr g / (sqrt(acc) + eps).
- Adadelta (Zeiler 2012): s = rho s + (1 - rho) g^2; d = sqrt(u + eps) / sqrt(s + eps) g;
  u = rho u + (1 - rho) d^2; p -= lr d.
- Adamax (Kingma & Ba 2015, sec. 7.1): m = b1 m + (1 - b1) g; u = max(b2 u, |g| + eps); p -= lr / (1 - b1^t) m / u.
- Nadam (Dozat 2016, as keras.optimizers.Nadam and torch.optim.NAdam): mu_t = b1 (1 - 0.5 * 0.96^(0.004 t)),
  P_t = mu_1 ... mu_t; m, v as Adam; p -= lr (1 - mu_t) / (1 - P_t) g / D + lr mu_{t+1} / (1 - P_t mu_{t+1}) m / D,
  D = sqrt(v / (1 - b2^t)) + eps.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._checks import array, same_device, same_dtype

__all__ = ["sgd_step", "adam_step", "adamw_step", "rmsprop_step", "adagrad_step", "adadelta_step",
           "adamax_step", "nadam_step", "nadam_mu", "nadam_mu_product"]


# ---- argument checks shared with fastann.ops.optim ------------------------------------------------------
def check_arrays(op, param, grad, **state):
    """param, grad and the (non-None) state arrays: float, C-contiguous, one dtype, device and shape."""
    array(op, "param", param)
    array(op, "grad", grad)
    for k, v in state.items():
        if v is not None:
            array(op, k, v)
    same_dtype(op, param=param, grad=grad, **state)
    same_device(op, param=param, grad=grad, **state)
    for k, v in [("grad", grad), *state.items()]:
        if v is not None and v.shape != param.shape:
            raise ValueError(f"{op}: {k} must have the shape of param {tuple(param.shape)}, got {tuple(v.shape)}")
    if not param.flags.writeable:
        raise ValueError(f"{op}: param is read-only")


def hyper(op, name, v, lo=0.0, hi=math.inf, hi_open=False) -> float:
    """A real hyperparameter in [lo, hi] (or [lo, hi) with hi_open); TypeError / ValueError otherwise."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(v).__name__}")
    v = float(v)
    ok = math.isfinite(v) and v >= lo and (v < hi if hi_open else v <= hi)
    if not ok:
        rng = f"[{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{op}: {name} must be in {rng}, got {v!r}")
    return v


def check_step(op, step) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
        raise ValueError(f"{op}: step must be the 1-based step count (an int >= 1), got {step!r}")
    return int(step)


def nadam_mu(beta1, t):
    """mu_t = beta1 (1 - 0.5 * 0.96^(0.004 t)), Nadam's momentum schedule (Dozat 2016; Keras, PyTorch)."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (0.004 * t))


def nadam_mu_product(beta1, step):
    """P_step = mu_1 * ... * mu_step (O(step) here; fastann.ops keeps it incrementally)."""
    p = 1.0
    for i in range(1, step + 1):
        p *= nadam_mu(beta1, i)
    return p


def _f(a):
    return np.asarray(a, dtype=np.float64)


# ---- the update rules -------------------------------------------------------------------------------
def sgd_step(param, grad, momentum_buffer=None, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
             weight_decay=0.0):
    """SGD with momentum / nesterov / L2 weight decay, in place (torch.optim.SGD)."""
    op = "sgd_step"
    check_arrays(op, param, grad, momentum_buffer=momentum_buffer)
    lr, momentum = hyper(op, "lr", lr), hyper(op, "momentum", momentum)
    dampening, wd = hyper(op, "dampening", dampening, 0, 1), hyper(op, "weight_decay", weight_decay)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{op}: nesterov needs momentum > 0 and dampening = 0, got momentum={momentum} "
                         f"dampening={dampening}")
    if momentum > 0 and momentum_buffer is None:
        raise ValueError(f"{op}: momentum={momentum} needs a momentum_buffer")
    p, g = _f(param), _f(grad)
    g = g + wd * p
    if momentum > 0:
        b = momentum * _f(momentum_buffer) + (1.0 - dampening) * g
        momentum_buffer[...] = b
        g = g + momentum * b if nesterov else b
    param[...] = p - lr * g


def _adam(op, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
          decoupled):
    check_arrays(op, param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq, max_exp_avg_sq=max_exp_avg_sq)
    t = check_step(op, step)
    lr, eps, wd = hyper(op, "lr", lr), hyper(op, "eps", eps), hyper(op, "weight_decay", weight_decay)
    b1, b2 = hyper(op, "beta1", beta1, 0, 1, True), hyper(op, "beta2", beta2, 0, 1, True)
    p, g = _f(param), _f(grad)
    if decoupled:
        p = p * (1.0 - lr * wd)
    else:
        g = g + wd * p
    m = b1 * _f(exp_avg) + (1.0 - b1) * g
    v = b2 * _f(exp_avg_sq) + (1.0 - b2) * g * g
    exp_avg[...], exp_avg_sq[...] = m, v
    if max_exp_avg_sq is not None:
        v = np.maximum(v, _f(max_exp_avg_sq))  # np.maximum propagates NaN
        max_exp_avg_sq[...] = v
    param[...] = p - lr / (1.0 - b1**t) * m / (np.sqrt(v / (1.0 - b2**t)) + eps)


def adam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
              weight_decay=0.0, max_exp_avg_sq=None):
    """Adam (L2 weight decay; AMSGrad when max_exp_avg_sq is given), in place (torch.optim.Adam)."""
    _adam("adam_step", param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
          weight_decay, False)


def adamw_step(param, grad, exp_avg, exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
               weight_decay=0.004, max_exp_avg_sq=None):
    """AdamW (decoupled weight decay), in place (torch.optim.AdamW; Keras AdamW's default wd 0.004)."""
    _adam("adamw_step", param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
          weight_decay, True)


def rmsprop_step(param, grad, square_avg, momentum_buffer=None, grad_avg=None, *, lr, rho=0.9, eps=1e-7,
                 momentum=0.0, centered=False, weight_decay=0.0):
    """RMSprop (momentum, centered), in place (torch.optim.RMSprop with alpha = rho)."""
    op = "rmsprop_step"
    check_arrays(op, param, grad, square_avg=square_avg, momentum_buffer=momentum_buffer, grad_avg=grad_avg)
    lr, rho, eps = hyper(op, "lr", lr), hyper(op, "rho", rho, 0, 1, True), hyper(op, "eps", eps)
    momentum, wd = hyper(op, "momentum", momentum), hyper(op, "weight_decay", weight_decay)
    if momentum > 0 and momentum_buffer is None:
        raise ValueError(f"{op}: momentum={momentum} needs a momentum_buffer")
    if centered and grad_avg is None:
        raise ValueError(f"{op}: centered=True needs a grad_avg array")
    p = _f(param)
    g = _f(grad) + wd * p
    s = rho * _f(square_avg) + (1.0 - rho) * g * g
    square_avg[...] = s
    if centered:
        a = rho * _f(grad_avg) + (1.0 - rho) * g
        grad_avg[...] = a
        s = s - a * a
    d = g / (np.sqrt(s) + eps)
    if momentum > 0:
        d = momentum * _f(momentum_buffer) + d
        momentum_buffer[...] = d
    param[...] = p - lr * d


def adagrad_step(param, grad, accumulator, *, lr, eps=1e-7, weight_decay=0.0):
    """Adagrad, in place (torch.optim.Adagrad; the accumulator's initial value is the caller's)."""
    op = "adagrad_step"
    check_arrays(op, param, grad, accumulator=accumulator)
    lr, eps, wd = hyper(op, "lr", lr), hyper(op, "eps", eps), hyper(op, "weight_decay", weight_decay)
    p = _f(param)
    g = _f(grad) + wd * p
    acc = _f(accumulator) + g * g
    accumulator[...] = acc
    param[...] = p - lr * g / (np.sqrt(acc) + eps)


def adadelta_step(param, grad, accum_grad, accum_update, *, lr=1.0, rho=0.95, eps=1e-7, weight_decay=0.0):
    """Adadelta, in place (torch.optim.Adadelta)."""
    op = "adadelta_step"
    check_arrays(op, param, grad, accum_grad=accum_grad, accum_update=accum_update)
    lr, rho, eps = hyper(op, "lr", lr), hyper(op, "rho", rho, 0, 1, True), hyper(op, "eps", eps)
    wd = hyper(op, "weight_decay", weight_decay)
    p = _f(param)
    g = _f(grad) + wd * p
    s = rho * _f(accum_grad) + (1.0 - rho) * g * g
    u = _f(accum_update)
    d = np.sqrt(u + eps) / np.sqrt(s + eps) * g
    accum_grad[...] = s
    accum_update[...] = rho * u + (1.0 - rho) * d * d
    param[...] = p - lr * d


def adamax_step(param, grad, exp_avg, exp_inf, *, step, lr, beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0.0):
    """Adamax, in place (torch.optim.Adamax)."""
    op = "adamax_step"
    check_arrays(op, param, grad, exp_avg=exp_avg, exp_inf=exp_inf)
    t = check_step(op, step)
    lr, eps, wd = hyper(op, "lr", lr), hyper(op, "eps", eps), hyper(op, "weight_decay", weight_decay)
    b1, b2 = hyper(op, "beta1", beta1, 0, 1, True), hyper(op, "beta2", beta2, 0, 1, True)
    p = _f(param)
    g = _f(grad) + wd * p
    m = b1 * _f(exp_avg) + (1.0 - b1) * g
    u = np.maximum(b2 * _f(exp_inf), np.abs(g) + eps)  # np.maximum propagates NaN
    exp_avg[...], exp_inf[...] = m, u
    param[...] = p - lr / (1.0 - b1**t) * m / u


def nadam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1=0.9, beta2=0.999, eps=1e-7,
               weight_decay=0.0):
    """Nadam with Dozat's momentum schedule, in place (keras.optimizers.Nadam = torch.optim.NAdam)."""
    op = "nadam_step"
    check_arrays(op, param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq)
    t = check_step(op, step)
    lr, eps, wd = hyper(op, "lr", lr), hyper(op, "eps", eps), hyper(op, "weight_decay", weight_decay)
    b1, b2 = hyper(op, "beta1", beta1, 0, 1, True), hyper(op, "beta2", beta2, 0, 1, True)
    mu, mu_next = nadam_mu(b1, t), nadam_mu(b1, t + 1)
    prod = nadam_mu_product(b1, t)
    p = _f(param)
    g = _f(grad) + wd * p
    m = b1 * _f(exp_avg) + (1.0 - b1) * g
    v = b2 * _f(exp_avg_sq) + (1.0 - b2) * g * g
    exp_avg[...], exp_avg_sq[...] = m, v
    denom = np.sqrt(v / (1.0 - b2**t)) + eps
    param[...] = p - lr * (1.0 - mu) / (1.0 - prod) * g / denom - lr * mu_next / (1.0 - prod * mu_next) * m / denom
