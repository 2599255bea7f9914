"""fastann.ops: fused optimizer updates, one pass over each parameter, in place.

Each ``*_step(param, grad, <state arrays>, *, <hyperparameters>)`` reads ``grad`` and the optimizer state
once and writes ``param`` and the state once, in place, and returns None. The state arrays are created by
the caller (zeros, or Adagrad's initial accumulator value) with param's shape and dtype. ``step`` is the
1-based step count used for bias correction. Weight decay is L2 (added to the gradient, as torch.optim)
except in AdamW and Lion (decoupled); Ftrl has its own regularization terms. Each rule is written out in its docstring and in
:mod:`fastann.reference.optim`; the sources are the torch.optim algorithm boxes
(https://pytorch.org/docs/stable/optim.html) and the papers cited there. eps defaults to Keras' 1e-7.

Arrays: float32/float64 NumPy (CPU) or CuPy (CUDA), C-contiguous, non-empty, all of one dtype; the state
arrays and grad must have param's shape (ValueError otherwise); param and state must be writeable.
Raises TypeError for a non-array, a dtype mismatch or a hyperparameter that is not a real number (a bool
is not: ``lr=True`` is refused) or a flag (nesterov, centered) that is not a bool; ValueError for shapes,
contiguity, a step outside [1, 2^63 - 2], or a hyperparameter out of range (lr < 0, beta outside [0, 1),
...). NaN in grad or state propagates to param.
"""
from __future__ import annotations

import numpy as np

from .. import _backend
from .._args.optim import (OPTIONAL_STATE, adadelta_hypers, adafactor_arrays, adafactor_hypers, adagrad_hypers,
                           adam_hypers, check_arrays, check_entries, check_step, ftrl_hypers, lion_hypers, nadam_hypers,
                           plain_numbers, rmsprop_hypers, sgd_hypers)
from ._common import backend

__all__ = ["sgd_step", "adam_step", "adamw_step", "adam_step_multi", "adamw_step_multi", "rmsprop_step",
           "adagrad_step", "adadelta_step", "adamax_step", "nadam_step", "lion_step", "ftrl_step", "adafactor_step"]


def _kernels(op, param, grad, **state):
    """The compiled module for these arrays, after the Python-side checks.

    A training step calls these once per parameter array, so the common case takes a short path: when
    every array is a plain NumPy ndarray, fastann._cpu checks dtype, shape, contiguity, writeability and
    emptiness itself (raising the same TypeError / ValueError classes), and the ~10 us of Python checks
    are skipped. Anything else (CuPy arrays, lists, mixtures) goes through the full checks.
    """
    if type(param) is np.ndarray and type(grad) is np.ndarray and all(
            type(v) is np.ndarray or (v is None and k in OPTIONAL_STATE) for k, v in state.items()):
        return _backend.cpu
    check_arrays(op, param, grad, **state)
    return backend(op, param=param, grad=grad, **state)[0]


def _adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay):
    """The step and hyperparameters of the Adam family: the step is always checked (it must fit the
    kernels' int64); plain Python numbers go to the kernels, which check their ranges; anything else (a
    bool, a NumPy scalar) through the Python checks."""
    if plain_numbers(lr, beta1, beta2, eps, weight_decay):
        return check_step(op, step), lr, beta1, beta2, eps, weight_decay
    return adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay)


def sgd_step(param, grad, momentum_buffer=None, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
             weight_decay=0.0):
    """Stochastic gradient descent, in place (torch.optim.SGD)::

        g = grad + weight_decay * param
        if momentum > 0:  buf = momentum * buf + (1 - dampening) * g
                          g = g + momentum * buf  (nesterov)  or  g = buf
        param -= lr * g

    momentum_buffer: required when momentum > 0 (start it at zeros; PyTorch starts it at the first g,
    which is the same unless dampening > 0). nesterov needs momentum > 0 and dampening = 0.
    """
    op = "sgd_step"
    k = _kernels(op, param, grad, momentum_buffer=momentum_buffer)
    if not (plain_numbers(lr, momentum, dampening, weight_decay) and type(nesterov) is bool):
        lr, momentum, dampening, nesterov, weight_decay = sgd_hypers(op, lr, momentum, dampening, nesterov,
                                                                     weight_decay, momentum_buffer)
    k.sgd_step(param, momentum_buffer, grad, lr, momentum, dampening, nesterov, weight_decay)


