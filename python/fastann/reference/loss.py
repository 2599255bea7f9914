"""fastann.reference: the loss family in plain NumPy float64 (mean reduction, forward and backward).

Each forward returns a 0-d float64 array; each backward returns d(loss)/d(input) times the scalar
``grad_output``. Sources: mean squared / absolute error (standard); binary cross-entropy on probabilities
with Keras 3's clip to [eps, 1 - eps] (keras.losses.binary_crossentropy); the stable logits form
max(x, 0) - x t + log(1 + exp(-|x|)) (torch.nn.functional.binary_cross_entropy_with_logits); softmax
cross-entropy from logits (torch.nn.functional.cross_entropy; Goodfellow et al., Deep Learning, 6.2.2.3);
categorical cross-entropy on probabilities as Keras 3 computes it (normalise each row by its sum, clip to
[eps, 1 - eps], -sum t log q; keras.losses.categorical_crossentropy / sparse_categorical_crossentropy).
"""
from __future__ import annotations

import numpy as np

from .._args.loss import check_class_target, check_eps, check_labels, check_pair, scalar

__all__ = [
    "mse_loss", "mse_loss_backward", "l1_loss", "l1_loss_backward",
    "binary_cross_entropy", "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward",
    "cross_entropy", "cross_entropy_backward", "cross_entropy_with_grad",
    "categorical_crossentropy", "categorical_crossentropy_backward",
]


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _onehot_or_dense(input, target, is_labels):
    n, c = input.shape
    if is_labels:
        t = np.zeros((n, c))
        t[np.arange(n), target] = 1.0
        return t
    return _f64(target)


# ---- elementwise losses --------------------------------------------------------------------------------
def mse_loss(input, target):
    """mean((input - target)^2) as a 0-d float64 array; input and target of one shape and dtype."""
    check_pair("mse_loss", input, target)
    return np.asarray(np.mean((_f64(input) - _f64(target)) ** 2))


def mse_loss_backward(input, target, grad_output=1.0):
    """grad_output * 2 (input - target) / n."""
    check_pair("mse_loss_backward", input, target)
    g = scalar("mse_loss_backward", "grad_output", grad_output)
    return g * 2.0 * (_f64(input) - _f64(target)) / input.size


def l1_loss(input, target):
    """mean|input - target| (MAE) as a 0-d float64 array."""
    check_pair("l1_loss", input, target)
    return np.asarray(np.mean(np.abs(_f64(input) - _f64(target))))


def l1_loss_backward(input, target, grad_output=1.0):
    """grad_output * sign(input - target) / n: the subgradient 0 where input == target; NaN stays NaN."""
    check_pair("l1_loss_backward", input, target)
    g = scalar("l1_loss_backward", "grad_output", grad_output)
    return g * np.sign(_f64(input) - _f64(target)) / input.size


def binary_cross_entropy(input, target, eps=1e-7):
    """-mean(t log p + (1 - t) log(1 - p)), p = clip(input, eps, 1 - eps) (input: probabilities)."""
    check_pair("binary_cross_entropy", input, target)
    eps = check_eps("binary_cross_entropy", eps)
    p, t = np.clip(_f64(input), eps, 1.0 - eps), _f64(target)
    return np.asarray(-np.mean(t * np.log(p) + (1.0 - t) * np.log(1.0 - p)))


def binary_cross_entropy_backward(input, target, grad_output=1.0, eps=1e-7):
    """grad_output (p - t) / (p (1 - p)) / n where eps <= input <= 1 - eps; 0 where the clip is active."""
    check_pair("binary_cross_entropy_backward", input, target)
    eps = check_eps("binary_cross_entropy_backward", eps)
    g = scalar("binary_cross_entropy_backward", "grad_output", grad_output)
    p, t = _f64(input), _f64(target)
    inside = (p >= eps) & (p <= 1.0 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(inside, g * (p - t) / (p * (1.0 - p)) / p.size, 0.0)
    return np.where(np.isnan(p), p, d)


def binary_cross_entropy_with_logits(input, target):
    """mean(max(x, 0) - x t + log(1 + exp(-|x|))), x = input logits: BCE of sigmoid(x), no overflow."""
    check_pair("binary_cross_entropy_with_logits", input, target)
    x, t = _f64(input), _f64(target)
    return np.asarray(np.mean(np.maximum(x, 0.0) - x * t + np.log1p(np.exp(-np.abs(x)))))


def binary_cross_entropy_with_logits_backward(input, target, grad_output=1.0):
    """grad_output (sigmoid(input) - target) / n."""
    check_pair("binary_cross_entropy_with_logits_backward", input, target)
    g = scalar("binary_cross_entropy_with_logits_backward", "grad_output", grad_output)
    x = _f64(input)
    sig = np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))
    return g * (sig - _f64(target)) / x.size


