"""keras.metrics AUC, Precision, Recall and TopKCategoricalAccuracy against formulas written out here."""
import numpy as np
import pytest

from fastann import metrics


def _confusion_loop(t, p, thresholds):
    """tp, fp, tn, fn per threshold by direct comparison (prediction positive where p > threshold)."""
    t = t.ravel() != 0
    p = p.ravel()
    rows = [(np.sum(t & (p > u)), np.sum(~t & (p > u)), np.sum(~t & (p <= u)), np.sum(t & (p <= u)))
            for u in thresholds]
    return [np.array(c, np.float64) for c in zip(*rows)]


def _keras_thresholds(n):
    return [-1e-7] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + 1e-7]


def _safe(a, b):
    return np.array([x / y if y else 0.0 for x, y in zip(a, b)])


def _riemann(t, p, n, curve, method):
    tp, fp, tn, fn = _confusion_loop(t, p, _keras_thresholds(n))
    rec = _safe(tp, tp + fn)
    x, y = (_safe(fp, fp + tn), rec) if curve == "ROC" else (rec, _safe(tp, tp + fp))
    total = 0.0
    for i in range(n - 1):
        h = {"interpolation": (y[i] + y[i + 1]) / 2, "minoring": min(y[i], y[i + 1]),
             "majoring": max(y[i], y[i + 1])}[method]
        total += (x[i] - x[i + 1]) * h
    return total


def _mann_whitney(t, p):
    """The exact ROC AUC: P(score of a positive > score of a negative), ties counted one half."""
    pos, neg = p[t == 1], p[t == 0]
    return (np.sum(pos[:, None] > neg[None, :]) + 0.5 * np.sum(pos[:, None] == neg[None, :])) / (pos.size * neg.size)


def test_auc_keras_documented_value():
    m = metrics.AUC(num_thresholds=3)
    m.update_state(np.array([0, 0, 1, 1]), np.array([0, 0.5, 0.3, 0.9]))
    assert m.result() == pytest.approx(0.75, abs=1e-12)  # Keras's docstring
    m.reset_state()
    m.update_state(np.array([0, 1]), np.array([0.2, 0.8]))
    assert m.result() == pytest.approx(1.0)


@pytest.mark.parametrize("curve,method", [("ROC", "interpolation"), ("ROC", "minoring"), ("ROC", "majoring"),
                                          ("PR", "minoring"), ("PR", "majoring")])
def test_auc_riemann_sums(rng, curve, method):
    t = rng.integers(0, 2, 157)
    p = rng.uniform(0, 1, 157)
    m = metrics.AUC(num_thresholds=37, curve=curve, summation_method=method)
    m.update_state(t[:100], p[:100])  # two updates accumulate as one
    m.update_state(t[100:], p[100:])
    assert m.result() == pytest.approx(_riemann(t, p, 37, curve, method), abs=1e-12)


def test_auc_default_close_to_exact_roc(rng):
    t = rng.integers(0, 2, 2000)
    p = np.clip(0.3 * t + rng.uniform(0, 0.7, 2000), 0, 1)
    m = metrics.AUC()
    m.update_state(t, p)
    assert m.result() == pytest.approx(_mann_whitney(t, p), abs=5e-3)
    logits = metrics.AUC(from_logits=True)
    logits.update_state(t, np.log(p + 1e-9) - np.log1p(-p + 1e-9))
    assert logits.result() == pytest.approx(m.result(), abs=1e-2)


