"""fastann.reference: the fused optimizer steps in plain NumPy float64.

Each ``*_step`` updates ``param`` and its state arrays IN PLACE (computing in float64, writing back in the
arrays' dtype) and returns None, exactly like fastann.ops. The rules are those of torch.optim (the
algorithm boxes of https://pytorch.org/docs/stable/optim.html), with Keras' default eps = 1e-7:

The L2 term ``g = grad + wd p`` is added only when weight_decay != 0, as torch.optim does (so a +-inf
param keeps its gradient instead of 0 * inf = NaN).

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
- Lion (Chen et al. 2023, Algorithm 2; keras.optimizers.Lion): p = p (1 - lr wd) - lr sign(b1 m + (1 - b1) g);
  m = b2 m + (1 - b2) g.
- Ftrl (McMahan et al. 2013, Algorithm 1, in keras.optimizers.Ftrl's form): n' = n + g^2;
  z += g + 2 l2s p - (n'^-lrp - n^-lrp) / lr p; p = (clip(z, -l1, l1) - z) / (n'^-lrp / lr + 2 l2 + beta / lr).
- Adafactor (Shazeer & Stern 2018, as keras.optimizers.Adafactor's update_step): rho = min(lr, 1/sqrt(t)),
  b2 = 1 - t^beta_2_decay, G = g^2 + eps1; rank >= 2: r = b2 r + (1 - b2) mean(G, -1), c = b2 c + (1 - b2)
  mean(G, -2), v = r / mean(r, -1) outer c; else v = b2 v + (1 - b2) G; u = g / sqrt(v);
  p -= max(eps2, rms(p)) rho u / max(1, rms(u) / clip_threshold).
"""
from __future__ import annotations

import numpy as np

from .._args.optim import (adadelta_hypers, adafactor_arrays, adafactor_hypers, adagrad_hypers, adam_hypers,
                           check_arrays, check_entries, ftrl_hypers, lion_hypers, nadam_hypers, nadam_mu,
                           nadam_mu_product, rmsprop_hypers, sgd_hypers)

__all__ = ["sgd_step", "adam_step", "adamw_step", "adam_step_multi", "adamw_step_multi", "rmsprop_step",
           "adagrad_step", "adadelta_step", "adamax_step", "nadam_step", "lion_step", "ftrl_step", "adafactor_step",
           "nadam_mu", "nadam_mu_product"]


def _l2(g, wd, p):
    """g + wd p, or g itself when wd == 0 (torch.optim skips the term: no 0 * inf = NaN for a +-inf p)."""
    return g + wd * p if wd != 0 else g


def _f(a):
    return np.asarray(a, dtype=np.float64)


# ---- the update rules -------------------------------------------------------------------------------
def sgd_step(param, grad, momentum_buffer=None, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
             weight_decay=0.0):
    """SGD with momentum / nesterov / L2 weight decay, in place (torch.optim.SGD)."""
    op = "sgd_step"
    check_arrays(op, param, grad, momentum_buffer=momentum_buffer)
    lr, momentum, dampening, nesterov, wd = sgd_hypers(op, lr, momentum, dampening, nesterov, weight_decay,
                                                       momentum_buffer)
    p, g = _f(param), _f(grad)
    g = _l2(g, wd, p)
    if momentum > 0:
        b = momentum * _f(momentum_buffer) + (1.0 - dampening) * g
        momentum_buffer[...] = b
        g = g + momentum * b if nesterov else b
    param[...] = p - lr * g


def _adam(op, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
          decoupled):
    check_arrays(op, param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq, max_exp_avg_sq=max_exp_avg_sq)
    t, lr, b1, b2, eps, wd = adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay)
    p, g = _f(param), _f(grad)
    if decoupled:
        p = p * (1.0 - lr * wd)
    else:
        g = _l2(g, wd, p)
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


def adam_step_multi(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
                    weight_decay=0.0, max_exp_avg_sqs=None):
    """adam_step on entry i of each list, in order (the multi-tensor form of ops.adam_step_multi)."""
    _adam_multi("adam_step_multi", adam_step, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                dict(step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay))


def adamw_step_multi(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
                     weight_decay=0.004, max_exp_avg_sqs=None):
    """adamw_step on entry i of each list, in order (the multi-tensor form of ops.adamw_step_multi)."""
    _adam_multi("adamw_step_multi", adamw_step, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                dict(step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay))


def _adam_multi(op, single, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, hypers):
    n = check_entries(op, params, grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs, max_exp_avg_sqs=max_exp_avg_sqs)
    adam_hypers(op, **hypers)
    for i in range(n):
        single(params[i], grads[i], exp_avgs[i], exp_avg_sqs[i],
               max_exp_avg_sq=None if max_exp_avg_sqs is None else max_exp_avg_sqs[i], **hypers)


def rmsprop_step(param, grad, square_avg, momentum_buffer=None, grad_avg=None, *, lr, rho=0.9, eps=1e-7,
                 momentum=0.0, centered=False, weight_decay=0.0):
    """RMSprop (momentum, centered), in place (torch.optim.RMSprop with alpha = rho)."""
    op = "rmsprop_step"
    check_arrays(op, param, grad, square_avg=square_avg, momentum_buffer=momentum_buffer, grad_avg=grad_avg)
    lr, rho, eps, momentum, centered, wd = rmsprop_hypers(op, lr, rho, eps, momentum, centered, weight_decay,
                                                          momentum_buffer, grad_avg)
    p = _f(param)
    g = _l2(_f(grad), wd, p)
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
    lr, eps, wd = adagrad_hypers(op, lr, eps, weight_decay)
    p = _f(param)
    g = _l2(_f(grad), wd, p)
    acc = _f(accumulator) + g * g
    accumulator[...] = acc
    param[...] = p - lr * g / (np.sqrt(acc) + eps)