# ---- softmax cross-entropy from logits ----------------------------------------------------------------
def _log_softmax(x):
    m = np.max(x, axis=1, keepdims=True)
    return (x - m) - np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))  # not x - (m + log sum), see softmax.py


def cross_entropy(input, target):
    """Softmax cross-entropy from logits, mean over the batch: mean_i -sum_j t_ij log softmax(x_i)_j.

    input (N, C) logits; target (N,) int32/int64 labels in [0, C) or (N, C) float probabilities.
    A -inf logit is finite for labels (only the label's entry is read) and NaN with a dense target whose
    entry there is 0 (0 * -inf), as in PyTorch.
    """
    is_labels = check_class_target("cross_entropy", input, target)
    logp = _log_softmax(_f64(input))
    if is_labels:
        check_labels("cross_entropy", target, input.shape[1])
        # each row's label entry alone: a one-hot sum would add 0 * -inf = NaN for a -inf logit elsewhere in
        # the row, where the loss is finite (PyTorch's nll_loss and the kernels pick the entry too)
        return np.asarray(np.mean(-logp[np.arange(input.shape[0]), target]))
    # a dense target weights every entry: 0 * -inf is NaN here, as in PyTorch's -(t * log_softmax(x)).sum()
    return np.asarray(np.mean(-np.sum(_f64(target) * logp, axis=1)))


def cross_entropy_backward(input, target, grad_output=1.0):
    """grad_output (sum_j t_ij softmax(x_i) - t_i) / N; for labels (softmax - onehot) / N.

    An infinite grad_output gives +-inf where the gradient for grad_output = 1 is nonzero and NaN (inf * 0)
    where it is exactly 0, a NaN one NaN everywhere. (PyTorch's composed backward, log_softmax_backward of
    nll_loss_backward, computes -inf + inf = NaN at each label entry instead.)"""
    is_labels = check_class_target("cross_entropy_backward", input, target)
    if is_labels:
        check_labels("cross_entropy_backward", target, input.shape[1])
    g = scalar("cross_entropy_backward", "grad_output", grad_output)
    t = _onehot_or_dense(input, target, is_labels)
    sm = np.exp(_log_softmax(_f64(input)))
    return g * (t.sum(axis=1, keepdims=True) * sm - t) / input.shape[0]


def cross_entropy_with_grad(input, target):
    """(cross_entropy(input, target), cross_entropy_backward(input, target))."""
    return cross_entropy(input, target), cross_entropy_backward(input, target)


# ---- categorical cross-entropy on probabilities (Keras) ------------------------------------------------
def categorical_crossentropy(input, target, eps=1e-7):
    """Keras categorical / sparse categorical cross-entropy on PROBABILITIES, mean over the batch.

    q = clip(p / sum_j p_j, eps, 1 - eps) per row; loss = mean_i -sum_j t_ij log q_ij.
    input (N, C) probabilities; target (N,) int32/int64 labels or (N, C) floats.
    """
    is_labels = check_class_target("categorical_crossentropy", input, target)
    eps = check_eps("categorical_crossentropy", eps)
    if is_labels:
        check_labels("categorical_crossentropy", target, input.shape[1])
    p = _f64(input)
    q = np.clip(p / p.sum(axis=1, keepdims=True), eps, 1.0 - eps)
    t = _onehot_or_dense(input, target, is_labels)
    return np.asarray(np.mean(-np.sum(t * np.log(q), axis=1)))


def categorical_crossentropy_backward(input, target, grad_output=1.0, eps=1e-7):
    """d/dp of :func:`categorical_crossentropy`: g/N (A_i - t_ik [inside_ik] / r_ik) / S_i with r = p / S,
    S_i = sum_j p_ij, inside = eps <= r <= 1 - eps (the clip's derivative), A_i = sum_j t_ij [inside_ij]."""
    is_labels = check_class_target("categorical_crossentropy_backward", input, target)
    eps = check_eps("categorical_crossentropy_backward", eps)
    g = scalar("categorical_crossentropy_backward", "grad_output", grad_output)
    if is_labels:
        check_labels("categorical_crossentropy_backward", target, input.shape[1])
    p = _f64(input)
    s = p.sum(axis=1, keepdims=True)
    r = p / s
    inside = (r >= eps) & (r <= 1.0 - eps)
    t = _onehot_or_dense(input, target, is_labels)
    a = np.sum(t * inside, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        tr = np.where(inside & (t != 0), t / r, 0.0)
    return g * (a - tr) / s / p.shape[0]
