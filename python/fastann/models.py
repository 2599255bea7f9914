"""``Sequential``: a stack of layers trained with explicit forward / loss / backward / optimizer steps.

    model = fastann.Sequential([layers.Input((784,)), layers.Dense(300, activation="relu"),
                                layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")],
                               seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=128, epochs=10, validation_split=0.1)
    loss, acc = model.evaluate(x_test, y_test)

One training step (``_train_step``) is: each layer's ``forward(x, training=True)``; the loss and its
gradient; each layer's ``backward`` in reverse, stopping at the first layer with parameters (nothing uses
the gradient of the data); one fused optimizer kernel per parameter. When the last layer ends in a softmax
and the loss is a categorical cross-entropy on probabilities, the softmax is skipped and the loss runs on the
logits as ONE fused kernel (``ops.cross_entropy_with_grad``: log-softmax, loss and softmax - onehot in one
pass), which is both faster and better conditioned than softmax, clip, log, and their backward.

The loop is kept lean for speed (a training step of the 784-300-100-10 MLP takes well under a millisecond):
one permutation per epoch, each batch gathered with one ``take`` into a preallocated buffer, no per-step
conversions, the running loss and metrics read back only when the progress bar refreshes.

Layer fusion: a BatchNormalization -> Activation("relu") [-> MaxPooling2D(2)] run of layers on (N, C, H, W)
data (the tail of a Conv-BN-ReLU-Pool block) runs as ONE fused kernel (``ops.batch_norm_relu``) in training
and inference: two sweeps over the conv output instead of five or six, and no ReLU output or int64 pool
indices written. The results are those of the separate layers (tests compare them); the layers keep their
parameters, names and summary. ``Sequential.fuse_layers = False`` (class or instance) turns it off; it is
CPU only (the fused kernel has no CUDA version yet).

The same ``seed`` gives the same run: it seeds the weight initializers, the dropout masks and the shuffling
(given the same thread count, the kernels are deterministic).
"""
from __future__ import annotations

import functools
import numbers
import os
import tempfile
import time

import numpy as np

from . import _device
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import ops
from . import optimizers as optimizers_module
from ._args.common import is_cupy
from .layers import InputLayer, Layer

__all__ = ["Sequential"]


class _FusedBatchNormReLU:
    """A BatchNormalization -> ReLU [-> MaxPooling2D(2, 2)] run of layers as one ``ops.batch_norm_relu``.

    Stands in for the layers in the model's forward and backward; the BatchNormalization layer keeps its
    parameters, moving statistics and gradients (``bn.grads``) exactly as when it runs alone.
    """

    def __init__(self, bn, pooled: bool, count: int):
        self.bn, self.pooled, self.count = bn, pooled, count
        self._saved = None

    @staticmethod
    def match(layers, i):
        """The fused stage starting at ``layers[i]``, or None when the layers there do not fuse."""
        from ._conv_layers import BatchNormalization, MaxPooling2D  # noqa: PLC0415
        from .layers import Activation  # noqa: PLC0415

        bn = layers[i]
        if not (isinstance(bn, BatchNormalization) and bn.trainable and bn.built and len(bn.input_shape) == 3
                and i + 1 < len(layers)):
            return None
        act = layers[i + 1]
        if not (type(act) is Activation and act.activation == "relu" and not act.activation_params):
            return None
        c, h, w = bn.input_shape
        pool = layers[i + 2] if i + 2 < len(layers) else None
        pooled = (isinstance(pool, MaxPooling2D) and pool.pool_size == (2, 2) and pool.strides == (2, 2)
                  and h >= 2 and w >= 2 and pool._explicit is None and tuple(pool._pad) == (0, 0)
                  and (not pool._ceil or (h % 2 == 0 and w % 2 == 0)))
        return _FusedBatchNormReLU(bn, pooled, 3 if pooled else 2)

    def forward(self, x, training=False):
        bn = self.bn
        s = bn.params
        args = (x, s["moving_mean"], s["moving_variance"], s.get("gamma"), s.get("beta"))
        if not training:
            self._saved = None
            return ops.batch_norm_relu(*args, training=False, eps=bn.epsilon, max_pool=self.pooled)
        y, mean, invstd, window_index = ops.batch_norm_relu(*args, training=True, momentum=1.0 - bn.momentum,
                                                            eps=bn.epsilon, max_pool=self.pooled)
        self._saved = (x, y, mean, invstd, window_index)
        return y

    def backward(self, grad_output):
        bn = self.bn
        x, y, mean, invstd, window_index = self._saved
        dx, dgamma, dbeta = ops.batch_norm_relu_backward(grad_output, y, x, bn.params.get("gamma"),
                                                         bn.params.get("beta"), mean, invstd, window_index)
        if bn.scale:
            bn.grads["gamma"] = dgamma
        if bn.center:
            bn.grads["beta"] = dbeta
        return dx if bn.need_input_grad else None


