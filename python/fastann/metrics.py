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
from ._config_args import attribute_config

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

    def get_config(self) -> dict:
        """The constructor's arguments (``from_config`` rebuilds the metric from them)."""
        return attribute_config(self)

    @classmethod
    def from_config(cls, config):
        """The object ``cls(**config)`` (the inverse of ``get_config``)."""
        return cls(**config)

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


# ---- confusion-matrix metrics and top-k accuracy (keras.metrics, Keras 3) --------------------------------
# The counts live on the host in float64 (one device read per update for CuPy inputs): these metrics compare
# every prediction with up to num_thresholds thresholds, which NumPy does by sorting, not a kernel.
def _host(a):
    import numpy  # noqa: PLC0415

    return a.get() if type(a).__module__.split(".")[0] == "cupy" else numpy.asarray(a)


def _counts_above(name, y_true, y_pred, thresholds):
    """(tp, fp, tn, fn) per threshold, float64 arrays: a prediction is positive where y_pred > threshold, a
    label where y_true != 0 (Keras's update_confusion_matrix_variables). thresholds: sorted 1-D array."""
    import numpy as np  # noqa: PLC0415

    _check_pair(name, y_true, y_pred)
    t, p = _host(y_true).ravel() != 0, _host(y_pred).ravel().astype(np.float64)
    above = np.searchsorted(thresholds, p, side="left")  # how many thresholds lie below each prediction
    k = len(thresholds)
    # tp[i] = number of positives with above > i: a reversed cumulative count
    pos = np.cumsum(np.bincount(above[t], minlength=k + 1)[::-1])[::-1][1:].astype(np.float64)
    neg = np.cumsum(np.bincount(above[~t], minlength=k + 1)[::-1])[::-1][1:].astype(np.float64)
    n_pos, n_neg = float(t.sum()), float((~t).sum())
    return pos, neg, n_neg - neg, n_pos - pos


def _div(a, b):
    """a / b elementwise, 0 where b == 0 (Keras's divide_no_nan)."""
    import numpy as np  # noqa: PLC0415

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


class _ThresholdMetric(Metric):
    """Precision / Recall: true/false positive/negative counts at one or more thresholds.

    thresholds: a float in [0, 1] or a list of them (then result() is a list); default 0.5. ValueError for a
    threshold outside [0, 1] or an empty list."""

    needs_probabilities = True

    def __init__(self, thresholds=None, name=None):
        import numpy as np  # noqa: PLC0415

        self._listed = isinstance(thresholds, (list, tuple))
        values = [0.5] if thresholds is None else list(thresholds) if self._listed else [thresholds]
        if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0
                             for v in values):
            raise ValueError(f"{type(self).__name__}: thresholds must be a number in [0, 1] or a non-empty list "
                             f"of them, got {thresholds!r}")
        self.thresholds = list(map(float, values)) if self._listed else float(values[0])
        self._thr = np.asarray(values, np.float64)
        self._order = np.argsort(self._thr, kind="stable")
        super().__init__(name)

    def reset_state(self):
        import numpy as np  # noqa: PLC0415

        self._tp = self._fp = self._tn = self._fn = np.zeros(len(self._thr))

    def update_state(self, y_true, y_pred):
        counts = _counts_above(self.name, y_true, y_pred, self._thr[self._order])
        undo = self._order.argsort()
        tp, fp, tn, fn = (c[undo] for c in counts)
        self._tp, self._fp, self._tn, self._fn = self._tp + tp, self._fp + fp, self._tn + tn, self._fn + fn

    def _value(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self):
        v = self._value()
        return [float(x) for x in v] if self._listed else float(v[0])


class Precision(_ThresholdMetric):
    """keras.metrics.Precision(thresholds=None): tp / (tp + fp) over all updates (0 when nothing was
    predicted positive), a prediction being positive where y_pred > threshold (0.5 by default) and a label where
    y_true != 0. Any shapes with y_true.shape == y_pred.shape (flattened)."""

    default_name = "precision"

    def _value(self):
        return _div(self._tp, self._tp + self._fp)


class Recall(_ThresholdMetric):
    """keras.metrics.Recall(thresholds=None): tp / (tp + fn) over all updates (0 without positive labels),
    thresholds as :class:`Precision`."""

    default_name = "recall"

    def _value(self):
        return _div(self._tp, self._tp + self._fn)


