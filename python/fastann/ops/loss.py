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
from .._args.loss import check_class_target, check_eps, check_pair, scalar
from ._common import backend, empty

__all__ = [
    "mse_loss", "mse_loss_backward", "l1_loss", "l1_loss_backward",
    "binary_cross_entropy", "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward",
    "cross_entropy", "cross_entropy_backward", "cross_entropy_with_grad",
    "categorical_crossentropy", "categorical_crossentropy_backward",
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
