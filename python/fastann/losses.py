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

from . import _loss_formulas as formulas
from ._config_args import attribute_config
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
    _kind = None  # the loss's name in fastann._loss_formulas.per_sample

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss (0-d array); with ``sample_weight`` (N,), Keras's weighted sum over the batch divided by
        N (its reduction "sum_over_batch_size")."""
        if sample_weight is not None:
            return self.weighted_forward(y_pred, y_true, sample_weight)
        return self.forward(y_pred, y_true)

    def _targets(self, y_true):
        """y_true as the formulas take it (label smoothing transforms it); the identity by default."""
        return y_true

    def per_sample(self, y_pred, y_true):
        """Each sample's loss, (N,) of y_pred's dtype (reduced over the sample's other axes as Keras does).
        NotImplementedError for a loss that does not define it (sample weights need it)."""
        if self._kind is None:
            raise NotImplementedError(f"{type(self).__name__}: per-sample losses (sample_weight, class_weight) "
                                      "are not implemented for this loss")
        return formulas.per_sample(self._kind, y_pred, self._targets(y_true),
                                   labels=self.target_kind == "labels", **self._per_sample_kwargs())

    def _per_sample_kwargs(self) -> dict:
        return {}

    def weighted_forward(self, y_pred, y_true, sample_weight):
        """sum_i w_i l_i / N: the loss with per-sample weights ``sample_weight`` (N,) of y_pred's dtype."""
        return _weighted_mean(self.per_sample(y_pred, y_true), sample_weight)

    def weighted_forward_backward(self, y_pred, y_true, sample_weight):
        """(weighted loss, its gradient): each sample's rows of the mean loss's gradient times its weight
        (the loss is a mean over samples of functions of one sample each, so this is exact)."""
        return (self.weighted_forward(y_pred, y_true, sample_weight),
                _scale_rows(self.backward(y_pred, y_true), sample_weight))

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
        """Keras's loss config: the name and the constructor's arguments (``from_config`` rebuilds the loss)."""
        return {"name": self.name, **attribute_config(self)}

    @classmethod
    def from_config(cls, config):
        """The loss ``get_config`` (or Keras) describes: ``cls(**config)`` without the name, which must be
        the class's own (fastann's losses have fixed names), and Keras's reduction at its default.
        ValueError otherwise."""
        config = dict(config)
        name = config.pop("name", cls.name)
        if name != cls.name:
            raise ValueError(f"{cls.__name__}.from_config: fastann's loss is named {cls.name!r}, got name={name!r}")
        if config.pop("reduction", "sum_over_batch_size") != "sum_over_batch_size":
            raise NotImplementedError(f"{cls.__name__}.from_config: only Keras's reduction 'sum_over_batch_size'")
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(from_logits={self.from_logits})" if self.from_logits else \
            f"{type(self).__name__}()"


def _weighted_mean(per_sample, sample_weight):
    """sum(w * l) / N as a 0-d array (Keras 3: sum_over_batch_size divides by the batch, not by sum(w))."""
    return (per_sample * sample_weight).sum() / per_sample.dtype.type(per_sample.shape[0])


def _scale_rows(grad, sample_weight):
    """grad (N, ...) with sample i's entries times sample_weight[i]."""
    return grad * sample_weight.reshape((-1,) + (1,) * (grad.ndim - 1))


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)^2) over all elements (``ops.mse_loss``)."""

    name = "mean_squared_error"
    _kind = "mse"

    def forward(self, y_pred, y_true):
        return ops.mse_loss(y_pred, y_true)

    def backward(self, y_pred, y_true):
        return ops.mse_loss_backward(y_pred, y_true)


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over all elements (``ops.l1_loss``; subgradient 0 where they are equal)."""

    name = "mean_absolute_error"
    _kind = "mae"

    def forward(self, y_pred, y_true):
        return ops.l1_loss(y_pred, y_true)

    def backward(self, y_pred, y_true):
        return ops.l1_loss_backward(y_pred, y_true)