class AUC(Metric):
    """keras.metrics.AUC(num_thresholds=200, curve="ROC", summation_method="interpolation", from_logits=False):
    the area under the ROC or precision-recall curve, approximated on num_thresholds thresholds (evenly spaced
    in [0, 1], plus -1e-7 and 1 + 1e-7 at the ends) with Keras's Riemann sums: "interpolation" takes the mean
    height of each step (and for "PR" the Davis & Goadrich interpolation of precision, as Keras's
    interpolate_pr_auc), "minoring" / "majoring" the lower / upper one. y_true 0/1 labels (nonzero counts as
    1), y_pred probabilities (or logits with from_logits=True: a sigmoid is applied), same shapes, flattened.
    ValueError for num_thresholds <= 1, an unknown curve or summation method."""

    default_name = "auc"
    needs_probabilities = True

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None,
                 thresholds=None, from_logits=False):
        import numpy as np  # noqa: PLC0415

        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if curve not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: summation_method must be 'interpolation', 'minoring' or 'majoring', got "
                             f"{summation_method!r}")
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            if any(not 0.0 <= t <= 1.0 for t in inner):
                raise ValueError(f"AUC: thresholds must lie in [0, 1], got {thresholds!r}")
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be an integer > 1, got {num_thresholds!r}")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self._thr = np.asarray([0.0 - 1e-7] + inner + [1.0 + 1e-7], np.float64)
        self.num_thresholds = len(self._thr)
        self.curve, self.summation_method, self.from_logits = curve, summation_method, bool(from_logits)
        super().__init__(name)

    def reset_state(self):
        import numpy as np  # noqa: PLC0415

        self._tp = self._fp = self._tn = self._fn = np.zeros(self.num_thresholds)

    def update_state(self, y_true, y_pred):
        import numpy as np  # noqa: PLC0415

        if self.from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-_host(y_pred).astype(np.float64)))
        tp, fp, tn, fn = _counts_above(self.name, y_true, y_pred, self._thr)
        self._tp, self._fp, self._tn, self._fn = self._tp + tp, self._fp + fp, self._tn + tn, self._fn + fn

    def _interpolate_pr_auc(self):
        import numpy as np  # noqa: PLC0415

        tp, fp, fn = self._tp, self._fp, self._fn
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _div(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        safe_p_ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _div(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return float(np.sum(_div(prec_slope * (dtp + intercept * np.log(safe_p_ratio)),
                                 np.maximum(tp[1:] + fn[1:], 0))))

    def result(self) -> float:
        import numpy as np  # noqa: PLC0415

        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        recall = _div(self._tp, self._tp + self._fn)
        if self.curve == "ROC":
            x, y = _div(self._fp, self._fp + self._tn), recall
        else:
            x, y = recall, _div(self._tp, self._tp + self._fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))


def _top_k_correct(y_true, y_pred, k=5):
    _check_pair("top_k_categorical_accuracy", y_true, y_pred)
    if y_pred.ndim != 2:
        raise ValueError(f"top_k_categorical_accuracy: needs y_true and y_pred of shape (N, C), got "
                         f"{tuple(y_pred.shape)}")
    xp = _xp(y_pred)
    label = y_true.argmax(axis=-1)
    score = y_pred[xp.arange(y_pred.shape[0]), label]
    # in the top k when fewer than k classes score strictly higher (ties count as in, as tf.math.in_top_k)
    return xp.count_nonzero((y_pred > score[:, None]).sum(axis=-1) < k)


def top_k_categorical_accuracy(y_true, y_pred, k=5) -> float:
    """Fraction of rows whose true class (argmax of the one-hot y_true) is among the k highest y_pred scores;
    both (N, C). Classes tied with the k-th score count as in the top k."""
    return float(_top_k_correct(y_true, y_pred, k)) / max(1, y_true.shape[0])


class TopKCategoricalAccuracy(_CountMetric):
    """keras.metrics.TopKCategoricalAccuracy(k=5): running :func:`top_k_categorical_accuracy`; ValueError for
    k < 1."""

    default_name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name=None):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"TopKCategoricalAccuracy: k must be an integer >= 1, got {k!r}")
        self.k = k
        super().__init__(name)

    def update_state(self, y_true, y_pred):
        self._sums.append(_top_k_correct(y_true, y_pred, self.k))
        self._count += y_true.shape[0]


__all__ += ["AUC", "Precision", "Recall", "TopKCategoricalAccuracy", "top_k_categorical_accuracy"]
_BY_NAME.update({"auc": AUC, "precision": Precision, "recall": Recall,
                 "top_k_categorical_accuracy": TopKCategoricalAccuracy})
