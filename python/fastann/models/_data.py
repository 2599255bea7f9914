"""Data plumbing of the models: input checks and casts, the validation split, and mini-batches.

``prepare_x`` / ``prepare_y`` check what fit, evaluate and predict are given and cast it ONCE to the model's
dtype (labels to int64), on the side where it lives: NumPy data stays on the host even for a GPU model.
``Batches`` then hands out the mini-batches of an epoch on the model's device: rows lo:hi in order, or the
rows of a permutation (shuffling), each gathered into a preallocated buffer (float host data by the row gather
of ``ops.embedding``, on the kernels' threads; anything else by one ``take``); host data for a GPU model is
gathered the same way into ``HostToDevice``'s pinned buffers and copied asynchronously on the compute stream.
"""
from __future__ import annotations

import numbers
import types

import numpy as np

from .. import _backend
from .._args.common import is_cupy

__all__ = ["Batches", "HostToDevice", "class_weight_to_sample_weight", "fit_sets", "n_samples", "nonneg_int",
           "positive_int", "prepare_sample_weight", "prepare_x", "prepare_y", "split_validation"]


def positive_int(what, v):
    """``v`` as an int; ValueError naming ``Sequential.<what>`` unless it is a positive integer."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
        raise ValueError(f"Sequential.{what} must be a positive integer, got {v!r}")
    return int(v)


def nonneg_int(what, v):
    """``v`` as an int; ValueError naming ``Sequential.<what>`` unless it is a non-negative integer."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
        raise ValueError(f"Sequential.{what} must be a non-negative integer, got {v!r}")
    return int(v)


def n_samples(x) -> int:
    """The number of samples of prepared inputs (one array, or a list for a model with several inputs)."""
    return (x[0] if isinstance(x, (list, tuple)) else x).shape[0]


def _owner(model) -> str:
    return getattr(model, "_owner", None) or type(model).__name__


def _part(model, owner, **attrs):
    """A stand-in for ``model`` seen through one of its inputs or outputs (prepare_x / prepare_y of one
    array of a model with several)."""
    return types.SimpleNamespace(_owner=owner, xp=model.xp, dtype=model.dtype, built=True, **attrs)


def _several(model, what, name, a, count):
    """``a`` as a list of ``count`` arrays (several inputs or outputs). TypeError/ValueError otherwise."""
    if isinstance(a, dict):
        raise NotImplementedError(f"{_owner(model)}.{what}: a dict of {name} is not implemented; give a list "
                                  f"in the model's {'input' if name == 'x' else 'output'} order")
    if not isinstance(a, (list, tuple)) or len(a) != count:
        got = f"a list of {len(a)}" if isinstance(a, (list, tuple)) else type(a).__name__
        raise ValueError(f"{_owner(model)}.{what}: the model has {count} {'inputs' if name == 'x' else 'outputs'};"
                         f" {name} must be a list of {count} arrays, got {got}")
    return list(a)


def _prepare_several_x(model, what, x):
    xs = _several(model, what, "x", x, model._n_inputs)
    out = [prepare_x(_part(model, _owner(model), input_shape=tuple(s)), f"{what}(x[{i}])", a)
           for i, (a, s) in enumerate(zip(xs, model.input_shape))]
    if len({a.shape[0] for a in out}) != 1:
        raise ValueError(f"{_owner(model)}.{what}: the inputs have different numbers of samples "
                         f"{[a.shape[0] for a in out]}")
    return out


def _prepare_several_y(model, what, y, n):
    ys = _several(model, what, "y", y, model._n_outputs)
    return [prepare_y(_part(model, _owner(model), loss=loss, output_shape=tuple(s)), f"{what}(y[{i}])", a, n)
            for i, (a, s, loss) in enumerate(zip(ys, model.output_shape, model.loss.losses))]


