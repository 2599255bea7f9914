"""fastann.ops: losses with mean reduction, forward and backward.

Every forward returns a 0-d array of the input's dtype (``float(loss)`` works; on a GPU it stays on the
device). Every backward returns d(loss)/d(input) times an optional scalar ``grad_output`` (default 1.0): a
real number or an array of shape () or (1,) (what a forward returned, say); a bool is a TypeError.
Arrays: float32/float64 NumPy (CPU) or CuPy (CUDA), C-contiguous, non-empty. Raises TypeError for a wrong
type or dtype (mixed dtypes, a float 1-D class target), ValueError for mismatched shapes, an empty or
non-contiguous array, a class label outside [0, C) (naming it; checked by the compiled kernel), or eps
outside [0, 0.5). NaN in an input gives a NaN loss and NaN gradients. The math and its sources are in
:mod:`fastann.reference.loss` and docs/losses.md.
"""
from __future__ import annotations

import numpy as np

from .. import _backend
from .._args.loss import check_class_target, check_delta, check_eps, check_pair, scalar
from ._common import backend, empty

__all__ = [
    "mse_loss", "mse_loss_backward", "l1_loss", "l1_loss_backward",
    "binary_cross_entropy", "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward",
    "cross_entropy", "cross_entropy_backward", "cross_entropy_with_grad",
    "categorical_crossentropy", "categorical_crossentropy_backward",
    "huber_loss", "huber_loss_backward", "kl_divergence", "kl_divergence_backward",
    "hinge_loss", "hinge_loss_backward", "squared_hinge_loss", "squared_hinge_loss_backward",
    "log_cosh_loss", "log_cosh_loss_backward", "poisson_loss", "poisson_loss_backward",
]


def _scalar_out(xp, input):
    return empty(xp, (), input.dtype)


def mse_loss(input, target):
    """Mean squared error ``mean((input - target)^2)``.

    input, target: float32/float64 arrays of one shape (any ndim) and dtype. Returns a 0-d array.
    """
    check_pair("mse_loss", input, target)
    k, xp = backend("mse_loss", input=input, target=target)
    out = _scalar_out(xp, input)
    k.mse_loss_forward(out, input, target)
    return out


def mse_loss_backward(input, target, grad_output=1.0):
    """d mse_loss / d input = ``grad_output * 2 (input - target) / n`` (n = input.size)."""
    check_pair("mse_loss_backward", input, target)
    g = scalar("mse_loss_backward", "grad_output", grad_output)
    k, xp = backend("mse_loss_backward", input=input, target=target)
    dinput = empty(xp, input.shape, input.dtype)
    k.mse_loss_backward(dinput, input, target, g)
    return dinput


def l1_loss(input, target):
    """Mean absolute error ``mean|input - target|`` (Keras "mae"). Arrays as :func:`mse_loss`."""
    check_pair("l1_loss", input, target)
    k, xp = backend("l1_loss", input=input, target=target)
    out = _scalar_out(xp, input)
    k.l1_loss_forward(out, input, target)
    return out


def l1_loss_backward(input, target, grad_output=1.0):
    """``grad_output * sign(input - target) / n``: the subgradient, 0 where input == target."""
    check_pair("l1_loss_backward", input, target)
    g = scalar("l1_loss_backward", "grad_output", grad_output)
    k, xp = backend("l1_loss_backward", input=input, target=target)
    dinput = empty(xp, input.shape, input.dtype)
    k.l1_loss_backward(dinput, input, target, g)
    return dinput


def binary_cross_entropy(input, target, eps=1e-7):
    """Binary cross-entropy on PROBABILITIES, as Keras: p = clip(input, eps, 1 - eps),
    ``-mean(t log p + (1 - t) log(1 - p))``. input, target: arrays of one shape and dtype."""
    check_pair("binary_cross_entropy", input, target)
    eps = check_eps("binary_cross_entropy", eps)
    k, xp = backend("binary_cross_entropy", input=input, target=target)
    out = _scalar_out(xp, input)
    k.binary_cross_entropy_forward(out, input, target, eps)
    return out


def binary_cross_entropy_backward(input, target, grad_output=1.0, eps=1e-7):
    """``grad_output (p - t) / (p (1 - p)) / n`` where eps <= input <= 1 - eps, 0 where the clip is active."""
    check_pair("binary_cross_entropy_backward", input, target)
    eps = check_eps("binary_cross_entropy_backward", eps)
    g = scalar("binary_cross_entropy_backward", "grad_output", grad_output)
    k, xp = backend("binary_cross_entropy_backward", input=input, target=target)
    dinput = empty(xp, input.shape, input.dtype)
    k.binary_cross_entropy_backward(dinput, input, target, eps, g)
    return dinput


def binary_cross_entropy_with_logits(input, target):
    """Binary cross-entropy of sigmoid(input) in the stable form ``mean(max(x,0) - x t + log1p(exp(-|x|)))``
    (torch.nn.functional.binary_cross_entropy_with_logits). input: logits; target: same shape and dtype."""
    check_pair("binary_cross_entropy_with_logits", input, target)
    k, xp = backend("binary_cross_entropy_with_logits", input=input, target=target)
    out = _scalar_out(xp, input)
    k.binary_cross_entropy_with_logits_forward(out, input, target)
    return out


