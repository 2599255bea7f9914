"""Keras' ``keras.utils`` helpers fastann provides: ``to_categorical``, ``set_random_seed``; and
``plot_history``, the training curves the course draws after every ``fit`` (matplotlib, the ``plot`` extra)."""
from __future__ import annotations

import numbers
import random

import numpy as np

__all__ = ["plot_history", "set_random_seed", "to_categorical"]

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


def _import_pyplot(headless: bool):
    """matplotlib.pyplot, imported on first use (matplotlib is the optional ``plot`` extra). ``headless``
    selects the Agg backend (no display needed) when pyplot has not been imported yet."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError('plot_history needs matplotlib: pip install "fastann[plot]"') from e
    if headless:
        import sys
        if "matplotlib.pyplot" not in sys.modules:
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_history(history, path=None):
    """Draw the training curves of a ``fit``: one panel per quantity (the loss, then each metric), the
    training value and, where recorded, the validation value (``val_<name>``) against the epoch, as in
    Géron, *Hands-On Machine Learning*, ch. 10 ("the learning curves"), with one panel per quantity.

    Args:
        history: the ``History`` that ``model.fit`` returns, or its ``history`` dict
            (name -> list of per-epoch numbers, all of one length; ``"lr"`` / ``"learning_rate"`` get a
            panel of their own like any other quantity).
        path: None, or a file name (str or os.PathLike): the figure is written there (the format from the
            extension, e.g. ``.png``) and matplotlib's headless Agg backend is used if pyplot was not yet
            imported.
    Returns:
        the ``matplotlib.figure.Figure``; its axes are titled by the quantity, x = epoch (1-based, offset
        by ``history.epoch`` when given), solid line = training, dashed line = validation.
    Raises:
        ImportError naming ``pip install "fastann[plot]"`` when matplotlib is missing; TypeError when
        ``history`` is neither a History nor a dict, or a value is not a sequence of numbers; ValueError
        when it holds no epochs, or the lists differ in length.
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError(f"plot_history: history must be a History or its dict, got {type(history).__name__}")
    series = {}
    for name, values in logs.items():
        try:
            arr = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as e:
            raise TypeError(f"plot_history: history[{name!r}] must be a list of numbers, got {values!r}") from e
        series[str(name)] = arr
    if not series or all(a.size == 0 for a in series.values()):
        raise ValueError("plot_history: history holds no epochs")
    lengths = {a.size for a in series.values()}
    if len(lengths) != 1:
        raise ValueError(f"plot_history: the lists in history differ in length: "
                         f"{ {k: a.size for k, a in series.items()} }")
    n = lengths.pop()
    first = getattr(history, "epoch", None)
    start = int(first[0]) if first is not None and len(first) == n and n else 0
    epochs = np.arange(start + 1, start + n + 1)

    names = [k for k in series if not (k.startswith("val_") and k[4:] in series)]
    names.sort(key=lambda k: (k != "loss", k.startswith("val_"), list(series).index(k)))

    plt = _import_pyplot(headless=path is not None)
    from matplotlib.ticker import MaxNLocator
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, series[name], "o-", label="training" if not name.startswith("val_") else name)
        if "val_" + name in series:
            ax.plot(epochs, series["val_" + name], "s--", label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
