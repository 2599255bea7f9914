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

import numbers

import numpy as np

from .. import utils
from ..layers import Dense, Flatten, InputLayer, KerasTensor, Layer, link_masks
from ..layers.base import _auto_name
from ._fusion import plan_stages
from ._layout import apply_layout
from ._model import _on_device
from .functional import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers (``keras.Sequential``).

    Args (Keras' ``layers, trainable, name``, then fastann's keyword-only ``seed`` and ``dtype``):
        layers: optional list of layers (``fastann.layers``), added in order.
        trainable: False freezes every layer (``model.trainable``).
        name: optional model name (Keras's default: "sequential", then "sequential_1", ...).
        seed: int or None. Seeds weight initialization, dropout and shuffling: same seed, same run. None:
            the next seed of ``fastann.utils.set_random_seed``'s stream when it was called, else random.
        dtype: "float32" (default) or "float64"; inputs are cast to it.
    ``model.layers`` lists the layers without the InputLayer (``model.layers[0]`` is the first real layer),
    as Keras does. A Sequential is a ``fastann.Model`` (compile, fit, ... and the step API come from there)
    and can be a layer of another model.
    """

    def __init__(self, layers=None, trainable=True, name=None, *, seed=None, dtype="float32"):
        self._init_state(name or _auto_name("sequential"), seed, dtype)  # Keras: sequential, sequential_1, ...
        self._trainable = bool(trainable)
        for layer in layers or []:
            self.add(layer)
        if not self._trainable:
            self.trainable = False  # freezes every layer

    # -- layers -------------------------------------------------------------------------------------
    @property
    def layers(self) -> list:
        """The layers, without the InputLayer (Keras' ``model.layers``); a new list each time."""
        return [l for l in self._layers if not isinstance(l, InputLayer)]

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

    # -- construction -------------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer (a model too), or the KerasTensor of ``Input(shape)`` as the first element (its
        InputLayer). TypeError for anything that is not a fastann Layer."""
        if isinstance(layer, KerasTensor) and isinstance(layer.node.layer, InputLayer) and not layer.node.inputs:
            layer = layer.node.layer
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

    def build(self, input_shape=None, dtype=None, xp=None, rng=None) -> None:
        """Build every layer for inputs of ``input_shape`` WITH the batch axis, as Keras: ``build((None,
        784))``. None uses the Input layer's (or first layer's input_shape) declaration. ValueError for a
        shape without a batch axis, or when there is nothing to build from. With ``dtype`` (an outer model
        building this one as its layer): per-sample ``input_shape``, see ``Model._build_as_layer``."""
        if dtype is not None:
            self._build_as_layer(input_shape, dtype, xp, rng)
            return
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
        self._param_keys = self._trainable_keys()  # nested models opened into their layers
        self._params = [l.params[k] for l, k in self._param_keys]

    #: Run BatchNormalization -> ReLU [-> MaxPooling2D(2)] and Conv2D(relu) -> MaxPooling2D(2) as fused stages
    #: (see ``_fusion``); False runs every layer on its own.
    fuse_layers = True

    def _plan_stages(self) -> list:
        """``self._layers[:-1]`` as ``(index of its first layer, stage)`` pairs to run in order (the last
        layer runs on its own: it may skip its softmax); fused runs only on the CPU."""
        apply_layout(self._layers)  # where channels_last images travel as NCHW (see _layout)
        for layer, after in zip(self._layers, self._layers[1:] + [None]):
            if type(layer) is Flatten:  # a Flatten -> Dense pair may move the kernel instead of the batch
                layer.absorb_into(after if type(after) is Dense else None)
        return plan_stages(self._layers[:-1], self.fuse_layers and self.xp is np)

    def _activity_sites(self) -> dict:
        """{position: regularizer} of the outputs with an activity regularizer: position i < len(_stages) is
        the output of stage i (never a fused run: fusion skips such layers), ``len(_stages)`` the last
        layer's."""
        self._check_nested_activity()
        stages = [stage for _, stage in self._stages] + [self._layers[-1]]
        return {i: stage.activity_regularizer for i, stage in enumerate(stages)
                if getattr(stage, "activity_regularizer", None) is not None}

    def _forward(self, x, training=False, logits=False, activity=None):
        """Run all layers; with ``logits`` the last one skips its softmax. ``activity``: None, or a dict that
        receives {position: output} for the positions of ``_activity_sites``."""
        h = x
        if activity is None:
            for _, stage in self._stages:
                h = stage.forward(h, training)
        else:
            sites = self._activity_sites()
            for i, (_, stage) in enumerate(self._stages):
                h = stage.forward(h, training)
                if i in sites:
                    activity[i] = h
        last = self._layers[-1]
        out = last.forward_logits(h, training) if logits else last.forward(h, training)
        if activity is not None and getattr(last, "activity_regularizer", None) is not None:
            activity[len(self._stages)] = out
        return out

    def _backward(self, grad, logits=False, full=False, activity_grads=None):
        """Backward from ``grad`` (d loss / d output; d loss / d logits with ``logits``) through the stages in
        reverse, after a forward with ``training=True``; ``activity_grads`` ({position: gradient}, see
        ``_forward``) are added to the gradients of those outputs. Without ``full`` it stops at the first layer
        with trainable parameters (nothing uses the gradient below it) and returns what it has then; with
        ``full`` it returns the gradient of the input (the layers must have ``need_input_grad``)."""
        extra = activity_grads or {}
        n = len(self._stages)
        if n in extra:
            grad = grad + extra[n]
        last = self._layers[-1]
        g = last.backward_logits(grad) if logits else last.backward(grad)
        for i in range(n - 1, -1, -1):
            start, stage = self._stages[i]
            if not full and start < self._first_trainable:
                break
            if i in extra:
                g = g + extra[i]
            g = stage.backward(g)
        return g

    def _open_input_grads(self) -> None:
        """Every layer computes its input gradient (the model's input gradient is wanted)."""
        for layer in self._layers:
            layer.need_input_grad = True

    def _output_layers(self) -> list:
        return [self._layers[-1]]

    def _logits_layer(self):
        return self._layers[-1]