class _Mean:
    """Weighted running mean of per-batch 0-d arrays, read back (a host sync on GPU) only in result()."""

    def __init__(self):
        self.pending, self.total, self.count = [], 0.0, 0

    def add(self, value, n):
        self.pending.append((value, n))
        self.count += n

    def result(self) -> float:
        if self.pending:
            values = [v for v, _ in self.pending]
            if is_cupy(values[0]):
                # sum the pending device scalars on the GPU: ONE device-to-host read instead of one per batch
                import cupy  # noqa: PLC0415

                weights = cupy.asarray(np.array([n for _, n in self.pending], dtype=np.float64))
                self.total += float((cupy.stack(values).astype(cupy.float64) * weights).sum())
            else:
                self.total += sum(float(v) * n for v, n in self.pending)
            self.pending.clear()
        return self.total / self.count if self.count else float("nan")


class _HostToDevice:
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

    def put(self, src, idx=None):
        """Rows ``idx`` of host array ``src`` (or all of ``src`` when idx is None) as a device array view."""
        k = self.turn
        self.turn ^= 1
        self.copied[k].synchronize()
        m = src.shape[0] if idx is None else idx.shape[0]
        host = self.pinned[k][:m]
        if idx is None:
            np.copyto(host, src)
        else:
            np.take(src, idx, axis=0, out=host, mode="clip")
        stream = self.cupy.cuda.get_current_stream()
        dev = self.device[:m]
        dev.set(host, stream=stream)
        self.copied[k].record(stream)
        return dev


