"""The losses as array-module formulas (NumPy or CuPy, in y_pred's dtype), vectorized over the batch.

What ``fastann.losses`` needs beyond the mean-reduced loss kernels of ``fastann.ops``:

* ``per_sample_<loss>(y_pred, y_true, ...)`` -> (N,): each sample's loss, reduced over its other axes as
  Keras reduces them (the mean over every axis after the batch; the KL divergence sums over the last axis
  first). Sample weights multiply these (Keras's ``sum_over_batch_size``: sum(w_i l_i) / N).
* the focal cross-entropies (Lin et al. 2017, "Focal Loss for Dense Object Detection"; Keras 3's
  ``categorical_focal_crossentropy`` and ``binary_focal_crossentropy``, keras/src/losses/losses.py):
  ``*_focal_rows`` -> (loss per row, d row loss / d y_pred), a row being one position's last axis.

eps = 1e-7 (Keras's ``backend.epsilon()``) in every clip. Shapes: y_pred (N, ...) float32/float64;
y_true the same shape (floats), or (N,) integer labels where ``labels`` is True.
"""
from __future__ import annotations

import math
import numbers

EPS = 1e-7

__all__ = ["EPS", "check_label_smoothing", "check_nonneg", "xp_of", "sigmoid", "per_sample", "categorical_focal_rows",
           "binary_focal_rows"]


def check_label_smoothing(owner, label_smoothing) -> float:
    """Keras's label_smoothing: a number in [0, 1] (ValueError otherwise, TypeError for a non-number)."""
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(f"{owner}: label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{owner}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return float(label_smoothing)


def check_nonneg(owner, name, v) -> float:
    """A finite number >= 0 as a float (alpha, gamma); TypeError for a non-number, ValueError otherwise."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {v!r}")
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {v!r}")
    return float(v)


def xp_of(a):
    """NumPy or CuPy, the module of array ``a``."""
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy  # noqa: PLC0415

        return cupy
    import numpy  # noqa: PLC0415

    return numpy


def _mean_rows(e):
    """(N, ...) -> (N,): the mean over every axis after the first."""
    return e.reshape(e.shape[0], -1).mean(axis=1)


def sigmoid(xp, x):
    """1 / (1 + exp(-x)) without overflow: exp(-|x|) is at most 1."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _log_softmax(xp, z):
    m = z.max(axis=-1, keepdims=True)
    return (z - m) - xp.log(xp.exp(z - m).sum(axis=-1, keepdims=True))


def _pick(xp, a, labels):
    """a[i, labels[i]] for every row i of an (N, C) array."""
    return a[xp.arange(a.shape[0]), labels]


def _hinge_labels(xp, t):
    """Keras's convert_binary_labels_to_hinge over the whole batch: all targets 0/1 -> 2 t - 1."""
    return 2 * t - 1 if bool(xp.all((t == 0) | (t == 1))) else t


def per_sample(kind, y_pred, y_true, labels=False, delta=1.0):
    """Per-sample losses (N,) of loss ``kind``: "mse", "mae", "bce", "bce_logits", "cce", "cce_logits"
    (``labels``: y_true holds class indices), "huber" (``delta``), "kl_divergence", "hinge", "squared_hinge",
    "log_cosh", "poisson". The same math as the ops' kernels (fastann.reference.loss gives it in float64)."""
    xp = xp_of(y_pred)
    p = y_pred
    if kind in ("cce", "cce_logits"):
        logq = _log_softmax(xp, p) if kind == "cce_logits" else \
            xp.log(xp.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS))
        return -_pick(xp, logq, y_true) if labels else -(y_true * logq).sum(axis=-1)
    t = y_true
    if kind == "mse":
        return _mean_rows(xp.square(p - t))
    if kind == "mae":
        return _mean_rows(xp.abs(p - t))
    if kind == "bce":
        q = xp.clip(p, EPS, 1 - EPS)
        return _mean_rows(-(t * xp.log(q) + (1 - t) * xp.log(1 - q)))
    if kind == "bce_logits":
        return _mean_rows(xp.maximum(p, 0) - p * t + xp.log1p(xp.exp(-xp.abs(p))))
    if kind == "huber":
        e = p - t
        a = xp.abs(e)
        return _mean_rows(xp.where(a <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta))
    if kind == "kl_divergence":
        tc, pc = xp.clip(t, EPS, 1), xp.clip(p, EPS, 1)
        return _mean_rows((tc * xp.log(tc / pc)).sum(axis=-1, keepdims=True))
    if kind in ("hinge", "squared_hinge"):
        m = xp.maximum(1 - _hinge_labels(xp, t) * p, 0)
        return _mean_rows(m if kind == "hinge" else m * m)
    if kind == "log_cosh":
        a = xp.abs(p - t)
        return _mean_rows(a + xp.log1p(xp.exp(-2 * a)) - xp.log(xp.asarray(2.0, dtype=p.dtype)))
    if kind == "poisson":
        return _mean_rows(p - t * xp.log(p + EPS))
    raise ValueError(f"per_sample: unknown loss kind {kind!r}")  # pragma: no cover - internal


