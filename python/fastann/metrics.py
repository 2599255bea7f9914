"""Metrics with Keras names (``keras.metrics``): functions for one batch, classes that accumulate over many.

Functions (return a Python float, the mean over the batch):

* ``sparse_categorical_accuracy(y_true, y_pred)``: y_true (N,) integer labels, y_pred (N, C) scores;
  the fraction with argmax(y_pred) == y_true.
* ``categorical_accuracy(y_true, y_pred)``: y_true (N, C) one-hot; argmax(y_pred) == argmax(y_true).
* ``binary_accuracy(y_true, y_pred, threshold=0.5)``: any shape; (y_pred > threshold) == y_true.
* ``accuracy(y_true, y_pred)``: the fraction of elements with y_pred == y_true exactly (Keras' meaning).

In ``model.compile(metrics=["accuracy"])`` the name "accuracy" (or "acc") is resolved by
:func:`resolve_accuracy` from the shapes of y and of the model output, as Keras 3 does (the loss plays no
part); the logged name stays the one given. ``get("accuracy", loss)`` (standalone use) resolves from the
loss instead. Argmax-based accuracies give the same answer on logits as on probabilities, so they also work
when the model fuses its softmax into the loss.

Classes accumulate without a host synchronisation per batch: ``update_state`` keeps the per-batch counts as
0-d arrays of the predictions' array module, and ``result()`` sums them once.
"""
from __future__ import annotations

from . import ops

__all__ = ["Metric", "Accuracy", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "accuracy", "sparse_categorical_accuracy",
           "categorical_accuracy", "binary_accuracy", "get", "resolve_accuracy"]


def _xp(a):
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy  # noqa: PLC0415

        return cupy
    import numpy  # noqa: PLC0415

    return numpy


def _check_pair(name, y_true, y_pred, labels=False):
    if not hasattr(y_pred, "shape") or not hasattr(y_true, "shape"):
        raise TypeError(f"{name}: y_true and y_pred must be arrays, got {type(y_true).__name__} and "
                        f"{type(y_pred).__name__}")
    if labels:
        if y_pred.ndim != 2 or y_true.shape != y_pred.shape[:1]:
            raise ValueError(f"{name}: needs y_true (N,) labels and y_pred (N, C), got shapes "
                             f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}")
    elif y_true.shape != y_pred.shape:
        raise ValueError(f"{name}: y_true shape {tuple(y_true.shape)} != y_pred shape {tuple(y_pred.shape)}")


def _sparse_correct(y_true, y_pred):
    _check_pair("sparse_categorical_accuracy", y_true, y_pred, labels=True)
    # count_nonzero on the bool array: about 2x faster than argmax(...) == y then .sum() per batch
    return _xp(y_pred).count_nonzero(y_pred.argmax(axis=-1) == y_true)


def _categorical_correct(y_true, y_pred):
    _check_pair("categorical_accuracy", y_true, y_pred)
    return _xp(y_pred).count_nonzero(y_pred.argmax(axis=-1) == y_true.argmax(axis=-1))


def _binary_correct(y_true, y_pred, threshold=0.5):
    _check_pair("binary_accuracy", y_true, y_pred)
    return ((y_pred > threshold) == (y_true > 0.5)).sum()


def _exact_correct(y_true, y_pred):
    _check_pair("accuracy", y_true, y_pred)
    return (y_pred == y_true).sum()


def sparse_categorical_accuracy(y_true, y_pred) -> float:
    """Fraction of rows whose argmax(y_pred) equals the integer label y_true: y_true (N,), y_pred (N, C)."""
    return float(_sparse_correct(y_true, y_pred)) / max(1, y_true.shape[0])


def categorical_accuracy(y_true, y_pred) -> float:
    """Fraction of rows with argmax(y_pred) == argmax(y_true): both (N, C), y_true one-hot."""
    return float(_categorical_correct(y_true, y_pred)) / max(1, y_true.shape[0])


def binary_accuracy(y_true, y_pred, threshold=0.5) -> float:
    """Fraction of elements with (y_pred > threshold) == y_true (0/1 targets); same shapes."""
    return float(_binary_correct(y_true, y_pred, threshold)) / max(1, y_true.size)


def accuracy(y_true, y_pred) -> float:
    """Fraction of elements with y_pred == y_true exactly; same shapes."""
    return float(_exact_correct(y_true, y_pred)) / max(1, y_true.size)


