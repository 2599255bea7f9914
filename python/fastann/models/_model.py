"""``BaseModel``: what every fastann model shares (``Sequential`` and the functional ``Model`` subclass it).

compile, fit, evaluate, predict (the one batch loop of ``_trainer``), the step API (train_on_batch,
test_on_batch, predict_on_batch, in ``_steps``), the custom-loop path (``model(x, training=True)``, then
``gradients``), device moves, weights, saving and the summary. A subclass gives the graph: ``_build``,
``_index_parameters`` (the trainable parameters ``_params`` / ``_param_keys`` and which layers need an
input gradient), ``_forward`` and ``_backward``; ``_nested.ModelAsLayer`` (the base of this class) makes
every model usable as a layer of another model.

Freezing follows Keras: ``layer.trainable = False`` / ``model.trainable = False`` (every layer inside); the
set of trainable parameters that fit and train_on_batch use is the one of ``compile`` time (the flags of
every layer, nested ones included, are recorded by compile and applied for the duration of each of those
calls, then the current flags come back). A BatchNormalization frozen at compile time runs in inference
mode, as in Keras 3.
"""
from __future__ import annotations

import copy
import functools
import numbers

import numpy as np

from .. import _device, utils
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..layers import Layer
from ..layers.symbolic import is_symbolic
from . import _data, _graph, _keras, _saving, _steps, _summary, _trainer
from ._nested import ModelAsLayer, set_own_flag

__all__ = ["BaseModel"]