def test_auc_pr_interpolation(rng):
    """Keras's interpolate_pr_auc (Davis & Goadrich) on one-step data, and close to the average precision."""
    t = np.array([0, 1])
    p = np.array([0.2, 0.8])
    m = metrics.AUC(num_thresholds=5, curve="PR")
    m.update_state(t, p)
    assert m.result() == pytest.approx(1.0, abs=1e-12)
    t = rng.integers(0, 2, 3000)
    p = np.clip(0.4 * t + rng.uniform(0, 0.6, 3000), 0, 1)
    m = metrics.AUC(curve="PR", num_thresholds=1000)
    m.update_state(t, p)
    order = np.argsort(-p)
    hits = t[order]
    ap = np.sum(np.cumsum(hits)[hits == 1] / (np.flatnonzero(hits == 1) + 1)) / hits.sum()
    assert m.result() == pytest.approx(ap, abs=1e-2)


def test_precision_recall(rng):
    t = rng.integers(0, 2, (40, 3))
    p = rng.uniform(0, 1, (40, 3))
    for thr in (0.5, 0.25):
        tp, fp, tn, fn = (float(c[0]) for c in _confusion_loop(t, p, [thr]))
        pm, rm = metrics.Precision(thresholds=thr), metrics.Recall(thresholds=thr)
        for m in (pm, rm):
            m.update_state(t[:15], p[:15])
            m.update_state(t[15:], p[15:])
        assert pm.result() == pytest.approx(tp / (tp + fp), abs=1e-12)
        assert rm.result() == pytest.approx(tp / (tp + fn), abs=1e-12)
    many = metrics.Precision(thresholds=[0.7, 0.2])
    many.update_state(t, p)
    want = [c[0] / (c[0] + c[1]) for c in zip(*_confusion_loop(t, p, [0.7, 0.2])[:2])]
    assert many.result() == pytest.approx(want, abs=1e-12)
    # Keras's docstring: y_true [0, 1, 1, 1], y_pred [1, 0, 1, 1] -> precision 2/3, recall 2/3
    pm, rm = metrics.Precision(), metrics.Recall()
    pm.update_state(np.array([0, 1, 1, 1]), np.array([1.0, 0, 1, 1]))
    rm.update_state(np.array([0, 1, 1, 1]), np.array([1.0, 0, 1, 1]))
    assert pm.result() == pytest.approx(2 / 3) and rm.result() == pytest.approx(2 / 3)
    empty = metrics.Precision()
    empty.update_state(np.array([1, 1]), np.array([0.1, 0.2]))
    assert empty.result() == 0.0  # nothing predicted positive: 0, not NaN (divide_no_nan)
    empty.reset_state()
    assert empty.result() == 0.0
    with pytest.raises(ValueError, match="thresholds"):
        metrics.Recall(thresholds=1.5)
    with pytest.raises(ValueError, match="shape"):
        pm.update_state(np.zeros(3), np.zeros(4))


def test_top_k_categorical_accuracy(rng):
    # Keras's docstring: 2 rows, k=1 -> 0.5
    y = np.array([[0, 0, 1], [0, 1, 0]], np.float32)
    p = np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]], np.float32)
    m = metrics.TopKCategoricalAccuracy(k=1)
    m.update_state(y, p)
    assert m.result() == pytest.approx(0.5)
    assert metrics.top_k_categorical_accuracy(y, p, k=2) == pytest.approx(1.0)
    labels = rng.integers(0, 10, 300)
    y = np.eye(10)[labels]
    p = rng.standard_normal((300, 10))
    rank = np.argsort(np.argsort(-p, axis=1), axis=1)[np.arange(300), labels]
    m = metrics.get("top_k_categorical_accuracy")
    assert isinstance(m, metrics.TopKCategoricalAccuracy) and m.k == 5
    m.update_state(y[:100], p[:100])
    m.update_state(y[100:], p[100:])
    assert m.result() == pytest.approx(np.mean(rank < 5))
    with pytest.raises(ValueError, match="k must be"):
        metrics.TopKCategoricalAccuracy(k=0)


def test_names_resolve():
    assert isinstance(metrics.get("auc"), metrics.AUC)
    assert isinstance(metrics.get("precision"), metrics.Precision)
    assert isinstance(metrics.get("recall"), metrics.Recall)
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
