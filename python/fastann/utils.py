"""Keras' ``keras.utils`` helpers fastann provides: ``to_categorical``, ``set_random_seed``."""
from __future__ import annotations

import numbers
import random

import numpy as np

__all__ = ["set_random_seed", "to_categorical"]

#: The source of the seeds of models built with ``seed=None`` after ``set_random_seed`` (None before).
_seed_source = None


def set_random_seed(seed) -> None:
    """Make the following runs repeatable, as ``keras.utils.set_random_seed``: seeds Python's ``random``,
    NumPy's global generator, and the stream from which every later model built with ``seed=None`` draws
    its seed (its weight initialization, dropout masks and shuffling). The same seed and the same
    sequence of models give the same results (at the same thread count).

    Args: seed: a non-negative int.
    Raises: ValueError for anything else (Keras's check).
    """
    global _seed_source
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    _seed_source = np.random.SeedSequence(int(seed))


def model_seed(seed):
    """The seed a model uses: ``seed`` when given, else the next one from ``set_random_seed``'s stream, else
    None (a fresh random run)."""
    if seed is not None or _seed_source is None:
        return seed
    return int(_seed_source.spawn(1)[0].generate_state(1, np.uint64)[0])


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