def adam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
              weight_decay=0.0, max_exp_avg_sq=None):
    """Adam, in place (Kingma & Ba 2015, Algorithm 1; torch.optim.Adam; AMSGrad, Reddi et al. 2018)::

        g = grad + weight_decay * param                       (L2 weight decay)
        m = beta1 * m + (1 - beta1) * g ;  v = beta2 * v + (1 - beta2) * g^2
        if max_exp_avg_sq is given (AMSGrad):  vmax = max(vmax, v) ;  v = vmax
        param -= lr / (1 - beta1^step) * m / (sqrt(v / (1 - beta2^step)) + eps)

    exp_avg (m), exp_avg_sq (v), max_exp_avg_sq: state arrays of param's shape, starting at zeros.
    """
    op = "adam_step"
    k = _kernels(op, param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq, max_exp_avg_sq=max_exp_avg_sq)
    step, lr, beta1, beta2, eps, weight_decay = _adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay)
    k.adam_step(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, step, lr, beta1, beta2, eps, weight_decay)


def adamw_step(param, grad, exp_avg, exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
               weight_decay=0.004, max_exp_avg_sq=None):
    """AdamW, in place (Loshchilov & Hutter 2019, decoupled weight decay; torch.optim.AdamW, Keras AdamW)::

        param *= 1 - lr * weight_decay
        then the Adam update of :func:`adam_step` with g = grad (no L2 term)
    """
    op = "adamw_step"
    k = _kernels(op, param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq, max_exp_avg_sq=max_exp_avg_sq)
    step, lr, beta1, beta2, eps, weight_decay = _adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay)
    k.adamw_step(param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, step, lr, beta1, beta2, eps, weight_decay)


def _plain_lists(*lists):
    """True when every list that is not None is a list of NumPy ndarrays."""
    for v in lists:
        if v is None:
            continue
        if type(v) is not list:
            return False
        for a in v:
            if type(a) is not np.ndarray:
                return False
    return True


def _kernels_multi(op, params, grads, **states):
    """:func:`_kernels` for the lists of a multi-tensor step: fastann._cpu straight away when every list is a
    list of plain NumPy ndarrays (it checks each entry itself), else the Python checks of every entry and
    the backend of all the arrays."""
    if _plain_lists(params, grads, *states.values()):
        return _backend.cpu
    check_entries(op, params, grads, **states)
    named = {f"{k}[{i}]": a for k, v in (("params", params), ("grads", grads), *states.items()) if v is not None
             for i, a in enumerate(v)}
    return backend(op, **named)[0]


def adam_step_multi(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
                    weight_decay=0.0, max_exp_avg_sqs=None):
    """:func:`adam_step` on several parameters in one call: entry i of the lists ``params``, ``grads``,
    ``exp_avgs``, ``exp_avg_sqs`` (and ``max_exp_avg_sqs``, AMSGrad, or None) is updated exactly as
    ``adam_step(params[i], grads[i], exp_avgs[i], exp_avg_sqs[i], max_exp_avg_sq=max_exp_avg_sqs[i], ...)``
    would, with the same step and hyperparameters (the result bits are those of the per-parameter calls). One
    Python call per training step instead of one per parameter (torch.optim's multi-tensor ``foreach`` form).

    Lists of one length >= 1; every array of params[0]'s dtype, on one device, each entry as adam_step wants
    it. Raises TypeError for a list argument that is not a list, ValueError for lengths that differ, an
    empty list, or an array written for one entry (param or state) that shares memory with an array of
    another entry; the other errors as adam_step (naming the entry). Every check passes before any array
    is written.
    """
    op = "adam_step_multi"
    k = _kernels_multi(op, params, grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs, max_exp_avg_sqs=max_exp_avg_sqs)
    step, lr, beta1, beta2, eps, weight_decay = _adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay)
    k.adam_step_multi(params, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, grads, step, lr, beta1, beta2, eps,
                      weight_decay)