def _on_device(method):
    """Run a Sequential method with the model's GPU current (CuPy allocates and launches there)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.xp is np:
            return method(self, *args, **kwargs)
        with self.xp.cuda.Device(self._device_index):
            return method(self, *args, **kwargs)
    return wrapper


def _positive_int(what, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
        raise ValueError(f"Sequential.{what} must be a positive integer, got {v!r}")
    return int(v)


class Sequential:
    """A linear stack of layers (``keras.Sequential``).

    Args:
        layers: optional list of layers (``fastann.layers``), added in order.
        seed: int or None. Seeds weight initialization, dropout and shuffling: same seed, same run.
        name: optional model name.
        dtype: "float32" (default) or "float64"; inputs are cast to it.
    """

    def __init__(self, layers=None, seed=None, name=None, dtype="float32"):
        self.name = name or "sequential"
        self.seed = seed
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"Sequential: dtype must be float32 or float64, got {self.dtype}")
        init_seed, shuffle_seed = np.random.SeedSequence(seed).spawn(2)
        self._init_rng = np.random.default_rng(init_seed)
        self._shuffle_rng = np.random.default_rng(shuffle_seed)
        self.xp = np
        self.device = "cpu"
        self._device_index = 0
        self.layers: list = []
        self.built = False
        self.optimizer = None
        self.loss = None
        self.metrics: list = []
        self.stop_training = False
        self.history = None
        for layer in layers or []:
            self.add(layer)

    # -- construction -------------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer. TypeError for anything that is not a fastann Layer."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a fastann.layers.Layer, got {type(layer).__name__}")
        if isinstance(layer, InputLayer) and self.layers:
            raise ValueError("Sequential.add: an Input layer must come first")
        self.layers.append(layer)
        self.built = False
        shape = self._declared_input_shape()
        if shape is not None:
            self.build(shape)

    def _declared_input_shape(self):
        if self.layers and self.layers[0].input_shape is not None:
            return self.layers[0].input_shape
        return None

    @_on_device
    def build(self, input_shape) -> None:
        """Build every layer for per-sample ``input_shape`` (no batch axis), e.g. (784,)."""
        if not self.layers:
            raise ValueError("Sequential: the model has no layers; add some first")
        shape = tuple(int(s) for s in input_shape)
        for layer in self.layers:
            if not layer.built:
                layer.build(shape, self.dtype, self.xp, self._init_rng)
            elif layer.input_shape != shape:
                raise ValueError(f"Sequential: layer {layer.name} was built for inputs {layer.input_shape}, "
                                 f"but the previous layer gives {shape}")
            shape = layer.output_shape
        self._index_parameters()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_shape = shape
        self.built = True

    def _index_parameters(self) -> None:
        """The trainable parameters in order, and where backward stops (re-done by fit, so setting
        ``layer.trainable`` takes effect at the next fit)."""
        # Backward stops at the first layer with trainable parameters: it and every layer before it have no
        # use for their input gradient (the first Dense skips the dx GEMM, the costliest of its backward).
        first = next((i for i, l in enumerate(self.layers) if l.trainable_names), len(self.layers))
        for i, layer in enumerate(self.layers):
            layer.need_input_grad = i > first
        self._first_trainable = first
        self._stages = self._plan_stages()
        self._param_keys = [(l, k) for l in self.layers for k in l.trainable_names]
        self._params = [l.params[k] for l, k in self._param_keys]

    #: Run BatchNormalization -> ReLU [-> MaxPooling2D(2)] as one fused kernel (see the module docstring).
    fuse_layers = True

    def _plan_stages(self) -> list:
        """``self.layers[:-1]`` as ``(index of its first layer, stage)`` pairs to run in order; a stage is a
        single layer or a fused run of layers."""
        stages, i, body = [], 0, self.layers[:-1]
        fuse = self.fuse_layers and self.xp is np
        while i < len(body):
            stage = _FusedBatchNormReLU.match(body, i) if fuse else None
            stages.append((i, stage or self.layers[i]))
            i += stage.count if stage else 1
        return stages

    def to(self, device) -> "Sequential":
        """Move the model to ``device`` ("cpu", "cuda", "cuda:N") and return it (``model.to("cuda")``).

        Moves every layer's parameters, gradients and non-trainable state (BatchNormalization's moving
        statistics) and the optimizer's state (Adam's m and v, momentum buffers, ...) between NumPy and
        CuPy, exactly (same bits). Layers added or built later create their parameters on the device.
        fit / evaluate / predict then take NumPy data and copy each batch to the GPU; predict returns NumPy.
        Raises ValueError for an unknown device string and RuntimeError, saying why, when CUDA is asked for
        but not usable (fastann built without CUDA, runtime failed to load, no device, CuPy not installed).
        """
        xp, name, index = _device.resolve("Sequential.to", device)
        if xp is not np and self.xp is not np and index != self._device_index:
            self._move_to(np, 0)  # GPU to another GPU: through the host, simple and exact
        self._move_to(xp, index)
        self.device = name
        return self

    def _move_to(self, xp, index) -> None:
        with _device.context(index, xp):
            for layer in self.layers:
                layer._move_to(xp)
            if self.optimizer is not None:
                self.optimizer._move_to(xp)
        self.xp, self._device_index = xp, index
        if self.built:
            self._index_parameters()  # the parameter list now holds the moved arrays

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, device=None) -> None:
        """Set the optimizer (name or Optimizer), the loss (name or Loss) and metrics (list of names or
        Metrics; "accuracy" resolves from the loss like Keras). ValueError/TypeError for unknown ones.

        ``device``: None keeps the model where it is; "cpu", "cuda" or "cuda:N" moves it there (and the
        optimizer's state) like :meth:`to`, raising like :meth:`to` before anything is changed."""
        if device is not None:
            _device.resolve("Sequential.compile", device)  # fail before changing anything
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = None if loss is None else losses_module.get(loss)
        if metrics is not None and (isinstance(metrics, str) or not isinstance(metrics, (list, tuple))):
            raise TypeError(f"Sequential.compile: metrics must be a list, got {metrics!r}")
        self.metrics = [metrics_module.get(m, self.loss) for m in (metrics or [])]
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"Sequential.compile: duplicate metric names {names}")
        if device is not None:
            self.to(device)
        elif self.xp is not np:
            self._move_to(self.xp, self._device_index)  # e.g. an optimizer instance holding host state

    # -- helpers ------------------------------------------------------------------------------------
    @property
    def _fused_softmax_loss(self) -> bool:
        """Last layer ends in softmax and the loss is a categorical cross-entropy on probabilities."""
        last = self.layers[-1]
        return (getattr(last, "activation", None) == "softmax" and hasattr(last, "forward_logits")
                and self.loss is not None and self.loss.is_categorical_crossentropy and not self.loss.from_logits)

    def _require_compiled(self, what):
        if self.loss is None or self.optimizer is None:
            raise ValueError(f"Sequential.{what}: call compile(optimizer=..., loss=...) first")

    def _check_side(self, what, name, a):
        if not isinstance(a, np.ndarray) and not is_cupy(a):
            raise TypeError(f"Sequential.{what}: {name} must be a numpy array, got {type(a).__name__}")
        if is_cupy(a) and self.xp is np:
            raise TypeError(f"Sequential.{what}: {name} is a CuPy (GPU) array but the model is on the CPU; "
                            f"pass a numpy array or call model.to('cuda') first")

    def _cast(self, a, dtype):
        """``a`` as a C-contiguous array of ``dtype`` on the side where it lives (NumPy data stays on the
        host even for a GPU model: fit/evaluate/predict copy it to the device batch by batch)."""
        xp = self.xp if is_cupy(a) else np
        return xp.ascontiguousarray(xp.asarray(a, dtype=dtype))

    def _prepare_x(self, what, x):
        self._check_side(what, "x", x)
        if x.ndim < 2:
            raise ValueError(f"Sequential.{what}: x must be (N, ...) with a batch axis, got shape {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"Sequential.{what}: x is empty (shape {x.shape})")
        if not (x.dtype.kind in "fiub"):
            raise TypeError(f"Sequential.{what}: x must hold numbers, got dtype {x.dtype}")
        if not self.built:
            self.build(x.shape[1:])
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"Sequential.{what}: the model takes inputs of shape (N, "
                             f"{', '.join(map(str, self.input_shape))}), got x of shape {x.shape}")
        return self._cast(x, self.dtype)

    def _prepare_y(self, what, y, n):
        self._check_side(what, "y", y)
        if y.shape[0] != n:
            raise ValueError(f"Sequential.{what}: x has {n} samples but y has {y.shape[0]}")
        if self.loss.target_kind == "labels":
            if y.dtype.kind not in "iu":
                raise TypeError(f"Sequential.{what}: {self.loss.name} takes integer class labels, got y of "
                                f"dtype {y.dtype}")
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.ndim != 1:
                raise ValueError(f"Sequential.{what}: labels y must be (N,), got shape {y.shape}")
            classes = self.output_shape[-1]
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= classes:
                bad = lo if lo < 0 else hi
                raise ValueError(f"Sequential.{what}: label {bad} is out of range for {classes} classes "
                                 f"(the model outputs {self.output_shape})")
            return self._cast(y, np.int64)
        if tuple(y.shape[1:]) != tuple(self.output_shape):
            raise ValueError(f"Sequential.{what}: y must have shape (N, {', '.join(map(str, self.output_shape))})"
                             f" like the model output, got {y.shape}")
        return self._cast(y, self.dtype)

    def _take(self, a, idx, out):
        if isinstance(a, np.ndarray):
            return np.take(a, idx, axis=0, out=out, mode="clip")  # mode="clip": no internal buffering
        return self.xp.take(a, idx, axis=0, out=out)

    def _batch_source(self, a, rows):
        """A function ``get(lo, hi, order, order_dev)`` giving the batch of ``a`` (N, ...) on the model's
        device: rows lo:hi, or with a permutation, rows ``order[lo:hi]`` (``order_dev`` is the same
        permutation as a device array, used when ``a`` lives on the GPU). Batches come from ONE
        preallocated buffer, so each is valid until the next call."""
        if self.xp is not np and isinstance(a, np.ndarray):  # host data, GPU model
            feeder = _HostToDevice(self.xp, rows, a.shape[1:], a.dtype)

            def get(lo, hi, order, order_dev):
                return feeder.put(a[lo:hi]) if order is None else feeder.put(a, order[lo:hi])
            return get
        on_host = isinstance(a, np.ndarray)
        buf = (np if on_host else self.xp).empty((rows,) + a.shape[1:], dtype=a.dtype)
        take = self._take

        def get(lo, hi, order, order_dev):
            if order is None:
                return a[lo:hi]  # a contiguous slice: no copy
            return take(a, (order if on_host else order_dev)[lo:hi], buf[: hi - lo])
        return get

    def _forward(self, x, training=False, logits=False):
        """Run all layers; with ``logits`` the last one skips its softmax."""
        h = x
        for _, stage in self._stages:
            h = stage.forward(h, training)
        last = self.layers[-1]
        return last.forward_logits(h, training) if logits else last.forward(h, training)

    def _train_step(self, xb, yb, fused):
        """Forward, loss and its gradient, backward, optimizer step. Returns (loss, output or logits)."""
        h = xb
        for _, stage in self._stages:
            h = stage.forward(h, True)
        last = self.layers[-1]
        if fused:
            out = last.forward_logits(h, True)
            loss, g = self.loss.logits_forward_backward(out, yb)
            g = last.backward_logits(g)
        else:
            out = last.forward(h, True)
            loss, g = self.loss.forward_backward(out, yb)
            g = last.backward(g)
        for start, stage in reversed(self._stages):
            if start < self._first_trainable:
                break
            g = stage.backward(g)
        self.optimizer.apply_gradients(self._params, [l.grads[k] for l, k in self._param_keys])
        return loss, out

    def _update_metrics(self, yb, out, fused):
        probs = None
        for m in self.metrics:
            if fused and m.needs_probabilities:
                if probs is None:
                    probs = ops.softmax(out, dim=-1)
                m.update_state(yb, probs)
            else:
                m.update_state(yb, out)

    # -- training -----------------------------------------------------------------------------------
    @_on_device
    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0):
        """Train for ``epochs`` epochs of mini-batches (``keras.Model.fit``).

        Args:
            x: inputs (N, *input_shape), any numeric dtype (cast to the model dtype once).
            y: targets: (N,) integer labels for sparse_categorical_crossentropy, else (N, *output_shape).
            batch_size: samples per step; the last batch of an epoch may be smaller.
            epochs: index of the last epoch (training runs epochs initial_epoch .. epochs-1).
            verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
            callbacks: list of fastann.callbacks.Callback.
            validation_split: fraction in [0, 1) of the data, taken from the END before shuffling, held out
                for validation (as Keras does).
            validation_data: (x_val, y_val), overrides validation_split.
            shuffle: reshuffle the training data every epoch.
        Returns:
            A History whose ``history`` dict holds per-epoch "loss", metrics and "val_*" values, and whose
            ``epoch_seconds`` holds each epoch's training time (validation excluded).
        Raises:
            ValueError/TypeError for an uncompiled model, bad shapes, dtypes, labels or arguments.
        """
        self._require_compiled("fit")
        batch_size = _positive_int("fit: batch_size", batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"Sequential.fit: epochs must be a non-negative integer, got {epochs!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Sequential.fit: verbose must be 0, 1 or 2, got {verbose!r}")
        if not isinstance(validation_split, numbers.Real) or not 0.0 <= validation_split < 1.0:
            raise ValueError(f"Sequential.fit: validation_split must be in [0, 1), got {validation_split!r}")
        if x is None or y is None:
            raise ValueError("Sequential.fit: x and y are required")
        x = self._prepare_x("fit", x)
        y = self._prepare_y("fit", y, x.shape[0])
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("Sequential.fit: validation_data must be a tuple (x_val, y_val)")
            xv = self._prepare_x("fit(validation_data)", validation_data[0])
            val = (xv, self._prepare_y("fit(validation_data)", validation_data[1], xv.shape[0]))
        elif validation_split > 0:
            split = int(x.shape[0] * (1.0 - validation_split))
            if split == 0 or split == x.shape[0]:
                raise ValueError(f"Sequential.fit: validation_split={validation_split} leaves "
                                 f"{split} training samples of {x.shape[0]}")
            val = (x[split:], y[split:])
            x, y = x[:split], y[:split]
        self._index_parameters()
        if not self._params:
            raise ValueError("Sequential.fit: the model has no trainable parameters")

        n = x.shape[0]
        steps = -(-n // batch_size)
        fused = self._fused_softmax_loss
        x_batch = self._batch_source(x, min(batch_size, n))
        y_batch = self._batch_source(y, min(batch_size, n))
        data_on_device = is_cupy(x) or is_cupy(y)

        history = callbacks_module.History()
        history.epoch_seconds = []
        cbs = list(callbacks or []) + [history]  # last, as in Keras: it records what the others add to logs
        for cb in cbs:
            if not isinstance(cb, callbacks_module.Callback):
                raise TypeError(f"Sequential.fit: callbacks must be fastann.callbacks.Callback, got {cb!r}")
            cb.set_model(self)
            cb.set_params({"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size})
        batch_cbs = [cb for cb in cbs if cb.wants_batch_hooks()]
        bar = callbacks_module.ProgressBar(verbose, epochs, steps, n)
        self.stop_training = False
        self.history = history
        for cb in cbs:
            cb.on_train_begin({})

        for epoch in range(int(initial_epoch), epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch, {})
            bar.epoch_begin(epoch)
            loss_mean = _Mean()
            for m in self.metrics:
                m.reset_state()

            def running_logs():
                logs = {"loss": loss_mean.result()}
                logs.update((m.name, m.result()) for m in self.metrics)
                return logs

            t0 = time.perf_counter()
            # the permutation is drawn on the host whatever the device: the same seed shuffles the same way
            order = self._shuffle_rng.permutation(n) if shuffle else None
            order_dev = self.xp.asarray(order) if order is not None and data_on_device else None
            for b in range(steps):
                lo = b * batch_size
                hi = min(lo + batch_size, n)
                xb = x_batch(lo, hi, order, order_dev)
                yb = y_batch(lo, hi, order, order_dev)
                for cb in batch_cbs:
                    cb.on_train_batch_begin(b, {})
                loss, out = self._train_step(xb, yb, fused)
                loss_mean.add(loss, hi - lo)
                if self.metrics:
                    self._update_metrics(yb, out, fused)
                if batch_cbs:
                    logs = running_logs()
                    for cb in batch_cbs:
                        cb.on_train_batch_end(b, logs)
                bar.batch_end(b, running_logs)
            epoch_logs = running_logs()
            history.epoch_seconds.append(time.perf_counter() - t0)
            if val is not None:
                val_logs = self.evaluate(val[0], val[1], batch_size=max(batch_size, 256), return_dict=True)
                epoch_logs.update((f"val_{k}", v) for k, v in val_logs.items())
            for cb in cbs:
                cb.on_epoch_end(epoch, epoch_logs)
            bar.epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end({})
        return history

    @_on_device
    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, return_dict=False):
        """Loss (and metrics) on (x, y) in inference mode (dropout off), like ``keras.Model.evaluate``.

        Returns the loss as a float when no metrics were compiled, else [loss, metric1, ...]; or a dict
        {"loss": ..., name: ...} with ``return_dict=True``. Raises like fit.
        """
        self._require_compiled("evaluate")
        batch_size = _positive_int("evaluate: batch_size", batch_size)
        x = self._prepare_x("evaluate", x)
        y = self._prepare_y("evaluate", y, x.shape[0])
        fused = self._fused_softmax_loss
        loss_mean = _Mean()
        for m in self.metrics:
            m.reset_state()
        rows = min(batch_size, x.shape[0])
        x_batch, y_batch = self._batch_source(x, rows), self._batch_source(y, rows)
        for lo in range(0, x.shape[0], batch_size):
            hi = min(lo + batch_size, x.shape[0])
            xb, yb = x_batch(lo, hi, None, None), y_batch(lo, hi, None, None)
            out = self._forward(xb, training=False, logits=fused)
            loss = self.loss.logits_forward(out, yb) if fused else self.loss.forward(out, yb)
            loss_mean.add(loss, xb.shape[0])
            if self.metrics:
                self._update_metrics(yb, out, fused)
        result = {"loss": loss_mean.result()}
        result.update((m.name, m.result()) for m in self.metrics)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        if return_dict:
            return result
        return result["loss"] if not self.metrics else list(result.values())

    @_on_device
    def predict(self, x, batch_size=32, verbose=0):
        """Model outputs for ``x`` (N, *input_shape) in inference mode: an (N, *output_shape) NumPy array of
        the model dtype (probabilities when the last layer is a softmax), on every device: a GPU model
        fills a device array batch by batch and copies it to the host once at the end."""
        batch_size = _positive_int("predict: batch_size", batch_size)
        x = self._prepare_x("predict", x)
        n = x.shape[0]
        out = self.xp.empty((n,) + tuple(self.output_shape), dtype=self.dtype)
        x_batch = self._batch_source(x, min(batch_size, n))
        for lo in range(0, n, batch_size):
            hi = min(lo + batch_size, n)
            out[lo:hi] = self._forward(x_batch(lo, hi, None, None), training=False)
        return out if self.xp is np else out.get()

    @_on_device
    def __call__(self, x, training=False):
        """Forward pass of one batch (builds the model on first use)."""
        x = self._prepare_x("__call__", x)
        if self.xp is not np:
            x = self.xp.asarray(x)  # one host-to-device copy; the result stays on the device
        return self._forward(x, training=training)

    # -- inspection and weights ---------------------------------------------------------------------
    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn=print) -> None:
        """Print the layers, their output shapes (None = batch) and parameter counts, and the totals.
        ValueError when the model is not built yet (give it an Input layer, or call build/fit)."""
        if not self.built:
            raise ValueError("Sequential.summary: the model is not built yet; start it with "
                             "layers.Input(shape), or call build(input_shape) or fit first")
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self.layers:
            if isinstance(layer, InputLayer):
                continue
            act = getattr(layer, "activation", None)
            kind = type(layer).__name__ + (f", {act}" if act and type(layer).__name__ != "Activation" else "")
            rows.append((f"{layer.name} ({kind})", str((None,) + tuple(layer.output_shape)),
                         f"{layer.count_params():,}"))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "-" * sum(widths)
        total = self.count_params()
        trainable = sum(int(np.prod(l.params[k].shape)) for l in self.layers for k in l.trainable_names)
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        for i, r in enumerate(rows):
            print_fn("".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if i == 0:
                print_fn("=" * sum(widths))
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")
        print_fn(line)

    def get_weights(self) -> list:
        """All parameters as NumPy copies, layer by layer (Dense: kernel (units, in), bias)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Set all parameters from a list like get_weights returns. ValueError on a count/shape mismatch."""
        weights = list(weights)
        expected = sum(len(layer.params) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"Sequential.set_weights: got {len(weights)} arrays, the model has {expected}")
        i = 0
        for layer in self.layers:
            k = len(layer.params)
            layer.set_weights(weights[i:i + k])
            i += k

    def save_weights(self, filepath) -> None:
        """Write all parameters to an .npz file (written to a temp file, then renamed: atomic)."""
        if not self.built:
            raise ValueError("Sequential.save_weights: the model is not built yet")
        filepath = os.fspath(filepath)
        arrays = {}
        for i, layer in enumerate(self.layers):
            for k, w in zip(layer.params, layer.get_weights()):
                arrays[f"{i:03d}.{layer.name}.{k}"] = w
        directory = os.path.dirname(os.path.abspath(filepath))
        fd, tmp = tempfile.mkstemp(suffix=".npz.part", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, filepath)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def load_weights(self, filepath) -> None:
        """Read parameters saved by save_weights into this (built) model, matched by position.
        ValueError when the file's parameter count or shapes do not match the model."""
        if not self.built:
            raise ValueError("Sequential.load_weights: build the model first (Input layer, build or fit)")
        with np.load(os.fspath(filepath)) as f:
            # keys are "<layer index>.<layer name>.<param>"; within a layer, f.files keeps the save order
            ordered = sorted(f.files, key=lambda k: int(k.split(".", 1)[0]))  # stable sort
            self.set_weights([f[k] for k in ordered])