class Metric:
    """Accumulates a metric over batches: ``reset_state()``, ``update_state(y_true, y_pred)``, ``result()``.

    ``needs_probabilities``: True when the value changes if the model's softmax is skipped (then the model
    applies the softmax before updating this metric).
    """

    needs_probabilities = False
    default_name = "metric"

    def __init__(self, name=None):
        self.name = name or self.default_name
        self.reset_state()

    def reset_state(self):
        self._sums = []   # per-batch 0-d arrays not yet read (no host sync per batch)
        self._total = 0.0
        self._count = 0

    def result(self) -> float:
        """The mean so far (NaN before any update); folds the pending per-batch sums into a float."""
        if self._sums:
            if type(self._sums[0]).__module__.split(".")[0] == "cupy":
                # add the pending device scalars on the GPU: one device-to-host read, not one per batch
                xp = _xp(self._sums[0])
                self._total += float(xp.stack(self._sums).astype(xp.float64).sum())
            else:
                self._total += sum(float(s) for s in self._sums)
            self._sums.clear()
        if self._count == 0:
            return float("nan")
        return self._total / self._count

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class _CountMetric(Metric):
    _correct = None          # function (y_true, y_pred) -> 0-d count of correct elements
    _per_row = True

    def update_state(self, y_true, y_pred):
        self._sums.append(type(self)._correct(y_true, y_pred))
        self._count += y_true.shape[0] if self._per_row else y_true.size


class SparseCategoricalAccuracy(_CountMetric):
    """Running sparse_categorical_accuracy: y_true (N,) labels, y_pred (N, C)."""

    default_name = "sparse_categorical_accuracy"
    _correct = staticmethod(_sparse_correct)


class CategoricalAccuracy(_CountMetric):
    """Running categorical_accuracy: y_true one-hot (N, C), y_pred (N, C)."""

    default_name = "categorical_accuracy"
    _correct = staticmethod(_categorical_correct)


class BinaryAccuracy(_CountMetric):
    """Running binary_accuracy with ``threshold`` (0.5): (y_pred > threshold) == y_true, per element."""

    default_name = "binary_accuracy"
    needs_probabilities = True
    _per_row = False

    def __init__(self, name=None, threshold=0.5):
        self.threshold = float(threshold)
        super().__init__(name)

    def update_state(self, y_true, y_pred):
        self._sums.append(_binary_correct(y_true, y_pred, self.threshold))
        self._count += y_true.size


class Accuracy(_CountMetric):
    """Running exact-match accuracy (y_pred == y_true), per element."""

    default_name = "accuracy"
    needs_probabilities = True
    _per_row = False
    _correct = staticmethod(_exact_correct)


class MeanSquaredError(Metric):
    """Running mean of (y_pred - y_true)^2 over all elements (``ops.mse_loss``)."""

    default_name = "mean_squared_error"
    needs_probabilities = True
    _op = staticmethod(lambda t, p: ops.mse_loss(p, t))

    def update_state(self, y_true, y_pred):
        self._sums.append(self._op(y_true, y_pred) * y_true.size)
        self._count += y_true.size


class MeanAbsoluteError(MeanSquaredError):
    """Running mean of |y_pred - y_true| over all elements (``ops.l1_loss``)."""

    default_name = "mean_absolute_error"
    _op = staticmethod(lambda t, p: ops.l1_loss(p, t))


_BY_NAME = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}


def resolve_accuracy(name, y_true_shape, y_pred_shape) -> Metric:
    """The metric Keras 3 makes of "accuracy"/"acc" (``name``, also its logged name) for targets of shape
    ``y_true_shape`` and outputs of shape ``y_pred_shape`` (batch axis first, may be None): one output unit
    (last axis 1) -> BinaryAccuracy; targets of lower rank than the outputs, or a last axis of 1 against
    several units -> SparseCategoricalAccuracy; else CategoricalAccuracy (Keras'
    ``compile_utils.get_metric``)."""
    is_binary = y_pred_shape[-1] == 1
    is_sparse = len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1)
    if is_binary:
        return BinaryAccuracy(name=name)
    if is_sparse:
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)


def get(identifier, loss=None) -> Metric:
    """A Metric from a name, a Metric instance or class. "accuracy"/"acc" is resolved from ``loss`` (a
    fastann.losses.Loss) like Keras; without a loss it is exact-match accuracy. ValueError for an unknown
    name, TypeError otherwise."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            name = getattr(loss, "name", "")
            if name == "sparse_categorical_crossentropy":
                return SparseCategoricalAccuracy(name="accuracy")
            if name == "categorical_crossentropy":
                return CategoricalAccuracy(name="accuracy")
            if name == "binary_crossentropy":
                return BinaryAccuracy(name="accuracy")
            return Accuracy(name="accuracy")
        if key not in _BY_NAME:
            raise ValueError(f"metrics.get: unknown metric {identifier!r}; known: accuracy, "
                             f"{', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[key]()
    raise TypeError(f"metrics.get: expected a metric name or a fastann.metrics.Metric, got {identifier!r}")