def _check_side(model, what, name, a):
    if not isinstance(a, np.ndarray) and not is_cupy(a):
        raise TypeError(f"{_owner(model)}.{what}: {name} must be a numpy array, got {type(a).__name__}")
    if is_cupy(a) and model.xp is np:
        raise TypeError(f"{_owner(model)}.{what}: {name} is a CuPy (GPU) array but the model is on the CPU; "
                        f"pass a numpy array or call model.to('cuda') first")


def _cast(model, a, dtype):
    """``a`` as a C-contiguous array of ``dtype`` on the side where it lives (NumPy data stays on the
    host even for a GPU model: fit/evaluate/predict copy it to the device batch by batch)."""
    xp = model.xp if is_cupy(a) else np
    return xp.ascontiguousarray(xp.asarray(a, dtype=dtype))


def prepare_x(model, what, x):
    """Inputs x (N, *input_shape), any numeric dtype, as the model dtype; builds an unbuilt model for
    x.shape[1:]. TypeError for a non-array or non-numeric x (or GPU data for a CPU model), ValueError for
    a missing batch axis, no samples, or a shape the model does not take; ``what`` names the caller.
    A model with several inputs takes a list of arrays, one per input (prepared the same way)."""
    if getattr(model, "_n_inputs", 1) > 1:
        return _prepare_several_x(model, what, x)
    _check_side(model, what, "x", x)
    if x.ndim < 2:
        raise ValueError(f"{_owner(model)}.{what}: x must be (N, ...) with a batch axis, got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{_owner(model)}.{what}: x is empty (shape {x.shape})")
    if not (x.dtype.kind in "fiub"):
        raise TypeError(f"{_owner(model)}.{what}: x must hold numbers, got dtype {x.dtype}")
    if not model.built:
        model._build(x.shape[1:])
    if tuple(x.shape[1:]) != model.input_shape:
        raise ValueError(f"{_owner(model)}.{what}: the model takes inputs of shape (N, "
                         f"{', '.join(map(str, model.input_shape))}), got x of shape {x.shape}")
    return _cast(model, x, model.dtype)


def prepare_y(model, what, y, n):
    """Targets for ``n`` samples as the compiled loss takes them: int64 class labels (N,) in range for
    a loss on labels ((N, 1) is accepted), else (N, *output_shape) of the model dtype ((N,) is accepted
    for an (N, 1) output). TypeError/ValueError
    for a wrong kind, dtype, count, shape or an out-of-range label. A model with several outputs takes a list,
    one target array per output (each for its own loss)."""
    if getattr(model, "_n_outputs", 1) > 1:
        return _prepare_several_y(model, what, y, n)
    _check_side(model, what, "y", y)
    if y.shape[0] != n:
        raise ValueError(f"{_owner(model)}.{what}: x has {n} samples but y has {y.shape[0]}")
    if model.loss.target_kind == "labels":
        if y.dtype.kind not in "iu":
            raise TypeError(f"{_owner(model)}.{what}: {model.loss.name} takes integer class labels, got y of "
                            f"dtype {y.dtype}")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"{_owner(model)}.{what}: labels y must be (N,), got shape {y.shape}")
        classes = model.output_shape[-1]
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{_owner(model)}.{what}: label {bad} is out of range for {classes} classes "
                             f"(the model outputs {model.output_shape})")
        return _cast(model, y, np.int64)
    if y.ndim == 1 and tuple(model.output_shape) == (1,):
        y = y.reshape(-1, 1)  # Keras: (N,) targets for an (N, 1) output (regression, binary)
    if tuple(y.shape[1:]) != tuple(model.output_shape):
        raise ValueError(f"{_owner(model)}.{what}: y must have shape (N, {', '.join(map(str, model.output_shape))})"
                         f" like the model output, got {y.shape}")
    return _cast(model, y, model.dtype)