def categorical_focal_rows(y_pred, y_true, alpha, gamma, from_logits):
    """Keras's categorical focal cross-entropy of each row (the last axis holds the C classes):
    y = softmax(y_pred) when ``from_logits`` else y_pred; s = sum_j y_j; p = y / s; q = clip(p, eps, 1 - eps);
    loss = -sum_j alpha t_j (1 - q_j)^gamma log q_j. Returns (loss (R,), d loss / d y_pred (R, C)) for the
    R = size / C rows. Gradient: G_j = dloss/dq_j = -alpha t_j ((1 - q_j)^gamma / q_j
    - gamma (1 - q_j)^(gamma - 1) log q_j), zero where the clip is active; through the normalization
    dloss/dy_k = (G_k - sum_j G_j p_j) / s; through the softmax dloss/dz_k = y_k (H_k - sum_j H_j y_j)."""
    xp = xp_of(y_pred)
    c = y_pred.shape[-1]
    z = y_pred.reshape(-1, c)
    t = y_true.reshape(-1, c)
    y = xp.exp(_log_softmax(xp, z)) if from_logits else z
    s = y.sum(axis=1, keepdims=True)
    p = y / s
    q = xp.clip(p, EPS, 1 - EPS)
    logq, one_minus = xp.log(q), 1 - q
    mod = one_minus ** gamma
    loss = -(alpha * t * mod * logq).sum(axis=1)
    g = -alpha * t * (mod / q - gamma * one_minus ** (gamma - 1) * logq)
    g = xp.where((p >= EPS) & (p <= 1 - EPS), g, 0)
    h = (g - (g * p).sum(axis=1, keepdims=True)) / s
    if from_logits:
        h = y * (h - (h * y).sum(axis=1, keepdims=True))
    return loss, h.astype(y_pred.dtype, copy=False)


def binary_focal_rows(y_pred, y_true, alpha, gamma, from_logits, apply_class_balancing):
    """Keras's binary focal cross-entropy of each row (the mean over the last axis): p = sigmoid(y_pred) when
    ``from_logits`` else y_pred; bce = -(t log q + (1 - t) log(1 - q)) with q = clip(p, eps, 1 - eps);
    p_t = t p + (1 - t)(1 - p) (unclipped, as Keras); loss = w (1 - p_t)^gamma bce with w = t alpha +
    (1 - t)(1 - alpha) when ``apply_class_balancing`` else 1. Returns (loss (R,), d loss / d y_pred) for the
    R = size / last rows. Gradient: w (d(1 - p_t)^gamma/dp bce + (1 - p_t)^gamma dbce/dp) / last, with
    dp_t/dp = 2t - 1 and dbce/dp = (q - t) / (q (1 - q)) inside the clip (0 outside); times p (1 - p) through
    the sigmoid."""
    xp = xp_of(y_pred)
    last = y_pred.shape[-1]
    t = y_true
    p = sigmoid(xp, y_pred) if from_logits else y_pred
    q = xp.clip(p, EPS, 1 - EPS)
    bce = -(t * xp.log(q) + (1 - t) * xp.log(1 - q))
    one_minus_pt = 1 - (t * p + (1 - t) * (1 - p))
    focal = one_minus_pt ** gamma
    w = t * alpha + (1 - t) * (1 - alpha) if apply_class_balancing else 1
    elem = w * focal * bce
    dfocal = -gamma * one_minus_pt ** (gamma - 1) * (2 * t - 1)
    dbce = xp.where((p >= EPS) & (p <= 1 - EPS), (q - t) / (q * (1 - q)), 0)
    g = w * (dfocal * bce + focal * dbce) / last
    if from_logits:
        g = g * p * (1 - p)
    return elem.reshape(-1, last).mean(axis=1), g.astype(y_pred.dtype, copy=False)