class BinaryCrossentropy(Loss):
    """mean(-(t log p + (1 - t) log(1 - p))) over all elements.

    ``from_logits=False``: y_pred are probabilities, clipped to [1e-7, 1 - 1e-7] like Keras
    (``ops.binary_cross_entropy``); ``from_logits=True``: y_pred are logits and the stable form
    max(x, 0) - x t + log(1 + exp(-|x|)) is used (``ops.binary_cross_entropy_with_logits``).
    ``label_smoothing`` in [0, 1] (Keras): the targets become t (1 - label_smoothing) + 0.5 label_smoothing
    before the loss (a new array per call when it is not 0). ValueError outside [0, 1].
    """

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        self.from_logits = bool(from_logits)
        self.label_smoothing = formulas.check_label_smoothing("BinaryCrossentropy", label_smoothing)
        self._kind = "bce_logits" if self.from_logits else "bce"

    def _targets(self, y_true):
        ls = self.label_smoothing
        return y_true * y_true.dtype.type(1.0 - ls) + y_true.dtype.type(0.5 * ls) if ls else y_true

    def forward(self, y_pred, y_true):
        y_true = self._targets(y_true)
        if self.from_logits:
            return ops.binary_cross_entropy_with_logits(y_pred, y_true)
        return ops.binary_cross_entropy(y_pred, y_true)

    def backward(self, y_pred, y_true):
        y_true = self._targets(y_true)
        if self.from_logits:
            return ops.binary_cross_entropy_with_logits_backward(y_pred, y_true)
        return ops.binary_cross_entropy_backward(y_pred, y_true)



class CategoricalCrossentropy(Loss):
    """mean over the batch of -sum_c t_c log p_c, y_true one-hot or probabilities (N, C).

    ``from_logits=False`` (Keras default): y_pred are probabilities clipped to [1e-7, 1 - 1e-7]
    (``ops.categorical_crossentropy``). ``from_logits=True``: y_pred are logits; softmax is fused into the
    loss (``ops.cross_entropy``), and ``forward_backward`` is ONE kernel (``ops.cross_entropy_with_grad``).
    ``label_smoothing`` in [0, 1] (Keras): the targets become t (1 - label_smoothing) + label_smoothing / C
    before the loss (a new array per call when it is not 0; the kernels take such dense targets).
    ValueError outside [0, 1].
    """

    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        self.from_logits = bool(from_logits)
        self.label_smoothing = formulas.check_label_smoothing(type(self).__name__, label_smoothing)

    @property
    def _kind(self):
        return "cce_logits" if self.from_logits else "cce"

    @property
    def is_categorical_crossentropy(self) -> bool:
        return True

    def _targets(self, y_true):
        ls = self.label_smoothing
        if not ls:
            return y_true
        dt = y_true.dtype.type
        return y_true * dt(1.0 - ls) + dt(ls / y_true.shape[-1])

    def forward(self, y_pred, y_true):
        y_true = self._targets(y_true)
        if self.from_logits:
            return ops.cross_entropy(y_pred, y_true)
        return ops.categorical_crossentropy(y_pred, y_true)

    def backward(self, y_pred, y_true):
        y_true = self._targets(y_true)
        if self.from_logits:
            return ops.cross_entropy_backward(y_pred, y_true)
        return ops.categorical_crossentropy_backward(y_pred, y_true)

    def forward_backward(self, y_pred, y_true):
        if self.from_logits:
            return ops.cross_entropy_with_grad(y_pred, self._targets(y_true))
        return super().forward_backward(y_pred, y_true)

    def logits_forward_backward(self, logits, y_true):
        """(loss, d loss / d logits) from the logits of a softmax output layer, in one fused kernel."""
        return ops.cross_entropy_with_grad(logits, self._targets(y_true))

    def logits_forward(self, logits, y_true):
        """The loss from the logits of a softmax output layer (fused log-softmax + NLL)."""
        return ops.cross_entropy(logits, self._targets(y_true))

    def weighted_logits_forward(self, logits, y_true, sample_weight):
        """The loss with per-sample weights (N,) from the logits of a softmax output layer."""
        y_true = self._targets(y_true)
        per = formulas.per_sample("cce_logits", logits, y_true, labels=self.target_kind == "labels")
        return _weighted_mean(per, sample_weight)

    def weighted_logits_forward_backward(self, logits, y_true, sample_weight):
        """(weighted loss, d loss / d logits) from the logits of a softmax output layer: the fused kernel's
        gradient with each sample's row times its weight."""
        _, g = ops.cross_entropy_with_grad(logits, self._targets(y_true))
        return self.weighted_logits_forward(logits, y_true, sample_weight), _scale_rows(g, sample_weight)