def prepare_sample_weight(model, what, sample_weight, n):
    """Keras's ``sample_weight``: None, or one number per sample, shape (N,) or (N, 1), any real dtype, as
    an (N,) array of the model dtype. A model with several outputs takes one such array (weighing every
    output's loss) or a list of them, one per output. TypeError for a non-array or non-numeric weights,
    ValueError for another shape or count."""
    if sample_weight is None:
        return None
    if getattr(model, "_n_outputs", 1) > 1 and isinstance(sample_weight, (list, tuple)) and \
            any(hasattr(w, "shape") or isinstance(w, (list, tuple)) for w in sample_weight):
        ws = _several(model, what, "sample_weight", sample_weight, model._n_outputs)
        return [prepare_sample_weight(_part(model, _owner(model)), f"{what}(sample_weight[{i}])", w, n)
                for i, w in enumerate(ws)]
    if isinstance(sample_weight, (list, tuple)):
        sample_weight = np.asarray(sample_weight)
    _check_side(model, what, "sample_weight", sample_weight)
    if sample_weight.dtype.kind not in "fiub":
        raise TypeError(f"{_owner(model)}.{what}: sample_weight must hold numbers, got dtype {sample_weight.dtype}")
    if sample_weight.ndim == 2 and sample_weight.shape[1] == 1:
        sample_weight = sample_weight[:, 0]
    if sample_weight.shape != (n,):
        raise ValueError(f"{_owner(model)}.{what}: sample_weight must have one weight per sample, shape ({n},), "
                         f"got shape {sample_weight.shape}")
    return _cast(model, sample_weight, model.dtype)


def class_weight_to_sample_weight(model, class_weight, y, what="fit"):
    """Keras's ``class_weight`` dict {class index: weight} as per-sample weights (N,) of the model dtype:
    the class of a sample is its integer label, the argmax of a one-hot / probability row, or the rounded
    value of a one-unit target (binary); classes missing from the dict weigh 1.0 (Keras's
    ``class_weight_to_sample_weights``). TypeError for a non-dict, a non-integer key or a non-number
    weight; ValueError for a model with several outputs (Keras's rule)."""
    owner = f"{_owner(model)}.{what}"
    if getattr(model, "_n_outputs", 1) > 1:
        raise ValueError(f"{owner}: `class_weight` is only supported for Models with a single output.")
    if not isinstance(class_weight, dict):
        raise TypeError(f"{owner}: class_weight must be a dict {{class index: weight}}, got {class_weight!r}")
    for k, v in class_weight.items():
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"{owner}: class_weight keys must be class indices (ints), got {k!r}")
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{owner}: class_weight[{k}] must be a number, got {v!r}")
    labels = y.get() if is_cupy(y) else y
    if labels.ndim > 1:
        labels = labels.reshape(labels.shape[0], -1)
        labels = labels[:, 0] if labels.shape[1] == 1 else np.argmax(labels, axis=-1)
    labels = np.round(labels).astype(np.int64)
    weights = np.ones(labels.shape[0], dtype=np.float64)
    for k, v in class_weight.items():
        weights[labels == k] = v
    return _cast(model, weights, model.dtype)  # host weights; Batches copies them to a GPU batch by batch


def split_validation(model, x, y, validation_split, validation_data, sample_weight=None):
    """fit's training and validation sets: ``(x, y, sample_weight, val)`` with val an (x_val, y_val,
    sample_weight_val or None) triple or None.

    ``validation_data`` ((x_val, y_val) or (x_val, y_val, sample_weight_val), prepared like x, y and
    sample_weight) wins; else a ``validation_split`` > 0 holds out that fraction from the END of the
    (prepared) x, y and sample_weight, before any shuffling, as Keras does. ValueError for a malformed
    validation_data or a split that leaves no training or no validation sample."""
    sw = sample_weight
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(f"{_owner(model)}.fit: validation_data must be a tuple (x_val, y_val) or (x_val, "
                             f"y_val, sample_weight_val)")
        xv = prepare_x(model, "fit(validation_data)", validation_data[0])
        yv = prepare_y(model, "fit(validation_data)", validation_data[1], n_samples(xv))
        swv = prepare_sample_weight(model, "fit(validation_data)", validation_data[2], n_samples(xv)) \
            if len(validation_data) == 3 else None
        return x, y, sw, (xv, yv, swv)
    if validation_split > 0:
        n = n_samples(x)
        split = int(n * (1.0 - validation_split))
        if split == 0 or split == n:
            raise ValueError(f"{_owner(model)}.fit: validation_split={validation_split} leaves "
                             f"{split} training samples of {n}")
        head, tail = slice(None, split), slice(split, None)
        return (_rows(x, head), _rows(y, head), _rows(sw, head),
                (_rows(x, tail), _rows(y, tail), _rows(sw, tail)))
    return x, y, sw, None