def _on_device(method):
    """Run a model method with the model's GPU current (CuPy allocates and launches there)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.xp is np:
            return method(self, *args, **kwargs)
        with self.xp.cuda.Device(self._device_index):
            return method(self, *args, **kwargs)
    return wrapper


class BaseModel(ModelAsLayer):
    """What every fastann model shares (see the module): ``Sequential`` and the functional ``Model``
    subclass it and give the graph (``_build``, ``_index_parameters``, ``_forward``, ``_backward``)."""

    def _init_state(self, name, seed, dtype) -> None:
        """The state every model starts with (no layers yet)."""
        self.name = name
        seed = utils.model_seed(seed)  # None: from fastann.utils.set_random_seed's stream when it was called
        self.seed = seed
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{type(self).__name__}: dtype must be float32 or float64, got {self.dtype}")
        init_seed, shuffle_seed = np.random.SeedSequence(seed).spawn(2)
        self._init_rng = np.random.default_rng(init_seed)
        self._shuffle_rng = np.random.default_rng(shuffle_seed)
        self.xp = np
        self.device = "cpu"
        self._device_index = 0
        self._layers: list = []
        self.built = False
        self.optimizer = None
        self.loss = None
        self.metrics: list = []
        self._metric_specs: list = []
        self._compiled_trainable: dict = {}
        self.stop_training = False
        self.history = None

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

    @property
    def weights(self) -> list:
        """Every parameter array (not copies), layer by layer in each layer's ``params`` order."""
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list:
        """The parameters of the trainable layers that the optimizer updates (as the flags are now), each
        once; the order of the gradients :meth:`gradients` returns."""
        return [l.params[k] for l, k in self._trainable_keys()] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        """The other parameters: moving statistics, and every parameter of a frozen layer."""
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    @property
    def losses(self) -> list:
        """The regularization penalties of the trainable weights (0-d arrays), nested models' layers
        included: Keras's ``model.losses``."""
        return [p for layer in self._leaves(trainable_only=True) for p in layer.losses]

    def _check_nested_activity(self) -> None:
        """NotImplementedError when a nested model holds a layer with an activity regularizer (its outputs
        are inside the nested model's forward, which does not expose them)."""
        for layer in self._sublayers():
            if isinstance(layer, ModelAsLayer) and any(getattr(l, "activity_regularizer", None) is not None
                                                       for l in layer._leaves()):
                raise NotImplementedError(f"{type(self).__name__} {self.name!r}: activity_regularizer on a layer "
                                          f"of a nested model ({layer.name!r}) is not implemented")

    @property
    def metrics_names(self) -> list:
        """The names of what evaluate returns: ["loss", metric names...] (after compile)."""
        if self.loss is None:
            return []
        return ["loss"] + [m if isinstance(m, str) else m.name for m in self._metric_specs]

    def to(self, device) -> "Model":
        """Move the model to ``device`` ("cpu", "cuda", "cuda:N") and return it (``model.to("cuda")``).

        Moves every layer's parameters, gradients and non-trainable state (BatchNormalization's moving
        statistics) and the optimizer's state (Adam's m and v, momentum buffers, ...) between NumPy and
        CuPy, exactly (same bits). Layers added or built later create their parameters on the device.
        fit / evaluate / predict then take NumPy data and copy each batch to the GPU; predict returns NumPy.
        Raises ValueError for an unknown device string and RuntimeError, saying why, when CUDA is asked for
        but not usable (fastann built without CUDA, runtime failed to load, no device, CuPy not installed).
        """
        xp, name, index = _device.resolve(f"{type(self).__name__}.to", device)
        if xp is not np and self.xp is not np and index != self._device_index:
            self._move_to(np, 0)  # GPU to another GPU: through the host, simple and exact
        self._move_to(xp, index)
        self.device = name
        return self

    def _move_to(self, xp, index=None) -> None:
        """Move every array to ``xp``; ``index``: the GPU (None: the current one, as when an outer model
        moves this one as its layer)."""
        if index is None:
            index = self._device_index if xp is not np else 0
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
        A model with several outputs takes one loss per output (a list in output order, a dict keyed by
        the output layers' names, or one loss for all) and sums them, weighted by ``loss_weights`` (a list
        or dict of numbers); ``metrics`` are NotImplementedError there, and so is ``loss_weights`` for a
        model with one output. weighted_metrics, steps_per_execution, jit_compile and auto_scale_loss are
        NotImplementedError unless at Keras' defaults.

        ``device`` (keyword only): None keeps the model where it is; "cpu", "cuda" or "cuda:N" moves it there
        (and the optimizer's state) like :meth:`to`, raising like :meth:`to` before anything is changed."""
        _keras.unimplemented("compile", weighted_metrics=(weighted_metrics, None),
                       steps_per_execution=(steps_per_execution, 1), auto_scale_loss=(auto_scale_loss, True))
        if not (jit_compile is False or (isinstance(jit_compile, str) and jit_compile == "auto")):
            raise NotImplementedError(f"{type(self).__name__}.compile: fastann does not implement the Keras argument "
                                      f"jit_compile={jit_compile!r} (only 'auto' or False)")
        if not isinstance(run_eagerly, bool):
            raise TypeError(f"{type(self).__name__}.compile: run_eagerly must be True or False, got {run_eagerly!r}")
        if device is not None:
            _device.resolve(f"{type(self).__name__}.compile", device)  # fail before changing anything
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = self._compile_loss(loss, loss_weights)
        specs = _keras.metric_specs(metrics, self.loss) + self._loss_metrics(metrics)
        self._metric_specs = specs
        self.metrics = [m for m in specs if not isinstance(m, str)]  # complete once resolved
        self._compiled_trainable = {layer: layer.trainable for layer in self._sublayers()}
        if device is not None:
            self.to(device)
        elif self.xp is not np:
            self._move_to(self.xp, self._device_index)  # e.g. an optimizer instance holding host state

    # -- helpers ------------------------------------------------------------------------------------
    def _loss_metrics(self, metrics) -> list:
        """Several outputs: each output's loss as a logged metric ("<output name>_loss", Keras's logs), and
        compile's ``metrics`` refused (NotImplementedError); else none."""
        if not isinstance(self.loss, _graph.MultiLoss):
            return []
        if metrics:
            raise NotImplementedError(f"{type(self).__name__}.compile: metrics for a model with several outputs "
                                      f"are not implemented (each output's loss is logged)")
        return [_graph.OutputLoss(self.loss, i, f"{layer.name}_loss", _trainer._Mean)
                for i, layer in enumerate(self._output_layers())]

    def _compile_loss(self, loss, loss_weights):
        """compile's loss: a Loss (None when not given); several outputs: a ``_graph.MultiLoss``."""
        if getattr(self, "_n_outputs", 1) > 1:
            return None if loss is None else _graph.MultiLoss(loss, loss_weights, self._output_layers())
        _keras.unimplemented("compile", loss_weights=(loss_weights, None))
        return None if loss is None else losses_module.get(loss)

    @property
    def _fused_softmax_loss(self) -> bool:
        """Last layer ends in softmax over (N, C), has no activity regularizer (which needs the softmax
        output), and the loss is a categorical cross-entropy on probabilities."""
        last = self._logits_layer()
        return (last is not None and getattr(last, "activation", None) == "softmax" and hasattr(last, "forward_logits")
                and getattr(last, "activity_regularizer", None) is None
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
        losses = self.loss.losses if isinstance(self.loss, _graph.MultiLoss) else [self.loss]
        for loss, last in zip(losses, self._output_layers()):
            losses_module.warn_if_not_logits(loss, last.name, getattr(last, "activation", None))

    def _compile_time_flags(self):
        """Set every layer's ``trainable`` (nested models and their layers included) to its value at
        compile; return what to restore afterwards. The model is about to be trained on its own (fit,
        train_on_batch): nothing needs the gradient of its input."""
        self._need_input_grad = False
        saved = []
        for layer in self._sublayers():
            flag = self._compiled_trainable.get(layer, layer.trainable)
            saved.append((layer, layer.trainable, flag))
            set_own_flag(layer, flag)
        return saved

    @staticmethod
    def _restore_flags(saved) -> None:
        for layer, user_flag, flag in saved:
            if layer.trainable == flag:  # unless a callback set it during fit, give back the user's value
                set_own_flag(layer, user_flag)

    def _require_compiled(self, what):
        if self.loss is None or self.optimizer is None:
            raise ValueError(f"{type(self).__name__}.{what}: call compile(optimizer=..., loss=...) first")

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
                from the labels (``_data.class_weight_to_sample_weight``); not with sample_weight, nor for a
                model with several outputs (ValueError).
            sample_weight: None or (N,): the loss is sum(w_i l_i) / batch size (Keras 3); metrics unweighted.
                Several outputs: one (N,) array for every output's loss, or a list of them, one per output.
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
            raise ValueError(f"{type(self).__name__}.fit: validation_split must be in [0, 1), got {validation_split!r}")
        if x is None or y is None:
            raise ValueError(f"{type(self).__name__}.fit: x and y are required")
        x = _data.prepare_x(self, "fit", x)
        self._resolve_metrics(y)
        y = _data.prepare_y(self, "fit", y, _data.n_samples(x))
        x, y, sample_weight, val = _data.fit_sets(self, x, y, sample_weight, class_weight, validation_split,
                                                  validation_data)
        self._check_logits_use()
        saved = self._compile_time_flags()
        try:
            self._index_parameters()
            return _trainer.fit(self, _data.Batches(self.xp, x, y, batch_size, sample_weight), epochs, initial_epoch,
                                shuffle, val, callbacks, verbose, eval_batch_size=eval_batch_size)
        finally:
            self._restore_flags(saved)

    @_on_device
    def evaluate(self, x=None, y=None, batch_size=None, verbose=0, sample_weight=None, steps=None, callbacks=None,
                 return_dict=False):
        """Loss (and metrics) on (x, y) in inference mode (dropout off), like ``keras.Model.evaluate``
        (batch_size None: 32; verbose "auto" is 1, one line of results; the default is 0, silent, where
        Keras' is "auto"; sample_weight: None or per-sample weights of the loss, as in fit; steps,
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
        y = _data.prepare_y(self, "evaluate", y, _data.n_samples(x))
        sample_weight = _data.prepare_sample_weight(self, "evaluate", sample_weight, _data.n_samples(x))
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
        if getattr(self, "_n_outputs", 1) > 1:
            return _steps.predict_outputs(self, _data.Batches(self.xp, x, None, batch_size))
        return _trainer.predict(self, _data.Batches(self.xp, x, None, batch_size))

    def __call__(self, x, training=False):
        """Forward pass of one batch (builds the model on first use), or, on KerasTensor(s), the model
        called as a layer in a graph (a node of the Functional API).

        With ``training=True`` (a custom training loop) the layers keep what their backward needs and the
        whole model computes input gradients: follow with :meth:`gradients`. Each layer runs with its
        current ``trainable`` flag (a frozen BatchNormalization in inference mode)."""
        if is_symbolic(x):
            return self.call_symbolic(x)
        return self._call_arrays(x, training)

    @_on_device
    def _call_arrays(self, x, training):
        x = _data.prepare_x(self, "__call__", x)
        if self.xp is not np:  # one host-to-device copy; the result stays on the device
            x = [self.xp.asarray(a) for a in x] if isinstance(x, list) else self.xp.asarray(x)
        if training:
            self.need_input_grad = True  # re-plans with the current flags; every layer keeps its dx
        self._ready_for_gradients = bool(training)
        return self._forward(x, training=training)

    # -- the step API and the custom-loop path (``_steps``) -----------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch (``keras.Model.train_on_batch``): forward, loss, backward and one
        optimizer update of the parameters trainable at compile time. Returns the batch's loss as a float
        when no metrics were compiled, else [loss, metric1, ...] (``metrics_names`` order), or a dict with
        ``return_dict=True``; the values are those of this batch (as Keras 3). sample_weight and
        class_weight as in fit. Raises like fit (uncompiled model, bad data); a model with no trainable
        parameter warns as fit does."""
        return _steps.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) of one batch in inference mode (``keras.Model.test_on_batch``); returns
        like train_on_batch. sample_weight as in evaluate."""
        return _steps.test_on_batch(self, x, y, sample_weight, return_dict)

    def predict_on_batch(self, x):
        """The outputs for one batch in inference mode (``keras.Model.predict_on_batch``): a NumPy array (a
        list for several outputs), like predict on one batch."""
        return _steps.predict_on_batch(self, x)

    def gradients(self, grad_output):
        """Backward after ``y = model(x, training=True)``: the custom-training-loop path (no autograd).

        Args:
            grad_output: d loss / d y, the shape of y (a list for several outputs), NumPy (or CuPy for a
                GPU model), e.g. the second value of ``loss.forward_backward(y, y_true)``.
        Returns:
            ``(grads, input_grad)``: the gradient of every weight of ``model.trainable_weights`` (same
            order and shapes, as the flags are now), and d loss / d x (a list for several inputs).
            Apply them with ``optimizer.apply_gradients(zip(grads, model.trainable_weights))``.
        Frozen layers are backpropagated through (a GAN's generator step through the frozen
        discriminator) but get no entry in ``grads``. ValueError without a ``training=True`` call first,
        or for a gradient of the wrong shape. See docs/models.md for the recipe."""
        return _steps.gradients(self, grad_output)

    # -- inspection and weights ---------------------------------------------------------------------
    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self._layers)

    def summary(self, print_fn=print) -> None:
        """Print the layers, their output shapes (None = batch) and parameter counts, and the totals.
        ValueError when the model is not built yet (give it an Input layer, or call build/fit)."""
        if not self.built:
            raise ValueError(f"{type(self).__name__}.summary: the model is not built yet; start it with "
                             "layers.Input(shape), or call build(input_shape) or fit first")
        lines = _summary.summary_lines(self) if not hasattr(self, "_graph") else \
            _summary.functional_summary_lines(self)
        for line in lines:
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
            raise ValueError(f"{type(self).__name__}.set_weights: got {len(weights)} arrays, the model has "
                             f"{expected}")
        i = 0
        for layer in self._layers:
            k = len(layer.params)
            layer.set_weights(weights[i:i + k])
            i += k

    def save_weights(self, filepath, overwrite=True) -> None:
        """Write all parameters: ``*.weights.h5`` in Keras's HDF5 layout, ``*.npz`` in fastann's (atomic).
        ValueError for another name (.keras is ``save``'s); NotImplementedError for overwrite=False."""
        _keras.unimplemented("save_weights", overwrite=(overwrite, True))
        _saving.check_suffix(f"{type(self).__name__}.save_weights", filepath)
        if not self.built:
            raise ValueError(f"{type(self).__name__}.save_weights: the model is not built yet")
        _saving.save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        """Read parameters saved by save_weights (``*.weights.h5``, Keras's too, or ``*.npz``) into this
        (built) model. ValueError when the file's entries, shapes or dtypes do not match, or for another name."""
        _saving.check_suffix(f"{type(self).__name__}.load_weights", filepath)
        if not self.built:
            raise ValueError(f"{type(self).__name__}.load_weights: build the model first (Input layer, build "
                             f"or fit)")
        _saving.load_weights(self, filepath)
