"""The Functional API's ``Model(inputs, outputs)``: any directed acyclic graph of layers.

    inputs = fastann.Input((784,))
    h = layers.Dense(64, activation="relu")(inputs)
    outputs = layers.Dense(10, activation="softmax")(layers.Add()([h, layers.Dense(64)(h)]))
    model = fastann.Model(inputs, outputs, seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

The graph itself (validation, build, topological forward, backward with gradient sums at fan-out, shared
layers) is ``_graph.Graph``; this class gives it the model's face (compile, fit, ... from ``_model``).
``Sequential`` is the chain case (its subclass, as in Keras), with its own plan of stages.
"""
from __future__ import annotations

from .. import _device
from ..layers.base import _auto_name
from . import _graph
from ._file import ModelFileMixin
from ._model import BaseModel
from ._nested import same_shape

__all__ = ["Model"]


class Model(ModelFileMixin, BaseModel):
    """``keras.Model``: a model of a directed acyclic graph of layers, from symbolic inputs to outputs.

    Args (Keras' ``inputs, outputs, name, trainable``, then fastann's keyword-only ``seed`` and ``dtype``):
        inputs: a KerasTensor from ``fastann.Input(shape)``, or a list of them (several inputs: fit,
            predict, ... then take a list of arrays in this order).
        outputs: a KerasTensor computed from the inputs by calling layers, or a list of them (several
            outputs: compile takes one loss per output, fit a list of targets, predict returns a list).
        name: optional model name (Keras's default: "functional", then "functional_1", ...).
        trainable: False freezes every layer (``model.trainable``).
        seed: int or None. Seeds the initialization of the layers not built yet, dropout and shuffling.
            None: the next seed of ``fastann.utils.set_random_seed``'s stream when it was called, else random.
        dtype: "float32" (default) or "float64"; inputs are cast to it.
    The layers are built here, in the graph's topological order, from the model's seeded generator; a
    layer already built (by another model: parameter sharing) keeps its parameters.
    ``model.layers`` lists every layer, InputLayers included, in topological order (as Keras' functional
    models do); a Sequential lists its layers without the InputLayer.
    Raises ValueError for a graph that does not connect the inputs to the outputs (an output needing a
    tensor that is not among the inputs, an input that no output uses), an input not made by ``Input``, a
    tensor given twice, a cycle; TypeError for inputs/outputs that are not KerasTensors; NotImplementedError
    for a dict of inputs or outputs, and for ``Model()`` without inputs and outputs (subclassing Model with
    a ``call`` method is not implemented).
    """

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, *, seed=None, dtype="float32"):
        if inputs is None or outputs is None:
            raise NotImplementedError("Model: give inputs and outputs, Model(inputs, outputs); subclassing "
                                      "Model with a call() method is not implemented in fastann")
        self._init_state(name or _auto_name("functional"), seed, dtype)
        graph = _graph.Graph(inputs, outputs)
        self._graph = graph
        self._layers = graph.layers
        self._n_inputs, self._n_outputs = len(graph.inputs), len(graph.outputs)
        self._trainable = bool(trainable)
        self._build_graph()
        if not self._trainable:
            self.trainable = False  # freezes every layer

    # -- the graph (Sequential overrides these) ----------------------------------------------------
    @property
    def layers(self) -> list:
        """Every layer, InputLayers included, in topological order (Keras' functional ``model.layers``)."""
        return list(self._layers)

    def _symbolic(self, what):
        graph = getattr(self, "_graph", None)
        if graph is None:
            raise AttributeError(f"{type(self).__name__} {self.name!r} has no symbolic {what}: it was not made "
                                 f"by Model(inputs, outputs)")
        return graph

    @property
    def inputs(self) -> list:
        """The input KerasTensors (a list, as Keras)."""
        return list(self._symbolic("inputs").inputs)

    @property
    def outputs(self) -> list:
        """The output KerasTensors (a list, as Keras)."""
        return list(self._symbolic("outputs").outputs)

    @property
    def input(self):
        """The input KerasTensor (a list for several inputs), as Keras's ``model.input``."""
        g = self._symbolic("input")
        return g.inputs[0] if g.single_input else list(g.inputs)

    @property
    def output(self):
        """The output KerasTensor (a list for several outputs), as Keras's ``model.output``."""
        g = self._symbolic("output")
        return g.outputs[0] if g.single_output else list(g.outputs)

    def _build_graph(self) -> None:
        """Build every layer of the graph, in topological order, from the model's generator."""
        with _device.context(self._device_index, self.xp):
            self._graph.build(self.dtype, self.xp, self._init_rng)
        g = self._graph
        self.input_shape = g.inputs[0].per_sample_shape if g.single_input else [t.per_sample_shape for t in
                                                                                  g.inputs]
        self.output_shape = g.outputs[0].per_sample_shape if g.single_output else [t.per_sample_shape for t in
                                                                                     g.outputs]
        self.built = True
        self._index_parameters()

    def _build(self, input_shape) -> None:
        """A functional model is built when made: ``input_shape`` must be its own."""
        if same_shape(input_shape, self.input_shape):
            return
        raise ValueError(f"{self.name}: the model takes inputs of per-sample shape {self.input_shape}, got "
                         f"{input_shape}")

    def _index_parameters(self) -> None:
        """The trainable parameters in order (``_param_keys``: (layer, name) pairs of the layers inside,
        nested models opened, each layer once; ``_params``), and which layers need an input gradient."""
        self._param_keys = self._trainable_keys()
        self._params = [l.params[k] for l, k in self._param_keys]
        self._graph.plan_backward(self.need_input_grad)
        self._graph.link_masks()
        self._graph.plan_layout()

    def _activity_sites(self) -> dict:
        """{id of a node's output tensor: regularizer} for the layer calls whose layer has an activity
        regularizer (a shared layer: each of its calls). NotImplementedError for such a layer with several
        outputs, or inside a nested model."""
        self._check_nested_activity()
        return self._graph.activity_sites()

    def _forward(self, x, training=False, logits=False, activity=None):
        """Run the graph on ``x`` (one array, or a list for several inputs); with ``logits`` the output layer
        skips its softmax (see ``_fused_softmax_loss``). One array, or a list for several outputs.
        ``activity``: None, or a dict that receives {key: output} for the keys of ``_activity_sites``."""
        return self._graph.forward(x, training, logits, activity)

    def _backward(self, grad, logits=False, full=False, activity_grads=None):
        """Backward through the graph from ``grad`` (d loss / d output, a list for several outputs), after
        a forward with ``training=True``, ``activity_grads`` ({key: gradient}, see ``_forward``) added to the
        gradients of those outputs; the layers keep their parameter gradients. Returns the gradient of the
        input (a list for several inputs; None where not computed, e.g. ``need_input_grad`` False).
        ``full`` is implied by the graph plan (``need_input_grad``)."""
        return self._graph.backward(grad, logits, activity_grads)

    def _open_input_grads(self) -> None:
        """Make every layer compute its input gradient (the graph plans this from ``need_input_grad``)."""

    def _output_layers(self) -> list:
        """The layer that makes each output."""
        return [t.node.layer for t in self._graph.outputs]

    def _logits_layer(self):
        """The output layer whose softmax may be fused into the loss (see ``_fused_softmax_loss``), or None."""
        return self._graph.logits_layer()

