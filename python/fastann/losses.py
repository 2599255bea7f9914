"""Losses with Keras names and semantics (``keras.losses``), computed by fastann's loss kernels.

Every loss reduces by the mean over the batch (and over output elements where Keras does), and offers:

* ``loss(y_true, y_pred)`` -> the loss as a 0-d array of y_pred's dtype (``float(...)`` works),
* ``loss.forward_backward(y_pred, y_true)`` -> ``(loss, d loss / d y_pred)``, what a training step needs.

Like Keras, the string names and the default classes take PROBABILITIES for the cross-entropies
("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"); pass
``from_logits=True`` to a class to give it logits. When a model ends in a softmax and its loss is a
categorical cross-entropy, :class:`fastann.Sequential` skips the softmax and calls
:meth:`CategoricalCrossentropy.logits_forward_backward`: ``ops.cross_entropy_with_grad`` computes
log-softmax, the loss and ``(softmax - onehot) / N`` in one fused pass (same value, no probability clipping,
better conditioned).

Shapes: y_pred (N, ...) float32/float64; y_true the same shape and dtype, except the sparse cross-entropy,
whose y_true is (N,) int32/int64 class labels.
"""
from __future__ import annotations

import warnings

from . import ops

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "mean_squared_error", "mean_absolute_error", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "get", "warn_if_not_logits"]


class Loss:
    """Base class. Subclasses implement ``forward(y_pred, y_true)`` and ``backward(y_pred, y_true)``.

    ``target_kind`` says what y_true holds: "float" (same shape and dtype as y_pred) or "labels"
    (integer class indices, shape (N,)); models convert y once per fit accordingly.
    """

    name = "loss"
    target_kind = "float"
    from_logits = False

    def __call__(self, y_true, y_pred):
        return self.forward(y_pred, y_true)

    def forward(self, y_pred, y_true):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, y_pred, y_true):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_backward(self, y_pred, y_true):
        """(loss, d loss / d y_pred)."""
        return self.forward(y_pred, y_true), self.backward(y_pred, y_true)

    @property
    def is_categorical_crossentropy(self) -> bool:
        """True for the (sparse) categorical cross-entropies, which fuse with a softmax output layer."""
        return False

    def get_config(self) -> dict:
        return {"name": self.name, "from_logits": self.from_logits}

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits})" if self.from_logits else \
            f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)^2) over all elements (``ops.mse_loss``)."""

    name = "mean_squared_error"

    def forward(self, y_pred, y_true):
        return ops.mse_loss(y_pred, y_true)

    def backward(self, y_pred, y_true):
        return ops.mse_loss_backward(y_pred, y_true)


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over all elements (``ops.l1_loss``; subgradient 0 where they are equal)."""

    name = "mean_absolute_error"

    def forward(self, y_pred, y_true):
        return ops.l1_loss(y_pred, y_true)

    def backward(self, y_pred, y_true):
        return ops.l1_loss_backward(y_pred, y_true)


class BinaryCrossentropy(Loss):
    """mean(-(t log p + (1 - t) log(1 - p))) over all elements.

    ``from_logits=False``: y_pred are probabilities, clipped to [1e-7, 1 - 1e-7] like Keras
    (``ops.binary_cross_entropy``); ``from_logits=True``: y_pred are logits and the stable form
    max(x, 0) - x t + log(1 + exp(-|x|)) is used (``ops.binary_cross_entropy_with_logits``).
    """

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def forward(self, y_pred, y_true):
        if self.from_logits:
            return ops.binary_cross_entropy_with_logits(y_pred, y_true)
        return ops.binary_cross_entropy(y_pred, y_true)

    def backward(self, y_pred, y_true):
        if self.from_logits:
            return ops.binary_cross_entropy_with_logits_backward(y_pred, y_true)
        return ops.binary_cross_entropy_backward(y_pred, y_true)


class CategoricalCrossentropy(Loss):
    """mean over the batch of -sum_c t_c log p_c, y_true one-hot or probabilities (N, C).

    ``from_logits=False`` (Keras default): y_pred are probabilities clipped to [1e-7, 1 - 1e-7]
    (``ops.categorical_crossentropy``). ``from_logits=True``: y_pred are logits; softmax is fused into the
    loss (``ops.cross_entropy``), and ``forward_backward`` is ONE kernel (``ops.cross_entropy_with_grad``).
    """

    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    @property
    def is_categorical_crossentropy(self) -> bool:
        return True

    def forward(self, y_pred, y_true):
        if self.from_logits:
            return ops.cross_entropy(y_pred, y_true)
        return ops.categorical_crossentropy(y_pred, y_true)

    def backward(self, y_pred, y_true):
        if self.from_logits:
            return ops.cross_entropy_backward(y_pred, y_true)
        return ops.categorical_crossentropy_backward(y_pred, y_true)

    def forward_backward(self, y_pred, y_true):
        if self.from_logits:
            return ops.cross_entropy_with_grad(y_pred, y_true)
        return super().forward_backward(y_pred, y_true)

    def logits_forward_backward(self, logits, y_true):
        """(loss, d loss / d logits) from the logits of a softmax output layer, in one fused kernel."""
        return ops.cross_entropy_with_grad(logits, y_true)

    def logits_forward(self, logits, y_true):
        """The loss from the logits of a softmax output layer (fused log-softmax + NLL)."""
        return ops.cross_entropy(logits, y_true)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with y_true given as integer class labels (N,) int32/int64.

    A label outside [0, C) is a ValueError (checked by the kernel); float labels are a TypeError.
    """

    name = "sparse_categorical_crossentropy"
    target_kind = "labels"