def fit_sets(model, x, y, sample_weight, class_weight, validation_split, validation_data):
    """fit's training set and validation set from prepared x and y: ``(x, y, sample_weight or None, val)``
    (``split_validation``); ``class_weight`` becomes the training part's per-sample weights, as Keras.
    ValueError when both sample_weight and class_weight are given (Keras's message), or class_weight for a
    model with several outputs (as Keras)."""
    if sample_weight is not None and class_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    sample_weight = prepare_sample_weight(model, "fit", sample_weight, n_samples(x))
    x, y, sample_weight, val = split_validation(model, x, y, validation_split, validation_data, sample_weight)
    if class_weight is not None:
        sample_weight = class_weight_to_sample_weight(model, class_weight, y)
    return x, y, sample_weight, val


def _rows(a, rows):
    """Rows ``rows`` (a slice) of an array, of each array of a list, or None."""
    if a is None:
        return None
    return [b[rows] for b in a] if isinstance(a, list) else a[rows]


class HostToDevice:
    """Copies batches of host (NumPy) data into one preallocated GPU buffer.

    Each batch is gathered on the host into one of two pinned (page-locked) buffers, then copied to the
    device asynchronously on CuPy's current stream, the stream the kernels run on: the copy of batch b+1
    is queued behind the kernels of step b, so the device buffer can be reused without a host sync. A
    pinned buffer is written again only after an event says the copy that last read it has finished (two
    steps earlier, so normally no wait). Pageable memory would make every copy wait for the GPU to drain.
    """

    def __init__(self, cupy, rows, item_shape, dtype):
        import cupyx  # noqa: PLC0415 - ships with cupy

        shape = (int(rows),) + tuple(item_shape)
        self.cupy = cupy
        self.device = cupy.empty(shape, dtype=dtype)
        self.pinned = [cupyx.empty_pinned(shape, dtype=dtype) for _ in range(2)]
        # per pinned buffer: an event re-recorded after each copy from it is queued (synchronize() waits for
        # the latest record; on a never-recorded event it returns at once). When the feeder is dropped every
        # copy has finished: fit/evaluate/predict read a result from the stream (a sync) before returning.
        self.copied = [cupy.cuda.Event(disable_timing=True) for _ in range(2)]
        self.turn = 0

    def put(self, src, idx=None, gather=None):
        """Rows ``idx`` of host array ``src`` (or all of ``src`` when idx is None) as a device array view; the
        rows are gathered by ``gather(idx, out)`` (default ``_row_gather(src)``)."""
        k = self.turn
        self.turn ^= 1
        self.copied[k].synchronize()
        m = src.shape[0] if idx is None else idx.shape[0]
        host = self.pinned[k][:m]
        if idx is None:
            np.copyto(host, src)
        else:
            (gather or _row_gather(src))(idx, host)
        stream = self.cupy.cuda.get_current_stream()
        dev = self.device[:m]
        dev.set(host, stream=stream)
        self.copied[k].record(stream)
        return dev


def _source(xp, a, rows):
    """``_batch_source`` of an array, or of each array of a list (a model with several inputs or outputs:
    the batch is then the list of their batches)."""
    if not isinstance(a, list):
        return _batch_source(xp, a, rows)
    gets = [_batch_source(xp, b, rows) for b in a]
    return lambda lo, hi, order, order_dev: [get(lo, hi, order, order_dev) for get in gets]


