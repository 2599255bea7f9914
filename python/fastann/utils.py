"""Keras' ``keras.utils`` helpers fastann provides: ``to_categorical``."""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["to_categorical"]


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels (``keras.utils.to_categorical``).

    Args:
        x: array-like of class indices in [0, num_classes), any shape; integer or integral float values.
        num_classes: number of classes (positive int); None: ``max(x) + 1``.
    Returns:
        float32 NumPy array of shape ``x.shape + (num_classes,)``, except that a trailing axis of size 1
        is dropped first (x (N, 1) gives (N, num_classes)), as Keras does. Row i has 1 at x[i], else 0.
    Raises:
        TypeError for non-numeric x or a non-int num_classes; ValueError for empty x with num_classes None,
        non-integral or negative labels, labels >= num_classes, or num_classes <= 0.
    """
    a = np.asarray(x)
    if a.dtype.kind not in "iuf" and a.dtype.kind != "b":
        raise TypeError(f"to_categorical: x must hold integer class labels, got dtype {a.dtype}")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.floor(a)):
            raise ValueError("to_categorical: x must hold integer class labels, got non-integral values")
    labels = a.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if num_classes is None:
        if flat.size == 0:
            raise ValueError("to_categorical: x is empty; give num_classes")
        num_classes = int(flat.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(f"to_categorical: num_classes must be an int or None, got {num_classes!r}")
    num_classes = int(num_classes)
    if num_classes <= 0:
        raise ValueError(f"to_categorical: num_classes must be positive, got {num_classes}")
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        bad = int(flat.min()) if flat.min() < 0 else int(flat.max())
        raise ValueError(f"to_categorical: label {bad} is out of range for num_classes={num_classes}")
    out = np.zeros((flat.size, num_classes), dtype=np.float32)
    out[np.arange(flat.size), flat] = 1.0
    return out.reshape(tuple(shape) + (num_classes,))