def adamw_step_multi(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7,
                     weight_decay=0.004, max_exp_avg_sqs=None):
    """:func:`adamw_step` on several parameters in one call, as :func:`adam_step_multi` is to adam_step
    (same lists, checks and errors)."""
    op = "adamw_step_multi"
    k = _kernels_multi(op, params, grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs, max_exp_avg_sqs=max_exp_avg_sqs)
    step, lr, beta1, beta2, eps, weight_decay = _adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay)
    k.adamw_step_multi(params, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, grads, step, lr, beta1, beta2, eps,
                       weight_decay)


def rmsprop_step(param, grad, square_avg, momentum_buffer=None, grad_avg=None, *, lr, rho=0.9, eps=1e-7,
                 momentum=0.0, centered=False, weight_decay=0.0):
    """RMSprop, in place (Hinton, lecture 6e; centered form Graves 2013; torch.optim.RMSprop, alpha = rho)::

        g = grad + weight_decay * param
        s = rho * s + (1 - rho) * g^2                         (square_avg)
        if centered:  a = rho * a + (1 - rho) * g ;  s' = s - a^2    (grad_avg)   else s' = s
        d = g / (sqrt(s') + eps)
        if momentum > 0:  buf = momentum * buf + d ;  param -= lr * buf   else  param -= lr * d

    momentum_buffer: required when momentum > 0; grad_avg: required when centered.
    """
    op = "rmsprop_step"
    k = _kernels(op, param, grad, square_avg=square_avg, momentum_buffer=momentum_buffer, grad_avg=grad_avg)
    if not (plain_numbers(lr, rho, eps, momentum, weight_decay) and type(centered) is bool):
        lr, rho, eps, momentum, centered, weight_decay = rmsprop_hypers(op, lr, rho, eps, momentum, centered,
                                                                        weight_decay, momentum_buffer, grad_avg)
    if centered and grad_avg is None:
        raise ValueError(f"{op}: centered=True needs a grad_avg array")
    k.rmsprop_step(param, square_avg, momentum_buffer, grad_avg if centered else None, grad, lr, rho, eps,
                   momentum, weight_decay)


def adagrad_step(param, grad, accumulator, *, lr, eps=1e-7, weight_decay=0.0):
    """Adagrad, in place (Duchi et al. 2011; torch.optim.Adagrad)::

        g = grad + weight_decay * param ;  acc += g^2 ;  param -= lr * g / (sqrt(acc) + eps)

    accumulator: state of param's shape starting at the initial accumulator value (Keras: 0.1, torch: 0).
    """
    k = _kernels("adagrad_step", param, grad, accumulator=accumulator)
    if not plain_numbers(lr, eps, weight_decay):
        lr, eps, weight_decay = adagrad_hypers("adagrad_step", lr, eps, weight_decay)
    k.adagrad_step(param, accumulator, grad, lr, eps, weight_decay)


def adadelta_step(param, grad, accum_grad, accum_update, *, lr=1.0, rho=0.95, eps=1e-7, weight_decay=0.0):
    """Adadelta, in place (Zeiler 2012; torch.optim.Adadelta)::

        g = grad + weight_decay * param
        s = rho * s + (1 - rho) * g^2                         (accum_grad)
        d = sqrt(u + eps) / sqrt(s + eps) * g
        u = rho * u + (1 - rho) * d^2                         (accum_update)
        param -= lr * d
    """
    k = _kernels("adadelta_step", param, grad, accum_grad=accum_grad, accum_update=accum_update)
    if not plain_numbers(lr, rho, eps, weight_decay):
        lr, rho, eps, weight_decay = adadelta_hypers("adadelta_step", lr, rho, eps, weight_decay)
    k.adadelta_step(param, accum_grad, accum_update, grad, lr, rho, eps, weight_decay)


