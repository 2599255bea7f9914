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

from .._args.loss import check_class_target, check_delta, check_eps, check_labels, check_pair, scalar

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


# ---- Keras's regression and margin losses (keras/src/losses/losses.py, Keras 3) ---------------------------
# Keras reduces each by the mean over the last axis and then over the batch (sum_over_batch_size): the mean
# over all elements. kl_divergence sums over the last axis instead, so it divides by the number of rows.
def _rows(input):
    return input.size // input.shape[-1] if input.ndim >= 2 else 1


def huber_loss(input, target, delta=1.0):
    """mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2), e = input - target (keras.losses.huber)."""
    check_pair("huber_loss", input, target)
    delta = check_delta("huber_loss", delta)
    e = _f64(input) - _f64(target)
    a = np.abs(e)
    return np.asarray(np.mean(np.where(a <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta)))


def huber_loss_backward(input, target, grad_output=1.0, delta=1.0):
    """grad_output (e if |e| <= delta else delta sign(e)) / n."""
    check_pair("huber_loss_backward", input, target)
    delta = check_delta("huber_loss_backward", delta)
    g = scalar("huber_loss_backward", "grad_output", grad_output)
    e = _f64(input) - _f64(target)
    return g * np.where(np.abs(e) <= delta, e, delta * np.sign(e)) / e.size


def kl_divergence(input, target, eps=1e-7):
    """sum(t log(t / p)) / rows, t = clip(target, eps, 1), p = clip(input, eps, 1) (keras.losses.kl_divergence:
    the sum over the last axis, then the mean over the batch)."""
    check_pair("kl_divergence", input, target)
    eps = check_eps("kl_divergence", eps)
    t, p = np.clip(_f64(target), eps, 1.0), np.clip(_f64(input), eps, 1.0)
    return np.asarray(np.sum(t * np.log(t / p)) / _rows(input))


def kl_divergence_backward(input, target, grad_output=1.0, eps=1e-7):
    """-grad_output t / input / rows where eps <= input <= 1, 0 where the clip is active; NaN stays NaN."""
    check_pair("kl_divergence_backward", input, target)
    eps = check_eps("kl_divergence_backward", eps)
    g = scalar("kl_divergence_backward", "grad_output", grad_output)
    x, t = _f64(input), np.clip(_f64(target), eps, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where((x >= eps) & (x <= 1.0), -t / x, np.where(np.isnan(t), t, 0.0))
    return g * np.where(np.isnan(x), x, d) / _rows(input)


def _hinge_labels(target):
    """Keras's convert_binary_labels_to_hinge: all targets in {0, 1} -> 2 t - 1, else unchanged."""
    t = _f64(target)
    return 2.0 * t - 1.0 if np.all((t == 0.0) | (t == 1.0)) else t


def hinge_loss(input, target):
    """mean(max(1 - y input, 0)), y = 2 target - 1 for 0/1 targets, else target (keras.losses.hinge)."""
    check_pair("hinge_loss", input, target)
    return np.asarray(np.mean(np.maximum(1.0 - _hinge_labels(target) * _f64(input), 0.0)))


def hinge_loss_backward(input, target, grad_output=1.0):
    """-grad_output y / n where 1 - y input > 0, else 0 (NaN where the margin is NaN)."""
    check_pair("hinge_loss_backward", input, target)
    g = scalar("hinge_loss_backward", "grad_output", grad_output)
    y = _hinge_labels(target)
    m = 1.0 - y * _f64(input)
    return g * np.where(np.isnan(m), m, np.where(m > 0.0, -y, 0.0)) / m.size


def squared_hinge_loss(input, target):
    """mean(max(1 - y input, 0)^2), y as in :func:`hinge_loss` (keras.losses.squared_hinge)."""
    check_pair("squared_hinge_loss", input, target)
    return np.asarray(np.mean(np.maximum(1.0 - _hinge_labels(target) * _f64(input), 0.0) ** 2))


def squared_hinge_loss_backward(input, target, grad_output=1.0):
    """-2 grad_output y max(1 - y input, 0) / n."""
    check_pair("squared_hinge_loss_backward", input, target)
    g = scalar("squared_hinge_loss_backward", "grad_output", grad_output)
    y = _hinge_labels(target)
    return g * -2.0 * y * np.maximum(1.0 - y * _f64(input), 0.0) / input.size


def log_cosh_loss(input, target):
    """mean(log(cosh(e))), e = input - target, as |e| + log1p(exp(-2|e|)) - log 2 (keras.losses.log_cosh
    writes it x + softplus(-2x) - log 2, the same function)."""
    check_pair("log_cosh_loss", input, target)
    a = np.abs(_f64(input) - _f64(target))
    return np.asarray(np.mean(a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)))


def log_cosh_loss_backward(input, target, grad_output=1.0):
    """grad_output tanh(input - target) / n."""
    check_pair("log_cosh_loss_backward", input, target)
    g = scalar("log_cosh_loss_backward", "grad_output", grad_output)
    return g * np.tanh(_f64(input) - _f64(target)) / input.size


def poisson_loss(input, target, eps=1e-7):
    """mean(input - target log(input + eps)) (keras.losses.poisson)."""
    check_pair("poisson_loss", input, target)
    eps = check_eps("poisson_loss", eps)
    x = _f64(input)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.mean(x - _f64(target) * np.log(x + eps)))


def poisson_loss_backward(input, target, grad_output=1.0, eps=1e-7):
    """grad_output (1 - target / (input + eps)) / n."""
    check_pair("poisson_loss_backward", input, target)
    eps = check_eps("poisson_loss_backward", eps)
    g = scalar("poisson_loss_backward", "grad_output", grad_output)
    with np.errstate(divide="ignore", invalid="ignore"):
        return g * (1.0 - _f64(target) / (_f64(input) + eps)) / input.size
