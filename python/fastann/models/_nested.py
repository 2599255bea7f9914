"""A model used as a layer of another model: ``ModelAsLayer``, the Layer face every fastann model has.

An outer model (a Sequential holding it in its list, or a functional Model calling it on a KerasTensor)
treats a model like any layer: ``build(shape, dtype, xp, rng)``, ``forward``, ``backward``, ``params`` /
``grads`` / ``trainable_names`` (the parameters of the layers inside, keyed "<index>.<layer name>.<name>",
the arrays themselves: shared, not copied), ``need_input_grad``, ``trainable``. The outer model's optimizer
then updates the inner layers' parameters in place.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..layers import Layer

__all__ = ["ModelAsLayer", "same_shape", "set_own_flag"]


def same_shape(a, b) -> bool:
    """Per-sample shapes (or lists of them) equal, tuples and lists alike."""
    if isinstance(a, (list, tuple)) and a and isinstance(a[0], (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same_shape(x, y) for x, y in zip(a, b))
    return b is not None and tuple(int(d) for d in a) == tuple(int(d) for d in b)


def set_own_flag(layer, flag) -> None:
    """``layer.trainable = flag``, without a model passing it on to its layers (each has its own record)."""
    if isinstance(layer, ModelAsLayer):
        layer._trainable = bool(flag)
    else:
        layer.trainable = flag


class ModelAsLayer(Layer):
    """The Layer face of a model (base of ``fastann.models``' models; see the module). Subclasses give
    ``_layers``, ``_build``, ``_index_parameters``, ``_forward``, ``_backward``, ``_open_input_grads``,
    ``_move_to`` and the ``trainable`` property."""

    #: A model used as a layer has no activity regularizer of its own (its layers may have one).
    activity_regularizer = None

    @property
    def need_input_grad(self) -> bool:
        """Whether backward computes the gradient of the model's input (the outer model sets it when this
        model is one of its layers; ``model(x, training=True)`` sets it for a custom loop). Setting it
        re-plans the model's backward with the layers' current flags."""
        return getattr(self, "_need_input_grad", True)

    @need_input_grad.setter
    def need_input_grad(self, value) -> None:
        self._need_input_grad = bool(value)
        if self.built:
            self._index_parameters()
            if self._need_input_grad:
                self._open_input_grads()

    def build(self, input_shape=None, dtype=None, xp=None, rng=None) -> None:
        """Keras' ``model.build(input_shape)`` (a functional model is built when made: nothing to do, a
        ValueError if ``input_shape``, with the batch axis, is not the model's). With ``dtype`` (as an outer
        model calls it, the model being one of its layers): build for per-sample ``input_shape`` in
        ``dtype`` on array module ``xp`` (see :meth:`_build_as_layer`)."""
        if dtype is not None:
            self._build_as_layer(input_shape, dtype, xp, rng)
        elif input_shape is not None:
            shapes = input_shape if self._n_inputs > 1 else [input_shape]
            self._build(shapes[0][1:] if self._n_inputs == 1 else [tuple(s[1:]) for s in shapes])

    def _build_as_layer(self, input_shape, dtype, xp, rng) -> None:
        """Build as a layer of another model: take its dtype and array module; layers not built yet are
        initialized from this model's generator when it was given a seed, else from the outer model's."""
        self.dtype = np.dtype(dtype)
        if xp is not None and xp is not self.xp:
            self._move_to(xp)
        saved = self._init_rng
        if self.seed is None and rng is not None:
            self._init_rng = rng
        try:
            self._build(input_shape)
        finally:
            self._init_rng = saved

    def forward(self, x, training=False):
        """The model as a layer: its forward (see ``_forward``)."""
        return self._forward(x, training)

    def backward(self, grad_output):
        """The model as a layer: backward through it; the gradient of its input, None when
        ``need_input_grad`` is False."""
        dx = self._backward(grad_output, full=self.need_input_grad)
        return dx if self.need_input_grad else None

    def _sublayers(self) -> list:
        """Every layer and nested model inside, depth first, each once (nested models before their layers)."""
        out, seen = [], set()

        def walk(model):
            for layer in model._layers:
                if id(layer) in seen:
                    continue
                seen.add(id(layer))
                out.append(layer)
                if isinstance(layer, ModelAsLayer):
                    walk(layer)
        walk(self)
        return out

    def _leaves(self, trainable_only=False) -> list:
        """The layers inside, nested models opened into their layers, each layer once; ``trainable_only``
        skips those under a frozen nested model (this model's own flag is its layers' flags: fit applies the
        flags of compile time to the layers, not to the model)."""
        out, seen = [], set()

        def walk(model):
            if trainable_only and model is not self and not model.trainable:
                return
            for layer in model._layers:
                if isinstance(layer, ModelAsLayer):
                    walk(layer)
                elif id(layer) not in seen:
                    seen.add(id(layer))
                    out.append(layer)
        walk(self)
        return out

    def _trainable_keys(self) -> list:
        """(layer, parameter name) of every trainable parameter, as the flags are now, in
        ``trainable_weights`` order."""
        return [(l, k) for l in self._leaves(trainable_only=True) for k in l.trainable_names]

    def _keyed_params(self):
        """("<index>.<layer name>.<name>", layer, name) for every parameter inside, in ``get_weights`` order."""
        return [(f"{i}.{l.name}.{k}", l, k) for i, l in enumerate(self._leaves()) for k in l.params]

    @property
    def params(self) -> Mapping:
        """The parameters of every layer inside, keyed "<index>.<layer name>.<name>" (a read-only view of the
        arrays themselves): the model seen as one layer by an outer model."""
        return _View(self, "params")

    @property
    def grads(self) -> Mapping:
        """The gradients of the last backward, with the keys of ``params`` (a read-only view)."""
        return _View(self, "grads")

    @property
    def non_trainable(self) -> set:
        """Keys of ``params`` that are state, not trained (moving statistics)."""
        return {key for key, l, k in self._keyed_params() if k in l.non_trainable}

    @property
    def trainable_names(self) -> list:
        """Keys of ``params`` the optimizer updates (none when the model is frozen)."""
        if not self.trainable:
            return []
        trained = {(id(l), k) for l, k in self._trainable_keys()}
        return [key for key, l, k in self._keyed_params() if (id(l), k) in trained]

    def compute_output_shape(self, input_shape):
        self._build(input_shape)
        return self.output_shape



class _View(Mapping):
    """``model.params`` / ``model.grads`` of a model seen as a layer: a read-only mapping over the layers
    inside. A lookup goes straight to the layer named by the key ("<index>.<layer name>.<name>"), so an
    outer model's optimizer step reads each gradient without building the whole dict."""

    def __init__(self, model, attr):
        self._model, self._attr = model, attr

    def _items(self) -> dict:
        return {key: getattr(l, self._attr)[k] for key, l, k in self._model._keyed_params()
                if k in getattr(l, self._attr)}

    def __getitem__(self, key):
        try:
            index, rest = key.split(".", 1)
            layer_name, name = rest.rsplit(".", 1)
            layer = self._model._leaves()[int(index)]
        except (AttributeError, ValueError, IndexError):
            raise KeyError(key) from None
        if layer.name != layer_name:
            raise KeyError(key)
        return getattr(layer, self._attr)[name]

    def __iter__(self):
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())