# ---- Keras's regression and margin losses: y_pred and y_true of one shape and dtype ----------------------
class _ElementwiseLoss(Loss):
    """A loss over ``ops.<_op>`` and ``ops.<_op>_backward`` with the keyword arguments of ``_kwargs()``."""

    _op = ""

    def _kwargs(self) -> dict:
        return {}

    def forward(self, y_pred, y_true):
        return getattr(ops, self._op)(y_pred, y_true, **self._kwargs())

    def backward(self, y_pred, y_true):
        return getattr(ops, self._op + "_backward")(y_pred, y_true, **self._kwargs())


class Huber(_ElementwiseLoss):
    """keras.losses.Huber(delta=1.0): mean over all elements of 0.5 e^2 where |e| <= delta and
    delta |e| - 0.5 delta^2 elsewhere, e = y_pred - y_true (``ops.huber_loss``). delta: a finite number > 0
    (ValueError otherwise, TypeError for a non-number)."""

    name = "huber_loss"
    _op = "huber_loss"

    def __init__(self, delta: float = 1.0):
        from ._args.loss import check_delta  # noqa: PLC0415 - the one check ops also runs

        self.delta = check_delta("Huber", delta)

    def _kwargs(self):
        return {"delta": self.delta}

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}

    def __repr__(self):
        return f"Huber(delta={self.delta})"


class KLDivergence(_ElementwiseLoss):
    """keras.losses.KLDivergence: sum over the last axis of t log(t / p), t = clip(y_true, 1e-7, 1),
    p = clip(y_pred, 1e-7, 1), averaged over the other axes (``ops.kl_divergence``)."""

    name = "kl_divergence"
    _op = "kl_divergence"


class Hinge(_ElementwiseLoss):
    """keras.losses.Hinge: mean of max(1 - y_true y_pred, 0); y_true in {-1, 1}, or all in {0, 1}, which are
    then mapped to -1 / 1 (``ops.hinge_loss``)."""

    name = "hinge"
    _op = "hinge_loss"


class SquaredHinge(_ElementwiseLoss):
    """keras.losses.SquaredHinge: mean of max(1 - y_true y_pred, 0)^2, labels as :class:`Hinge`
    (``ops.squared_hinge_loss``)."""

    name = "squared_hinge"
    _op = "squared_hinge_loss"


class LogCosh(_ElementwiseLoss):
    """keras.losses.LogCosh: mean of log(cosh(y_pred - y_true)) (``ops.log_cosh_loss``)."""

    name = "log_cosh"
    _op = "log_cosh_loss"


class Poisson(_ElementwiseLoss):
    """keras.losses.Poisson: mean of y_pred - y_true log(y_pred + 1e-7), y_pred the predicted rate
    (``ops.poisson_loss``)."""

    name = "poisson"
    _op = "poisson_loss"


__all__ += ["Huber", "KLDivergence", "Hinge", "SquaredHinge", "LogCosh", "Poisson"]

mean_squared_error = MeanSquaredError
mean_absolute_error = MeanAbsoluteError
binary_crossentropy = BinaryCrossentropy
categorical_crossentropy = CategoricalCrossentropy
sparse_categorical_crossentropy = SparseCategoricalCrossentropy

_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "huber": Huber, "huber_loss": Huber, "kl_divergence": KLDivergence, "kld": KLDivergence, "hinge": Hinge,
    "squared_hinge": SquaredHinge, "log_cosh": LogCosh, "logcosh": LogCosh, "poisson": Poisson,
}


def warn_if_not_logits(loss, layer_name, activation) -> None:
    """Keras' warning (a UserWarning) when a loss with ``from_logits=True`` is given the output of a layer
    that ends in a softmax (the categorical cross-entropies) or a sigmoid (the binary one): those outputs
    are probabilities, not logits. ``activation``: the output layer's activation name or None. The
    warning points at the caller of the model method that called this (fit, evaluate)."""
    if loss is None or not getattr(loss, "from_logits", False):
        return
    expected = "softmax" if loss.is_categorical_crossentropy else "sigmoid" if isinstance(
        loss, BinaryCrossentropy) else None
    if expected is not None and activation == expected:
        warnings.warn(f'"`{loss.name}` received `from_logits=True`, but the `output` argument was produced by '
                      f'a {expected} activation (layer {layer_name!r}) and thus does not represent logits. '
                      f'Was this intended?"', UserWarning, stacklevel=5)


def get(identifier) -> Loss:
    """A Loss from a string name (probabilities for the cross-entropies, like Keras), a Loss instance or a
    Loss class. Raises ValueError for an unknown name, TypeError for anything else."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"losses.get: unknown loss {identifier!r}; known: {', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[key]()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    raise TypeError(f"losses.get: expected a loss name or a fastann.losses.Loss, got {identifier!r}")