class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with y_true given as integer class labels (N,) int32/int64 (Keras's, which
    has no label_smoothing).

    A label outside [0, C) is a ValueError (checked by the kernel); float labels are a TypeError.
    """

    name = "sparse_categorical_crossentropy"
    target_kind = "labels"

    def __init__(self, from_logits: bool = False):
        super().__init__(from_logits=from_logits)




# ---- focal cross-entropies (Lin et al. 2017), computed by the array formulas of fastann._loss_formulas ----
class _FocalLoss(Loss):
    """A loss given per row by ``_rows(y_pred, y_true) -> (row losses (R,), d row loss / d y_pred)``; the
    loss is the mean over the R rows (Keras: the per-sample loss is reduced over its positions, then
    sum_over_batch_size)."""

    def _rows(self, y_pred, y_true):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, y_pred, y_true):
        rows, _ = self._rows(y_pred, self._targets(y_true))
        return rows.mean()

    def backward(self, y_pred, y_true):
        rows, g = self._rows(y_pred, self._targets(y_true))
        return g / g.dtype.type(rows.shape[0])

    def forward_backward(self, y_pred, y_true):
        rows, g = self._rows(y_pred, self._targets(y_true))
        return rows.mean(), g / g.dtype.type(rows.shape[0])

    def per_sample(self, y_pred, y_true):
        rows, _ = self._rows(y_pred, self._targets(y_true))
        return rows.reshape(y_pred.shape[0], -1).mean(axis=1)


class CategoricalFocalCrossentropy(_FocalLoss):
    """keras.losses.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0, from_logits=False,
    label_smoothing=0.0): per sample -sum_c alpha t_c (1 - q_c)^gamma log q_c with q = clip(p / sum(p),
    1e-7, 1 - 1e-7) and p = y_pred (softmax(y_pred) when ``from_logits``); targets smoothed as
    CategoricalCrossentropy's. y_true one-hot or probabilities of y_pred's shape (N, ..., C).
    Gradient: ``fastann._loss_formulas.categorical_focal_rows``. Raises ValueError for a negative or
    non-finite alpha or gamma, or label_smoothing outside [0, 1]."""

    name = "categorical_focal_crossentropy"

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0):
        self.alpha = formulas.check_nonneg("CategoricalFocalCrossentropy", "alpha", alpha)
        self.gamma = formulas.check_nonneg("CategoricalFocalCrossentropy", "gamma", gamma)
        self.from_logits = bool(from_logits)
        self.label_smoothing = formulas.check_label_smoothing("CategoricalFocalCrossentropy", label_smoothing)

    _targets = CategoricalCrossentropy._targets

    def _rows(self, y_pred, y_true):
        return formulas.categorical_focal_rows(y_pred, y_true, self.alpha, self.gamma, self.from_logits)


    def __repr__(self):
        return (f"CategoricalFocalCrossentropy(alpha={self.alpha}, gamma={self.gamma}, "
                f"from_logits={self.from_logits}, label_smoothing={self.label_smoothing})")


class BinaryFocalCrossentropy(_FocalLoss):
    """keras.losses.BinaryFocalCrossentropy(apply_class_balancing=False, alpha=0.25, gamma=2.0,
    from_logits=False, label_smoothing=0.0): the mean over the last axis of (1 - p_t)^gamma bce, times
    t alpha + (1 - t)(1 - alpha) when ``apply_class_balancing``; bce the clipped binary cross-entropy of
    p = y_pred (sigmoid(y_pred) when ``from_logits``), p_t = t p + (1 - t)(1 - p); targets smoothed as
    BinaryCrossentropy's. Gradient: ``fastann._loss_formulas.binary_focal_rows``. Raises as
    CategoricalFocalCrossentropy."""

    name = "binary_focal_crossentropy"

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0):
        self.apply_class_balancing = bool(apply_class_balancing)
        self.alpha = formulas.check_nonneg("BinaryFocalCrossentropy", "alpha", alpha)
        self.gamma = formulas.check_nonneg("BinaryFocalCrossentropy", "gamma", gamma)
        self.from_logits = bool(from_logits)
        self.label_smoothing = formulas.check_label_smoothing("BinaryFocalCrossentropy", label_smoothing)

    _targets = BinaryCrossentropy._targets

    def _rows(self, y_pred, y_true):
        return formulas.binary_focal_rows(y_pred, y_true, self.alpha, self.gamma, self.from_logits,
                                          self.apply_class_balancing)


    def __repr__(self):
        return (f"BinaryFocalCrossentropy(apply_class_balancing={self.apply_class_balancing}, alpha={self.alpha}, "
                f"gamma={self.gamma}, from_logits={self.from_logits}, label_smoothing={self.label_smoothing})")


__all__ += ["CategoricalFocalCrossentropy", "BinaryFocalCrossentropy"]


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
    _kind = "huber"

    def __init__(self, delta: float = 1.0):
        from ._args.loss import check_delta  # noqa: PLC0415 - the one check ops also runs

        self.delta = check_delta("Huber", delta)

    def _kwargs(self):
        return {"delta": self.delta}

    def _per_sample_kwargs(self):
        return {"delta": self.delta}


    def __repr__(self):
        return f"Huber(delta={self.delta})"


class KLDivergence(_ElementwiseLoss):
    """keras.losses.KLDivergence: sum over the last axis of t log(t / p), t = clip(y_true, 1e-7, 1),
    p = clip(y_pred, 1e-7, 1), averaged over the other axes (``ops.kl_divergence``)."""

    name = "kl_divergence"
    _op = "kl_divergence"
    _kind = "kl_divergence"


class Hinge(_ElementwiseLoss):
    """keras.losses.Hinge: mean of max(1 - y_true y_pred, 0); y_true in {-1, 1}, or all in {0, 1}, which are
    then mapped to -1 / 1 (``ops.hinge_loss``)."""

    name = "hinge"
    _op = "hinge_loss"
    _kind = "hinge"


class SquaredHinge(_ElementwiseLoss):
    """keras.losses.SquaredHinge: mean of max(1 - y_true y_pred, 0)^2, labels as :class:`Hinge`
    (``ops.squared_hinge_loss``)."""

    name = "squared_hinge"
    _op = "squared_hinge_loss"
    _kind = "squared_hinge"


class LogCosh(_ElementwiseLoss):
    """keras.losses.LogCosh: mean of log(cosh(y_pred - y_true)) (``ops.log_cosh_loss``)."""

    name = "log_cosh"
    _op = "log_cosh_loss"
    _kind = "log_cosh"


class Poisson(_ElementwiseLoss):
    """keras.losses.Poisson: mean of y_pred - y_true log(y_pred + 1e-7), y_pred the predicted rate
    (``ops.poisson_loss``)."""

    name = "poisson"
    _op = "poisson_loss"
    _kind = "poisson"


__all__ += ["Huber", "KLDivergence", "Hinge", "SquaredHinge", "LogCosh", "Poisson"]

mean_squared_error = MeanSquaredError
mean_absolute_error = MeanAbsoluteError
binary_crossentropy = BinaryCrossentropy
categorical_crossentropy = CategoricalCrossentropy
sparse_categorical_crossentropy = SparseCategoricalCrossentropy
categorical_focal_crossentropy = CategoricalFocalCrossentropy
binary_focal_crossentropy = BinaryFocalCrossentropy

_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "huber": Huber, "huber_loss": Huber, "kl_divergence": KLDivergence, "kld": KLDivergence, "hinge": Hinge,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
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