def adamax_step(param, grad, exp_avg, exp_inf, *, step, lr, beta1=0.9, beta2=0.999, eps=1e-7, weight_decay=0.0):
    """Adamax, in place (Kingma & Ba 2015, section 7.1; torch.optim.Adamax)::

        g = grad + weight_decay * param
        m = beta1 * m + (1 - beta1) * g ;  u = max(beta2 * u, |g| + eps)
        param -= lr / (1 - beta1^step) * m / u
    """
    op = "adamax_step"
    k = _kernels(op, param, grad, exp_avg=exp_avg, exp_inf=exp_inf)
    step, lr, beta1, beta2, eps, weight_decay = _adam_hypers(op, step, lr, beta1, beta2, eps, weight_decay)
    k.adamax_step(param, exp_avg, exp_inf, grad, step, lr, beta1, beta2, eps, weight_decay)


def nadam_step(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1=0.9, beta2=0.999, eps=1e-7,
               weight_decay=0.0, mu_product=None):
    """Nadam, in place: Dozat 2016 with the momentum schedule, as keras.optimizers.Nadam and
    torch.optim.NAdam (momentum_decay = 0.004)::

        mu_t = beta1 * (1 - 0.5 * 0.96^(0.004 t)) ;  P_t = mu_1 * ... * mu_t
        g = grad + weight_decay * param
        m = beta1 * m + (1 - beta1) * g ;  v = beta2 * v + (1 - beta2) * g^2
        D = sqrt(v / (1 - beta2^t)) + eps
        param -= lr (1 - mu_t) / (1 - P_t) * g / D + lr mu_{t+1} / (1 - P_t mu_{t+1}) * m / D

    mu_product: P_step, the running product an optimizer keeps in its state (torch.optim.NAdam's
    ``mu_product``, Keras' ``u_product``: multiply it by mu_step before each step), a real in [0, 1); None
    computes it (:func:`fastann._args.optim.nadam_mu_product`: at most 230000 multiplications, then a
    power). P_t underflows to 0 for a small beta1 or a late step, which is fine: the rule divides by
    1 - P_t and 1 - P_t mu_{t+1}, never by P_t.

    Raises ValueError for step outside [1, 2^63 - 2] or mu_product outside [0, 1), TypeError for a bool or
    non-number hyperparameter, and the array errors of the other steps.
    """
    op = "nadam_step"
    k = _kernels(op, param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq)
    t, lr, beta1, beta2, eps, weight_decay, mu_product = nadam_hypers(op, step, lr, beta1, beta2, eps,
                                                                      weight_decay, mu_product)
    k.nadam_step(param, exp_avg, exp_avg_sq, grad, t, mu_product, lr, beta1, beta2, eps, weight_decay)


def lion_step(param, grad, exp_avg, *, lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=0.0):
    """Lion, in place (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2;
    keras.optimizers.Lion; decoupled weight decay as in the paper)::

        c = beta1 * m + (1 - beta1) * grad
        param = param * (1 - lr * weight_decay) - lr * sign(c)
        m = beta2 * m + (1 - beta2) * grad                    (exp_avg)

    exp_avg: state of param's shape starting at zeros. sign keeps NaN (as np.sign) and is 0 at 0.
    beta1, beta2 in [0, 1]; lr, weight_decay >= 0. Raises the errors of the module docstring.
    """
    op = "lion_step"
    k = _kernels(op, param, grad, exp_avg=exp_avg)
    if not plain_numbers(lr, beta1, beta2, weight_decay):
        lr, beta1, beta2, weight_decay = lion_hypers(op, lr, beta1, beta2, weight_decay)
    k.lion_step(param, exp_avg, grad, lr, beta1, beta2, weight_decay)


