"""Symbolic tensors of the Functional API: ``KerasTensor`` and the ``Node`` that made it.

    inputs = fastann.Input((784,))                 # a KerasTensor of shape (None, 784)
    h = layers.Dense(64, activation="relu")(inputs) # calling a layer on a KerasTensor records a Node
    model = fastann.Model(inputs, layers.Dense(10)(h))

A KerasTensor holds no data: its per-sample shape, and the node (layer call) that produced it. A ``Node`` is
one call of a layer on symbolic inputs: the layer, its input tensors and its output tensors. A layer called
twice (a shared layer) has two nodes. ``fastann.Model`` walks the nodes back from its outputs to its inputs
(``models._graph``) and runs them in topological order. This module imports nothing of fastann, so
``layers.base`` (whose ``Layer.__call__`` makes the nodes) and the models can both use it.
"""
from __future__ import annotations

__all__ = ["KerasTensor", "Node", "flatten", "is_symbolic"]


class KerasTensor:
    """A symbolic tensor (``keras.KerasTensor``): the shape of a value in a graph, no data.

    Attributes:
        shape: ``(None, *per-sample shape)`` as Keras (None is the batch axis).
        node: the Node that produced it (for ``Input``, the node of its InputLayer).
        index: which output of that node it is (0 for layers with one output).
        name: for display (``<layer name>`` or ``<layer name>:<index>``).
    """

    def __init__(self, per_sample_shape, node=None, index=0):
        self.per_sample_shape = tuple(int(s) for s in per_sample_shape)
        self.node, self.index = node, int(index)

    @property
    def shape(self) -> tuple:
        return (None,) + self.per_sample_shape

    @property
    def ndim(self) -> int:
        return len(self.per_sample_shape) + 1

    @property
    def name(self) -> str:
        layer = self.node.layer if self.node is not None else None
        base = layer.name if layer is not None else "tensor"
        return base if self.index == 0 else f"{base}:{self.index}"

    def __repr__(self):
        return f"<KerasTensor shape={self.shape} name={self.name!r}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(f"KerasTensor {self.name!r} is symbolic (shape {self.shape}): it holds no values. Build "
                        f"a fastann.Model(inputs, outputs) and call the model on arrays")


class Node:
    """One call of ``layer`` on symbolic ``inputs`` (a list of KerasTensors), making ``outputs`` (a list).

    ``single_input``: the layer was called on one tensor (not a list), so it runs on one array."""

    def __init__(self, layer, inputs, output_shapes, single_input=True):
        self.layer = layer
        self.inputs = list(inputs)
        self.single_input = bool(single_input)
        self.outputs = [KerasTensor(shape, self, i) for i, shape in enumerate(output_shapes)]

    def __repr__(self):
        return f"<Node {self.layer.name}: {[t.name for t in self.inputs]} -> {[t.name for t in self.outputs]}>"


def flatten(x) -> list:
    """``x`` (a KerasTensor or a list/tuple of them) as a list."""
    return list(x) if isinstance(x, (list, tuple)) else [x]


def is_symbolic(x) -> bool:
    """True for a KerasTensor, or a non-empty list/tuple of them only."""
    if isinstance(x, KerasTensor):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(isinstance(t, KerasTensor) for t in x)