def binary_cross_entropy_with_logits_backward(input, target, grad_output=1.0):
    """``grad_output (sigmoid(input) - target) / n``."""
    op = "binary_cross_entropy_with_logits_backward"
    check_pair(op, input, target)
    g = scalar(op, "grad_output", grad_output)
    k, xp = backend(op, input=input, target=target)
    dinput = empty(xp, input.shape, input.dtype)
    k.binary_cross_entropy_with_logits_backward(dinput, input, target, g)
    return dinput


def cross_entropy(input, target):
    """Softmax cross-entropy from LOGITS, mean over the batch (torch.nn.functional.cross_entropy).

    input: (N, C) logits, float32/float64. target: (N,) int32/int64 class labels in [0, C) (sparse
    categorical) or (N, C) float probabilities / one-hot of input's dtype (categorical).
    loss = mean_i [logsumexp(x_i) * sum_j t_ij - sum_j t_ij x_ij], computed stably (max subtracted).
    Returns a 0-d array. A float 1-D target is a TypeError; a label out of range a ValueError naming it.
    """
    check_class_target("cross_entropy", input, target)
    k, xp = backend("cross_entropy", input=input, target=target)
    out = _scalar_out(xp, input)
    k.cross_entropy_forward(out, input, target)
    return out


def _plain(input, target):
    return type(input) is np.ndarray and type(target) is np.ndarray and input.dtype.kind == "f"


def cross_entropy_backward(input, target, grad_output=1.0):
    """d cross_entropy / d input = ``grad_output (sum_j t_ij softmax(x_i) - t_i) / N``, i.e.
    ``(softmax(input) - onehot(target)) / N`` for labels, in one pass. Returns (N, C).

    An infinite grad_output gives grad_output times the gradient for grad_output = 1: +-inf where that is
    nonzero, NaN (inf * 0) where it is exactly 0, as the formula reads. (PyTorch's composed backward,
    log_softmax_backward of nll_loss_backward, gives NaN at every label entry instead: -inf + inf.)"""
    g = scalar("cross_entropy_backward", "grad_output", grad_output)
    if _plain(input, target):  # short path: the compiled checks; Python's explain a refusal
        dinput = empty(np, input.shape, input.dtype)
        try:
            _backend.cpu.cross_entropy_backward(dinput, input, target, g)
        except (TypeError, ValueError):
            check_class_target("cross_entropy_backward", input, target)
            raise
        return dinput
    check_class_target("cross_entropy_backward", input, target)
    k, xp = backend("cross_entropy_backward", input=input, target=target)
    dinput = empty(xp, input.shape, input.dtype)
    k.cross_entropy_backward(dinput, input, target, g)
    return dinput


def cross_entropy_with_grad(input, target):
    """``(cross_entropy(input, target), cross_entropy_backward(input, target))`` computed in ONE fused
    pass over the logits (the training loop's loss step). Returns (0-d loss, (N, C) dinput)."""
    if _plain(input, target):  # short path: the compiled checks; Python's explain a refusal
        out, dinput = empty(np, (), input.dtype), empty(np, input.shape, input.dtype)
        try:
            _backend.cpu.cross_entropy_with_grad(out, dinput, input, target, 1.0)
        except (TypeError, ValueError):
            check_class_target("cross_entropy_with_grad", input, target)
            raise
        return out, dinput
    check_class_target("cross_entropy_with_grad", input, target)
    k, xp = backend("cross_entropy_with_grad", input=input, target=target)
    out = _scalar_out(xp, input)
    dinput = empty(xp, input.shape, input.dtype)
    k.cross_entropy_with_grad(out, dinput, input, target, 1.0)
    return out, dinput


def categorical_crossentropy(input, target, eps=1e-7):
    """Keras categorical / sparse categorical cross-entropy on PROBABILITIES, mean over the batch.

    input: (N, C) probabilities (e.g. a softmax output); target: (N,) int32/int64 labels or (N, C) floats.
    As Keras 3: each row is normalised by its sum, clipped to [eps, 1 - eps]; loss = mean_i -sum_j t_ij log q_ij.
    Returns a 0-d array.
    """
    check_class_target("categorical_crossentropy", input, target)
    eps = check_eps("categorical_crossentropy", eps)
    k, xp = backend("categorical_crossentropy", input=input, target=target)
    out = _scalar_out(xp, input)
    k.categorical_crossentropy_forward(out, input, target, eps)
    return out


def categorical_crossentropy_backward(input, target, grad_output=1.0, eps=1e-7):
    """d categorical_crossentropy / d input (through the row normalisation and the clip). Returns (N, C)."""
    op = "categorical_crossentropy_backward"
    check_class_target(op, input, target)
    eps = check_eps(op, eps)
    g = scalar(op, "grad_output", grad_output)
    k, xp = backend(op, input=input, target=target)
    dinput = empty(xp, input.shape, input.dtype)
    k.categorical_crossentropy_backward(dinput, input, target, eps, g)
    return dinput