def _row_gather(a):
    """``gather(idx, out)``: rows ``idx`` of host array ``a`` (N, ...) written into ``out`` (len(idx), ...), which
    it returns. C-contiguous float data goes through the row gather of ``ops.embedding`` (on the kernels'
    threads; the samples seen as the rows of an (N, features) table), anything else through one ``np.take``."""
    if a.dtype in (np.float32, np.float64) and a.ndim >= 2 and a.flags.c_contiguous and a.size:
        table = a.reshape(len(a), -1)

        def gather(idx, out):
            _backend.cpu.embedding_forward(out.reshape(len(idx), -1), table, idx)
            return out
        return gather
    return lambda idx, out: np.take(a, idx, axis=0, out=out, mode="clip")  # clip: no internal buffer


def _batch_source(xp, a, rows):
    """A function ``get(lo, hi, order, order_dev)`` giving the batch of ``a`` (N, ...) on device ``xp``:
    rows lo:hi, or with a permutation, rows ``order[lo:hi]`` (``order_dev`` is the same permutation as a
    device array, used when ``a`` lives on the GPU). Batches come from ONE preallocated buffer, so each is
    valid until the next call."""
    if xp is not np and isinstance(a, np.ndarray):  # host data, GPU model
        feeder, gather = HostToDevice(xp, rows, a.shape[1:], a.dtype), _row_gather(a)

        def get(lo, hi, order, order_dev):
            return feeder.put(a[lo:hi]) if order is None else feeder.put(a, order[lo:hi], gather)
        return get
    if isinstance(a, np.ndarray):
        buf, gather = np.empty((rows,) + a.shape[1:], dtype=a.dtype), _row_gather(a)

        def get(lo, hi, order, order_dev):
            if order is None:
                return a[lo:hi]  # a contiguous slice: no copy
            return gather(order[lo:hi], buf[: hi - lo])
        return get
    buf = xp.empty((rows,) + a.shape[1:], dtype=a.dtype)

    def get(lo, hi, order, order_dev):
        if order is None:
            return a[lo:hi]
        return xp.take(a, order_dev[lo:hi], axis=0, out=buf[: hi - lo])
    return get


class Batches:
    """The mini-batches of (x, y[, sample_weight]) for one pass: ``for lo, hi, xb, yb, wb in
    batches.epoch(order)``.

    Args: xp (the model's array module), x (N, ...) and y (N, ...) or None (predict) as prepared above
    (or lists of such arrays, for several inputs or outputs: xb / yb are then lists), batch_size (the last
    batch may be smaller), sample_weight (N,), a list of them (one per output) or None. ``epoch(order)``
    yields rows lo:hi of x, y and the weights in order (order None) or rows ``order[lo:hi]`` of a host
    permutation ``order``; each xb / yb / wb is on the model's device and valid until the next batch (one
    reused buffer per array); wb is None without sample weights.
    """

    def __init__(self, xp, x, y, batch_size, sample_weight=None):
        self.xp, self.n, self.batch_size = xp, n_samples(x), batch_size
        self.steps = -(-self.n // batch_size)
        rows = min(batch_size, self.n)
        self._x = _source(xp, x, rows)
        self._y = None if y is None else _source(xp, y, rows)
        self._w = None if sample_weight is None else _source(xp, sample_weight, rows)
        self._data_on_device = any(is_cupy(a) for v in (x, y, sample_weight)
                                   for a in (v if isinstance(v, list) else [v]))

    def epoch(self, order=None):
        # the permutation is drawn on the host whatever the device: the same seed shuffles the same way
        order_dev = self.xp.asarray(order) if order is not None and self._data_on_device else None
        x_batch, y_batch, w_batch, n, size = self._x, self._y, self._w, self.n, self.batch_size
        for lo in range(0, n, size):
            hi = min(lo + size, n)
            xb = x_batch(lo, hi, order, order_dev)
            yb = None if y_batch is None else y_batch(lo, hi, order, order_dev)
            wb = None if w_batch is None else w_batch(lo, hi, order, order_dev)
            yield lo, hi, xb, yb, wb
