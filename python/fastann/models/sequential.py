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

Arguments are checked as Keras checks them: a Keras argument fastann does not implement (``loss_weights``,
``weighted_metrics``, ``steps_per_epoch``, ...) is accepted only at Keras' default and is a
NotImplementedError naming it otherwise; an unknown keyword is Python's TypeError, as in Keras.

Trainable parameters, as in Keras: ``layer.trainable = False`` freezes a layer, ``model.trainable = False``
every layer. The set that fit trains is the one that was trainable when ``compile`` was called: a layer
frozen (or unfrozen) after compile keeps its compile-time state during fit until compile is called again
(fit applies the compile-time flags to the layers for its duration, so a BatchNormalization frozen at compile
time runs in inference mode, and restores the flags afterwards).
"""
from __future__ import annotations

import copy
import functools
import numbers

import numpy as np

from .. import _device, saving, utils
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..layers import InputLayer, Layer, link_masks
from ..saving import _model_io
from . import _data, _keras, _saving, _summary, _trainer
from ._fusion import plan_stages
from ._layout import apply_layout

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

    Args (Keras' ``layers, trainable, name``, then fastann's keyword-only ``seed`` and ``dtype``):
        layers: optional list of layers (``fastann.layers``), added in order.
        trainable: False freezes every layer (``model.trainable``).
        name: optional model name.
        seed: int or None. Seeds weight initialization, dropout and shuffling: same seed, same run. None:
            the next seed of ``fastann.utils.set_random_seed``'s stream when it was called, else random.
        dtype: "float32" (default) or "float64"; inputs are cast to it.
    ``model.layers`` lists the layers without the InputLayer (``model.layers[0]`` is the first real layer),
    as Keras does.
    """

    def __init__(self, layers=None, trainable=True, name=None, *, seed=None, dtype="float32"):
        self.name = name or "sequential"
        seed = utils.model_seed(seed)  # None: from fastann.utils.set_random_seed's stream when it was called
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
        self._layers: list = []  # every layer, the InputLayer included
        self.built = False
        self.optimizer = None
        self.loss = None
        self.metrics: list = []
        self._metric_specs: list = []   # compile's metrics, resolved against the data at the first fit/evaluate
        self._compiled_trainable: dict = {}  # layer -> its trainable flag when compile was called
        self.stop_training = False
        self.history = None
        self._trainable = bool(trainable)
        for layer in layers or []:
            self.add(layer)
        if not self._trainable:
            self.trainable = False  # freezes every layer

    def __deepcopy__(self, memo):
        """``copy.deepcopy(model)``: an independent model with copies of every array and the same state
        (parameters, optimizer moments, generators); the array module (NumPy/CuPy) is shared, not copied."""
        memo[id(self.xp)] = self.xp
        memo[id(np)] = np
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for k, v in vars(self).items():
            setattr(new, k, copy.deepcopy(v, memo))
        return new

    # -- layers -------------------------------------------------------------------------------------
    @property
    def layers(self) -> list:
        """The layers, without the InputLayer (Keras' ``model.layers``); a new list each time."""
        return [l for l in self._layers if not isinstance(l, InputLayer)]

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        """Setting it sets every layer's ``trainable`` (Keras); it takes effect in fit at the next compile."""
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = self._trainable

    def get_layer(self, name=None, index=None) -> Layer:
        """The layer called ``name``, or at position ``index`` of ``model.layers`` (Keras' get_layer).
        ValueError when both or neither are given, for an unknown name, or an index past the end."""
        return _keras.get_layer(self.layers, name, index)

    def pop(self) -> Layer:
        """Remove and return the last layer (Keras' ``model.pop``); the model is rebuilt when its input shape
        is known. Compile again before fit (the optimizer was built for the old parameters). TypeError when
        there is no layer to pop."""
        if not self.layers:
            raise TypeError("Sequential.pop: there are no layers in the model")
        layer = self._layers.pop()
        self.built = False
        if self.layers and getattr(self, "input_shape", None) is not None:
            self._build(self.input_shape)
        return layer

    @property
    def weights(self) -> list:
        """Every parameter array (not copies), layer by layer in each layer's ``params`` order."""
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list:
        """The parameters of the trainable layers that the optimizer updates (as the flags are now)."""
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list:
        """The other parameters: moving statistics, and every parameter of a frozen layer."""
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    @property
    def losses(self) -> list:
        """The regularization penalties of the trainable weights (0-d arrays), Keras's ``model.losses``."""
        return [p for layer in self._layers for p in layer.losses]

    @property
    def metrics_names(self) -> list:
        """The names of what evaluate returns: ["loss", metric names...] (after compile)."""
        if self.loss is None:
            return []
        return ["loss"] + [m if isinstance(m, str) else m.name for m in self._metric_specs]

    # -- construction -------------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer. TypeError for anything that is not a fastann Layer."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a fastann.layers.Layer, got {type(layer).__name__}")
        if isinstance(layer, InputLayer) and self._layers:
            raise ValueError("Sequential.add: an Input layer must come first")
        self._layers.append(layer)
        self.built = False
        shape = self._declared_input_shape()
        if shape is not None:
            self._build(shape)

    def _declared_input_shape(self):
        if self._layers and self._layers[0].input_shape is not None:
            return self._layers[0].input_shape
        return None

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` WITH the batch axis, as Keras: ``build((None,
        784))``. None uses the Input layer's (or first layer's input_shape) declaration. ValueError for a
        shape without a batch axis, or when there is nothing to build from."""
        if input_shape is None:
            shape = self._declared_input_shape()
            if shape is None:
                raise ValueError("Sequential.build: give input_shape (with the batch axis, e.g. (None, 784)) "
                                 "or start the model with layers.Input(shape)")
            self._build(shape)
            return
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 2 or not (
                input_shape[0] is None or isinstance(input_shape[0], numbers.Integral)):
            raise ValueError(f"Sequential.build: input_shape must include the batch axis, e.g. (None, 784), "
                             f"got {input_shape!r}")
        self._build(tuple(input_shape[1:]))

    @_on_device
    def _build(self, input_shape) -> None:
        """Build every layer for per-sample ``input_shape`` (no batch axis), e.g. (784,)."""
        if not self._layers:
            raise ValueError("Sequential: the model has no layers; add some first")
        shape = tuple(int(s) for s in input_shape)
        for layer in self._layers:
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
        first = next((i for i, l in enumerate(self._layers) if l.trainable_names), len(self._layers))
        for i, layer in enumerate(self._layers):
            layer.need_input_grad = i > first
        self._first_trainable = first
        link_masks(self._layers)  # padded sequences: who reads whose mask (layers.base.link_masks)
        self._stages = self._plan_stages()
        self._param_keys = [(l, k) for l in self._layers for k in l.trainable_names]
        self._params = [l.params[k] for l, k in self._param_keys]

    #: Run BatchNormalization -> ReLU [-> MaxPooling2D(2)] as one fused kernel (see ``_fusion``).
    fuse_layers = True

    def _plan_stages(self) -> list:
        """``self._layers[:-1]`` as ``(index of its first layer, stage)`` pairs to run in order (the last
        layer runs on its own: it may skip its softmax); fused runs only on the CPU."""
        apply_layout(self._layers)  # where channels_last images travel as NCHW (see _layout)
        return plan_stages(self._layers[:-1], self.fuse_layers and self.xp is np)

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
            for layer in self._layers:
                layer._move_to(xp)
            if self.optimizer is not None:
                self.optimizer._move_to(xp)
        self.xp, self._device_index = xp, index
        if self.built:
            self._index_parameters()  # the parameter list now holds the moved arrays

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True, *,
                device=None) -> None:
        """Set the optimizer (name or Optimizer), the loss (name or Loss) and metrics (list of names or
        Metrics), Keras' ``compile``. ValueError/TypeError for unknown ones.

        Metrics: a name logs under that name (``"mse"`` as "mse"); "accuracy"/"acc" is resolved at the
        first fit or evaluate from the shapes of y and of the model output as Keras 3 does: one output unit
        -> binary accuracy; labels of lower rank than the output (or a last axis of 1 against several
        units) -> sparse categorical accuracy; else categorical accuracy (whatever the loss).
        The layers' ``trainable`` flags now fix what fit trains until the next compile (see the module).
        ``run_eagerly``: True or False (fastann always runs eagerly: Python calling compiled kernels).
        loss_weights, weighted_metrics, steps_per_execution, jit_compile and auto_scale_loss are
        NotImplementedError unless at Keras' defaults.

        ``device`` (keyword only): None keeps the model where it is; "cpu", "cuda" or "cuda:N" moves it there
        (and the optimizer's state) like :meth:`to`, raising like :meth:`to` before anything is changed."""
        _keras.unimplemented("compile", loss_weights=(loss_weights, None),
                             weighted_metrics=(weighted_metrics, None),
                       steps_per_execution=(steps_per_execution, 1), auto_scale_loss=(auto_scale_loss, True))
        if not (jit_compile is False or (isinstance(jit_compile, str) and jit_compile == "auto")):
            raise NotImplementedError(f"Sequential.compile: fastann does not implement the Keras argument "
                                      f"jit_compile={jit_compile!r} (only 'auto' or False)")
        if not isinstance(run_eagerly, bool):
            raise TypeError(f"Sequential.compile: run_eagerly must be True or False, got {run_eagerly!r}")
        if device is not None:
            _device.resolve("Sequential.compile", device)  # fail before changing anything
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = None if loss is None else losses_module.get(loss)
        specs = _keras.metric_specs(metrics, self.loss)
        self._metric_specs = specs
        self.metrics = [m for m in specs if not isinstance(m, str)]  # complete once resolved
        self._compiled_trainable = {layer: layer.trainable for layer in self._layers}
        if device is not None:
            self.to(device)
        elif self.xp is not np:
            self._move_to(self.xp, self._device_index)  # e.g. an optimizer instance holding host state

    # -- helpers ------------------------------------------------------------------------------------
    @property
    def _fused_softmax_loss(self) -> bool:
        """Last layer ends in softmax over (N, C), has no activity regularizer (which needs the softmax
        output), and the loss is a categorical cross-entropy on probabilities."""
        last = self._layers[-1]
        return (getattr(last, "activation", None) == "softmax" and hasattr(last, "forward_logits")
                and last.activity_regularizer is None
                and len(last.output_shape or ()) == 1
                and self.loss is not None and self.loss.is_categorical_crossentropy and not self.loss.from_logits)

    def _resolve_metrics(self, y) -> None:
        """Resolve compile's "accuracy" names against the shapes of the first y and of the model output
        (once per compile, as Keras builds its compiled metrics once)."""
        if any(isinstance(m, str) for m in self._metric_specs) and hasattr(y, "shape"):
            y_pred_shape = (None,) + tuple(self.output_shape)
            self._metric_specs = [metrics_module.resolve_accuracy(m, tuple(y.shape), y_pred_shape)
                                  if isinstance(m, str) else m for m in self._metric_specs]
            self.metrics = list(self._metric_specs)

    def _check_logits_use(self) -> None:
        """Keras' warning for a from_logits=True loss on an output layer that ends in softmax/sigmoid."""
        last = self._layers[-1]
        losses_module.warn_if_not_logits(self.loss, last.name, getattr(last, "activation", None))

    def _compile_time_flags(self):
        """Set every layer's ``trainable`` to its value at compile; return what to restore afterwards."""
        saved = []
        for layer in self._layers:
            flag = self._compiled_trainable.get(layer, layer.trainable)
            saved.append((layer, layer.trainable, flag))
            layer.trainable = flag
        return saved

    @staticmethod
    def _restore_flags(saved) -> None:
        for layer, user_flag, flag in saved:
            if layer.trainable == flag:  # unless a callback set it during fit, give back the user's value
                layer.trainable = user_flag

    def _require_compiled(self, what):
        if self.loss is None or self.optimizer is None:
            raise ValueError(f"Sequential.{what}: call compile(optimizer=..., loss=...) first")

    def _forward(self, x, training=False, logits=False):
        """Run all layers; with ``logits`` the last one skips its softmax."""
        h = x
        for _, stage in self._stages:
            h = stage.forward(h, training)
        last = self._layers[-1]
        return last.forward_logits(h, training) if logits else last.forward(h, training)

    # -- training -----------------------------------------------------------------------------------
    @_on_device
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs of mini-batches (``keras.Model.fit``, same arguments; steps_per_epoch,
        validation_steps and validation_freq are NotImplementedError unless at Keras' defaults).

        Args:
            x: inputs (N, *input_shape), any numeric dtype (cast to the model dtype once).
            y: targets: (N,) integer labels for sparse_categorical_crossentropy, else (N, *output_shape);
                (N,) also for an (N, 1) output (regression, binary), as Keras.
            batch_size: samples per step (None: 32); the last batch of an epoch may be smaller.
            epochs: index of the last epoch (training runs epochs initial_epoch .. epochs-1).
            verbose: "auto" (1), 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
            callbacks: list of fastann.callbacks.Callback.
            validation_split: fraction in [0, 1) of the data, taken from the END before shuffling, held out
                for validation (as Keras does).
            validation_data: (x_val, y_val) or (x_val, y_val, sample_weight_val), overrides validation_split.
            shuffle: reshuffle the training data every epoch.
            class_weight: None or {class index: weight} (missing classes 1.0), turned into per-sample weights
                from the labels (``_data.class_weight_to_sample_weight``); not with sample_weight (ValueError).
            sample_weight: None or (N,): the loss is sum(w_i l_i) / batch size (Keras 3); metrics unweighted.
            initial_epoch: epochs are numbered from it (callbacks, progress bar); epochs - initial_epoch run.
            validation_batch_size: batch size of the validation pass (None: max(batch_size, 256); the
                result is the same mean up to float rounding).
        Returns:
            A History whose ``history`` dict holds per-epoch "loss", metrics and "val_*" values, and whose
            ``epoch_seconds`` holds each epoch's training time (validation excluded).
        Raises:
            ValueError/TypeError for an uncompiled model, bad shapes, dtypes, labels or arguments.
        """
        _keras.unimplemented("fit", steps_per_epoch=(steps_per_epoch, None), validation_steps=(validation_steps, None),
                             validation_freq=(validation_freq, 1))
        self._require_compiled("fit")
        batch_size = _data.positive_int("fit: batch_size", 32 if batch_size is None else batch_size)
        eval_batch_size = max(batch_size, 256) if validation_batch_size is None else \
            _data.positive_int("fit: validation_batch_size", validation_batch_size)
        epochs, initial_epoch = _data.nonneg_int("fit: epochs", epochs), _data.nonneg_int("fit: initial_epoch",
                                                                                            initial_epoch)
        verbose = _keras.verbose_arg("fit", verbose)
        if not isinstance(validation_split, numbers.Real) or not 0.0 <= validation_split < 1.0:
            raise ValueError(f"Sequential.fit: validation_split must be in [0, 1), got {validation_split!r}")
        if x is None or y is None:
            raise ValueError("Sequential.fit: x and y are required")
        x = _data.prepare_x(self, "fit", x)
        self._resolve_metrics(y)
        y = _data.prepare_y(self, "fit", y, x.shape[0])
        x, y, sample_weight, val = _data.fit_sets(self, x, y, sample_weight, class_weight, validation_split,
                                                  validation_data)
        self._check_logits_use()
        saved = self._compile_time_flags()
        try:
            self._index_parameters()
            if not self._params:
                raise ValueError("Sequential.fit: the model has no trainable parameters")
            return _trainer.fit(self, _data.Batches(self.xp, x, y, batch_size, sample_weight), epochs, initial_epoch,
                                shuffle, val, callbacks, verbose, eval_batch_size=eval_batch_size)
        finally:
            self._restore_flags(saved)

    @_on_device
    def evaluate(self, x=None, y=None, batch_size=None, verbose=0, sample_weight=None, steps=None, callbacks=None,
                 return_dict=False):
        """Loss (and metrics) on (x, y) in inference mode (dropout off), like ``keras.Model.evaluate``
        (batch_size None: 32; verbose "auto" is 1, one line of results; the default is 0, silent, where
        Keras' is "auto"; sample_weight: None or (N,) per-sample weights of the loss, as in fit; steps,
        callbacks: NotImplementedError unless None). The loss includes the weights' regularization penalties.

        Returns the loss as a float when no metrics were compiled, else [loss, metric1, ...]; or a dict
        {"loss": ..., name: ...} with ``return_dict=True``. Raises like fit.
        """
        _keras.unimplemented("evaluate", steps=(steps, None), callbacks=(callbacks, None))
        self._require_compiled("evaluate")
        batch_size = _data.positive_int("evaluate: batch_size", 32 if batch_size is None else batch_size)
        verbose = _keras.verbose_arg("evaluate", verbose)
        x = _data.prepare_x(self, "evaluate", x)
        self._resolve_metrics(y)
        y = _data.prepare_y(self, "evaluate", y, x.shape[0])
        sample_weight = _data.prepare_sample_weight(self, "evaluate", sample_weight, x.shape[0])
        self._check_logits_use()
        result = _trainer.evaluate(self, _data.Batches(self.xp, x, y, batch_size, sample_weight))
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        if return_dict:
            return result
        return result["loss"] if not self.metrics else list(result.values())

    @_on_device
    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Model outputs for ``x`` (N, *input_shape) in inference mode: an (N, *output_shape) NumPy array of
        the model dtype (probabilities when the last layer is a softmax), on every device: a GPU model
        fills a device array batch by batch and copies it to the host once at the end. batch_size None:
        32; verbose: "auto", 0, 1 or 2 (predict prints nothing); steps, callbacks: NotImplementedError
        unless None."""
        _keras.unimplemented("predict", steps=(steps, None), callbacks=(callbacks, None))
        _keras.verbose_arg("predict", verbose)
        batch_size = _data.positive_int("predict: batch_size", 32 if batch_size is None else batch_size)
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
        return sum(layer.count_params() for layer in self._layers)

    def summary(self, print_fn=print) -> None:
        """Print the layers, their output shapes (None = batch) and parameter counts, and the totals.
        ValueError when the model is not built yet (give it an Input layer, or call build/fit)."""
        if not self.built:
            raise ValueError("Sequential.summary: the model is not built yet; start it with "
                             "layers.Input(shape), or call build(input_shape) or fit first")
        for line in _summary.summary_lines(self):
            print_fn(line)

    def get_weights(self) -> list:
        """All parameters as NumPy copies in Keras's layouts, layer by layer (Dense: kernel (in, units),
        bias)."""
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Set all parameters from a list like get_weights returns. ValueError on a count/shape mismatch."""
        weights = list(weights)
        expected = sum(len(layer.params) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"Sequential.set_weights: got {len(weights)} arrays, the model has {expected}")
        i = 0
        for layer in self._layers:
            k = len(layer.params)
            layer.set_weights(weights[i:i + k])
            i += k

    def get_config(self) -> dict:
        """Keras's Sequential config (``fastann.saving``): name, trainable, dtype, the layers as serialized
        objects, build_input_shape, and fastann's seed. ``Sequential.from_config`` rebuilds the model."""
        return _model_io.model_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None) -> "Sequential":
        """The (unbuilt or built, unweighted) model ``config`` describes; ValueError naming what is wrong."""
        return _model_io.model_from_config(cls, config, custom_objects)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs) -> None:
        """Write the whole model (config, weights, compile config, optimizer and random state) as Keras 3's
        ``.keras`` file (``fastann.saving``); ``fastann.models.load_model`` reads it back and Keras 3 opens
        it. ValueError for a name not ending in .keras or an unbuilt model; zipped other than None/True and
        other keywords are NotImplementedError."""
        if zipped not in (None, True):
            raise NotImplementedError(f"Sequential.save: fastann writes zipped .keras files only, got zipped={zipped!r}")
        if kwargs:
            raise NotImplementedError(f"Sequential.save: fastann does not implement the arguments {sorted(kwargs)}")
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True) -> None:
        """Write all parameters: ``*.weights.h5`` in Keras's HDF5 layout (Keras's ``load_weights`` reads it),
        ``*.npz`` in fastann's NumPy format (written to a temp file, then renamed: atomic).
        ValueError for another suffix (.keras is ``save``'s) or an unbuilt model; NotImplementedError for
        overwrite=False."""
        _keras.unimplemented("save_weights", overwrite=(overwrite, True))
        _saving.check_suffix("Sequential.save_weights", filepath)
        if not self.built:
            raise ValueError("Sequential.save_weights: the model is not built yet")
        if _saving.is_h5(filepath):
            _model_io.save_weights_h5(self, filepath)
        else:
            _saving.save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        """Read parameters saved by save_weights (``*.weights.h5``, also Keras's, or ``*.npz``) into this
        (built) model. ValueError when the file's entries, shapes or dtypes do not match the model, or for
        another suffix."""
        _saving.check_suffix("Sequential.load_weights", filepath)
        if not self.built:
            raise ValueError("Sequential.load_weights: build the model first (Input layer, build or fit)")
        if _saving.is_h5(filepath):
            _model_io.load_weights_h5(self, filepath)
        else:
            _saving.load_weights(self, filepath)