# ---- Keras's regression and margin losses (keras.losses, Keras 3) --------------------------------------
# Each takes input (predictions) and target of one shape and dtype, float32/float64, any ndim, and reduces like
# Keras (the per-sample mean over the last axis, then the mean over the batch: the mean over all elements),
# except kl_divergence (the per-sample SUM over the last axis, then the mean over the batch). The per-element
# formulas are csrc/include/fastann/loss_terms.hpp; the float64 spec is fastann.reference.loss.
def _forward(op, kname, input, target, *params):
    check_pair(op, input, target)
    k, xp = backend(op, input=input, target=target)
    out = _scalar_out(xp, input)
    getattr(k, kname + "_forward")(out, input, target, *params)
    return out


def _backward(op, kname, input, target, grad_output, *params):
    check_pair(op, input, target)
    g = scalar(op, "grad_output", grad_output)
    k, xp = backend(op, input=input, target=target)
    dinput = empty(xp, input.shape, input.dtype)
    getattr(k, kname + "_backward")(dinput, input, target, *params, g)
    return dinput


def huber_loss(input, target, delta=1.0):
    """Huber loss (keras.losses.Huber; torch.nn.functional.huber_loss with mean reduction): with
    e = input - target, ``mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2)``. Returns a 0-d array.
    delta: a finite number > 0 (ValueError otherwise)."""
    return _forward("huber_loss", "huber_loss", input, target, check_delta("huber_loss", delta))


def huber_loss_backward(input, target, grad_output=1.0, delta=1.0):
    """``grad_output (e if |e| <= delta else delta sign(e)) / n``, e = input - target."""
    op = "huber_loss_backward"
    return _backward(op, "huber_loss", input, target, grad_output, check_delta(op, delta))


def kl_divergence(input, target, eps=1e-7):
    """Kullback-Leibler divergence as keras.losses.KLDivergence: t = clip(target, eps, 1),
    p = clip(input, eps, 1), ``sum(t log(t / p)) / rows`` where rows = input.size / input.shape[-1] (the sum
    over the last axis, averaged over the other axes; a 1-D input is one row). input: predicted probabilities,
    target: true probabilities, same shape. Returns a 0-d array. (Not torch's kl_div, which takes log-probs.)"""
    return _forward("kl_divergence", "kl_divergence", input, target, check_eps("kl_divergence", eps))


def kl_divergence_backward(input, target, grad_output=1.0, eps=1e-7):
    """``-grad_output t / input / rows`` where eps <= input <= 1, 0 where the clip of input is active."""
    op = "kl_divergence_backward"
    return _backward(op, "kl_divergence", input, target, grad_output, check_eps(op, eps))


def hinge_loss(input, target):
    """Hinge loss as keras.losses.Hinge: ``mean(max(1 - y input, 0))`` where y = 2 target - 1 when every target
    is 0 or 1 (binary labels become -1 / 1) and y = target otherwise (labels given as -1 / 1). Returns 0-d."""
    return _forward("hinge_loss", "hinge_loss", input, target)


def hinge_loss_backward(input, target, grad_output=1.0):
    """``-grad_output y / n`` where 1 - y input > 0, 0 elsewhere (y as in :func:`hinge_loss`)."""
    return _backward("hinge_loss_backward", "hinge_loss", input, target, grad_output)


def squared_hinge_loss(input, target):
    """Squared hinge loss as keras.losses.SquaredHinge: ``mean(max(1 - y input, 0)^2)``, y as in
    :func:`hinge_loss`. Returns a 0-d array."""
    return _forward("squared_hinge_loss", "squared_hinge_loss", input, target)


def squared_hinge_loss_backward(input, target, grad_output=1.0):
    """``-2 grad_output y max(1 - y input, 0) / n``."""
    return _backward("squared_hinge_loss_backward", "squared_hinge_loss", input, target, grad_output)


def log_cosh_loss(input, target):
    """Log-cosh loss as keras.losses.LogCosh: ``mean(log(cosh(input - target)))``, computed as
    |e| + log1p(exp(-2|e|)) - log 2 (no overflow). Returns a 0-d array."""
    return _forward("log_cosh_loss", "log_cosh_loss", input, target)


def log_cosh_loss_backward(input, target, grad_output=1.0):
    """``grad_output tanh(input - target) / n``."""
    return _backward("log_cosh_loss_backward", "log_cosh_loss", input, target, grad_output)


def poisson_loss(input, target, eps=1e-7):
    """Poisson loss as keras.losses.Poisson: ``mean(input - target log(input + eps))``, input the predicted
    rate (a negative one gives NaN, as in Keras). Returns a 0-d array. (torch's poisson_nll_loss defaults to a
    log-rate input.)"""
    return _forward("poisson_loss", "poisson_loss", input, target, check_eps("poisson_loss", eps))


def poisson_loss_backward(input, target, grad_output=1.0, eps=1e-7):
    """``grad_output (1 - target / (input + eps)) / n``."""
    op = "poisson_loss_backward"
    return _backward(op, "poisson_loss", input, target, grad_output, check_eps(op, eps))
