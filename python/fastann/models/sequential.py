"""``Sequential``: a stack of layers trained with explicit forward / loss / backward / optimizer steps.

    model = fastann.Sequential([layers.Input((784,)), layers.Dense(300, activation="relu"),
                                layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")],
                               seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=128, epochs=10, validation_split=0.1)
    loss, acc = model.evaluate(x_test, y_test)

The class holds the layers, the compiled loss, optimizer and metrics, and the plan built from them: the
stages to run (single layers, or fused runs of layers, see ``_fusion``; ``Sequential.fuse_layers = False``,
class or instance, turns fusion off), the trainable parameters in order, and where backward stops. fit,
evaluate and predict check their data (``_data``) and run the one batch loop of ``_trainer``.

The same ``seed`` gives the same run: it seeds the weight initializers, the dropout masks and the shuffling
(given the same thread count, the kernels are deterministic).
"""
from __future__ import annotations

import functools
import numbers

import numpy as np

from .. import _device
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..layers import InputLayer, Layer
from . import _data, _saving, _summary, _trainer
from ._fusion import plan_stages

__all__ = ["Sequential"]


def _on_device(method):
    """Run a Sequential method with the model's GPU current (CuPy allocates and launches there)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.xp is np:
            return method(self, *args, **kwargs)
        with self.xp.cuda.Device(self._device_index):
            return method(self, *args, **kwargs)
    return wrapper


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

    #: Run BatchNormalization -> ReLU [-> MaxPooling2D(2)] as one fused kernel (see ``_fusion``).
    fuse_layers = True

    def _plan_stages(self) -> list:
        """``self.layers[:-1]`` as ``(index of its first layer, stage)`` pairs to run in order (the last
        layer runs on its own: it may skip its softmax); fused runs only on the CPU."""
        return plan_stages(self.layers[:-1], self.fuse_layers and self.xp is np)

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

    def _forward(self, x, training=False, logits=False):
        """Run all layers; with ``logits`` the last one skips its softmax."""
        h = x
        for _, stage in self._stages:
            h = stage.forward(h, training)
        last = self.layers[-1]
        return last.forward_logits(h, training) if logits else last.forward(h, training)

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
        batch_size = _data.positive_int("fit: batch_size", batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"Sequential.fit: epochs must be a non-negative integer, got {epochs!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Sequential.fit: verbose must be 0, 1 or 2, got {verbose!r}")
        if not isinstance(validation_split, numbers.Real) or not 0.0 <= validation_split < 1.0:
            raise ValueError(f"Sequential.fit: validation_split must be in [0, 1), got {validation_split!r}")
        if x is None or y is None:
            raise ValueError("Sequential.fit: x and y are required")
        x = _data.prepare_x(self, "fit", x)
        y = _data.prepare_y(self, "fit", y, x.shape[0])
        x, y, val = _data.split_validation(self, x, y, validation_split, validation_data)
        self._index_parameters()
        if not self._params:
            raise ValueError("Sequential.fit: the model has no trainable parameters")
        return _trainer.fit(self, _data.Batches(self.xp, x, y, batch_size), epochs, initial_epoch, shuffle, val,
                            callbacks, verbose, eval_batch_size=max(batch_size, 256))

    @_on_device
    def evaluate(self, x=None, y=None, batch_size=32, verbose=0, return_dict=False):
        """Loss (and metrics) on (x, y) in inference mode (dropout off), like ``keras.Model.evaluate``.

        Returns the loss as a float when no metrics were compiled, else [loss, metric1, ...]; or a dict
        {"loss": ..., name: ...} with ``return_dict=True``. Raises like fit.
        """
        self._require_compiled("evaluate")
        batch_size = _data.positive_int("evaluate: batch_size", batch_size)
        x = _data.prepare_x(self, "evaluate", x)
        y = _data.prepare_y(self, "evaluate", y, x.shape[0])
        result = _trainer.evaluate(self, _data.Batches(self.xp, x, y, batch_size))
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
        batch_size = _data.positive_int("predict: batch_size", batch_size)
        x = _data.prepare_x(self, "predict", x)
        return _trainer.predict(self, _data.Batches(self.xp, x, None, batch_size))

    @_on_device
    def __call__(self, x, training=False):
        """Forward pass of one batch (builds the model on first use)."""
        x = _data.prepare_x(self, "__call__", x)
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
        for line in _summary.summary_lines(self):
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
        _saving.save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        """Read parameters saved by save_weights into this (built) model, matched by position.
        ValueError when the file's parameter count or shapes do not match the model."""
        if not self.built:
            raise ValueError("Sequential.load_weights: build the model first (Input layer, build or fit)")
        _saving.load_weights(self, filepath)