def ftrl_step(param, grad, accumulator, linear, *, lr=1e-3, lr_power=-0.5, l1=0.0, l2=0.0, l2_shrinkage=0.0,
              beta=0.0):
    """FTRL-Proximal, in place (McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches",
    Algorithm 1), in the form of keras.optimizers.Ftrl (with its shrinkage term and beta; the names are
    those of TensorFlow's ApplyFtrlV2)::

        n' = n + grad^2                                          (accumulator n)
        z  = z + grad + 2 l2_shrinkage param - (n'^(-lr_power) - n^(-lr_power)) / lr * param   (linear z)
        q  = n'^(-lr_power) / lr + 2 l2 + beta / lr
        param = (clip(z, -l1, l1) - z) / q ;  n = n'

    accumulator: starts at the initial accumulator value (Keras: 0.1, >= 0); linear: starts at zeros.
    lr > 0 (the rule divides by it), lr_power <= 0 (-0.5 is the paper's 1/sqrt(n) rate and runs a sqrt,
    any other value a pow), l1, l2, l2_shrinkage, beta >= 0. Raises the errors of the module docstring.
    """
    op = "ftrl_step"
    k = _kernels(op, param, grad, accumulator=accumulator, linear=linear)
    if not plain_numbers(lr, lr_power, l1, l2, l2_shrinkage, beta):
        lr, lr_power, l1, l2, l2_shrinkage, beta = ftrl_hypers(op, lr, lr_power, l1, l2, l2_shrinkage, beta)
    k.ftrl_step(param, accumulator, linear, grad, lr, lr_power, l1, l2, l2_shrinkage, beta)


def adafactor_step(param, grad, row_var=None, col_var=None, variance=None, *, step, lr=1e-3, beta_2_decay=-0.8,
                   epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0):
    """Adafactor, in place (Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory
    Cost"), as keras.optimizers.Adafactor's update_step (t = step)::

        rho = min(lr, 1 / sqrt(t));  beta2 = 1 - t^beta_2_decay;  G = grad^2 + epsilon_1
        rank >= 2 (the last two axes factored):
            row_var = beta2 row_var + (1 - beta2) mean(G, axis=-1)     shape param.shape[:-1]
            col_var = beta2 col_var + (1 - beta2) mean(G, axis=-2)     shape param.shape[:-2] + param.shape[-1:]
            v = row_var / mean(row_var, axis=-1) (outer) col_var
        rank < 2:  variance = beta2 variance + (1 - beta2) G;  v = variance
        u = grad / sqrt(v)
        param -= max(epsilon_2, rms(param)) * rho * u / max(1, rms(u) / clip_threshold)

    rms is over the whole parameter (param before the update). The state starts at zeros; row_var and
    col_var are given for a parameter of rank >= 2 (variance None), variance otherwise (row_var, col_var
    None); the names are torch.optim.Adafactor's. Keras's relative_step changes nothing in this rule
    (rho is min(lr, 1/sqrt(t)) either way), so it is not an argument here.
    step >= 1; lr, epsilon_1, epsilon_2 >= 0; beta_2_decay <= 0; clip_threshold > 0. Raises the errors of the
    module docstring, and ValueError for state arrays of the wrong shapes or given where the other form is
    expected.
    """
    op = "adafactor_step"
    adafactor_arrays(op, param, grad, row_var, col_var, variance)
    t, lr, decay, eps1, eps2, clip = adafactor_hypers(op, step, lr, beta_2_decay, epsilon_1, epsilon_2,
                                                      clip_threshold)
    k = backend(op, param=param, grad=grad, row_var=row_var, col_var=col_var, variance=variance)[0]
    k.adafactor_step(param, row_var, col_var, variance, grad, t, lr, decay, eps1, eps2, clip)