def adadelta_step(param, grad, accum_grad, accum_update, *, lr=1.0, rho=0.95, eps=1e-7, weight_decay=0.0):
    """Adadelta, in place (torch.optim.Adadelta)."""
    op = "adadelta_step"
    check_arrays(op, param, grad, accum_grad=accum_grad, accum_update=accum_update)
    lr, rho, eps, wd = adadelta_hypers(op, lr, rho, eps, weight_decay)
    p = _f(param)
    g = _l2(_f(grad), wd, p)
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
    t, lr, b1, b2, eps, wd = adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay)
    p = _f(param)
    g = _l2(_f(grad), wd, p)
    m = b1 * _f(exp_avg) + (1.0 - b1) * g
    u = np.maximum(b2 * _f(exp_inf), np.abs(g) + eps)  # np.maximum propagates NaN
    exp_avg[...], exp_inf[...] = m, u
    param[...] = p - lr / (1.0 - b1**t) * m / u


def nadam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1=0.9, beta2=0.999, eps=1e-7,
               weight_decay=0.0, mu_product=None):
    """Nadam with Dozat's momentum schedule, in place (keras.optimizers.Nadam = torch.optim.NAdam).

    mu_product: P_step = mu_1 ... mu_step as the caller keeps it, or None to compute it
    (:func:`nadam_mu_product`). P may be 0 (it underflows for small beta1 or late steps): the rule
    divides by 1 - P and 1 - P mu_{t+1}, never by P.
    """
    op = "nadam_step"
    check_arrays(op, param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq)
    t, lr, b1, b2, eps, wd, prod = nadam_hypers(op, step, lr, beta1, beta2, eps, weight_decay, mu_product)
    mu, mu_next = nadam_mu(b1, t), nadam_mu(b1, t + 1)
    p = _f(param)
    g = _l2(_f(grad), wd, p)
    m = b1 * _f(exp_avg) + (1.0 - b1) * g
    v = b2 * _f(exp_avg_sq) + (1.0 - b2) * g * g
    exp_avg[...], exp_avg_sq[...] = m, v
    denom = np.sqrt(v / (1.0 - b2**t)) + eps
    param[...] = p - lr * (1.0 - mu) / (1.0 - prod) * g / denom - lr * mu_next / (1.0 - prod * mu_next) * m / denom


def lion_step(param, grad, exp_avg, *, lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=0.0):
    """Lion with decoupled weight decay, in place (Chen et al. 2023, Algorithm 2; keras.optimizers.Lion)."""
    op = "lion_step"
    check_arrays(op, param, grad, exp_avg=exp_avg)
    lr, b1, b2, wd = lion_hypers(op, lr, beta1, beta2, weight_decay)
    p, g, m = _f(param), _f(grad), _f(exp_avg)
    param[...] = p * (1.0 - lr * wd) - lr * np.sign(b1 * m + (1.0 - b1) * g)
    exp_avg[...] = b2 * m + (1.0 - b2) * g


def ftrl_step(param, grad, accumulator, linear, *, lr=1e-3, lr_power=-0.5, l1=0.0, l2=0.0, l2_shrinkage=0.0,
              beta=0.0):
    """FTRL-Proximal as keras.optimizers.Ftrl (McMahan et al. 2013), in place; see fastann.ops.ftrl_step."""
    op = "ftrl_step"
    check_arrays(op, param, grad, accumulator=accumulator, linear=linear)
    lr, lr_power, l1, l2, l2s, beta = ftrl_hypers(op, lr, lr_power, l1, l2, l2_shrinkage, beta)
    p, g, n = _f(param), _f(grad), _f(accumulator)
    n_new = n + g * g
    z = _f(linear) + (g + 2.0 * l2s * p) - (n_new ** -lr_power - n ** -lr_power) / lr * p
    q = n_new ** -lr_power / lr + 2.0 * (l2 + beta / (2.0 * lr))
    param[...] = (np.clip(z, -l1, l1) - z) / q
    accumulator[...], linear[...] = n_new, z


def adafactor_step(param, grad, row_var=None, col_var=None, variance=None, *, step, lr=1e-3, beta_2_decay=-0.8,
                   epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0):
    """Adafactor as keras.optimizers.Adafactor's update_step (Shazeer & Stern 2018), in place; see
    fastann.ops.adafactor_step."""
    op = "adafactor_step"
    factored = adafactor_arrays(op, param, grad, row_var, col_var, variance)
    t, lr, decay, eps1, eps2, clip = adafactor_hypers(op, step, lr, beta_2_decay, epsilon_1, epsilon_2,
                                                      clip_threshold)
    p, g = _f(param), _f(grad)
    rho = min(lr, 1.0 / np.sqrt(t))
    alpha = max(eps2, np.sqrt(np.mean(p * p))) * rho
    sq = g * g + eps1
    b2 = 1.0 - float(t) ** decay
    if factored:
        r = b2 * _f(row_var) + (1.0 - b2) * sq.mean(axis=-1)
        c = b2 * _f(col_var) + (1.0 - b2) * sq.mean(axis=-2)
        row_var[...], col_var[...] = r, c
        v = (r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]
    else:
        v = b2 * _f(variance) + (1.0 - b2) * sq
        variance[...] = v
    u = g / np.sqrt(v)
    param[...] = p - alpha * u / max(1.0, np.sqrt(np.mean(u * u)) / clip)
