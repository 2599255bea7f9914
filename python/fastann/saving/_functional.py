"""The functional model's config in Keras's schema: every layer with its ``inbound_nodes`` (each call's input
tensors as ``{"class_name": "__keras_tensor__", "config": {"shape", "dtype", "keras_history": [layer name,
node index, tensor index]}}``), ``input_layers`` and ``output_layers``; and the graph rebuilt from it by
calling the deserialized layers on symbolic tensors (no code from the file runs: only fastann's layers'
own symbolic calls)."""
from __future__ import annotations

from .. import _serialize
from ..layers import InputLayer
from ..layers.symbolic import Node

__all__ = ["functional_config", "functional_from_config"]


def _node_indices(model) -> dict:
    """id(node) -> its index among its layer's calls (Keras's node index)."""
    counts, out = {}, {}
    for t in model._graph.inputs:
        out[id(t.node)] = 0
    for node in model._graph.nodes:
        k = counts.get(id(node.layer), 0)
        out[id(node)] = k
        counts[id(node.layer)] = k + 1
    return out


def _tensor(t, indices, dtype) -> dict:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None, *t.per_sample_shape], "dtype": dtype,
                       "keras_history": [t.node.layer.name, indices[id(t.node)], t.index]}}


def functional_config(model, layer_entry) -> dict:
    """Keras's Functional config of ``model`` (``layer_entry(layer)`` serializes one layer)."""
    graph, indices, dtype = model._graph, _node_indices(model), str(model.dtype)
    names = [l.name for l in graph.layers]
    if len(set(names)) != len(names):
        raise ValueError("save: a functional model's layer names must be unique (Keras's config refers to "
                         "layers by name)")
    nodes_of: dict = {}
    for node in graph.nodes:
        arg = _tensor(node.inputs[0], indices, dtype) if node.single_input else \
            [_tensor(t, indices, dtype) for t in node.inputs]
        nodes_of.setdefault(id(node.layer), []).append({"args": [arg], "kwargs": {}})
    layers = []
    for layer in graph.layers:
        entry = layer_entry(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = nodes_of.get(id(layer), [])
        layers.append(entry)

    def refs(tensors, single):
        out = [[t.node.layer.name, indices[id(t.node)], t.index] for t in tensors]
        return out[0] if single else out
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": refs(graph.inputs, graph.single_input),
            "output_layers": refs(graph.outputs, graph.single_output)}


def _ref(value, where):
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value[1:])):
        raise ValueError(f"{where}: expected [layer name, node index, tensor index], got {value!r}")
    return value[0], value[1], value[2]


def _refs(value, where):
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [_ref(value, where)], True
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a tensor reference or a list of them, got {value!r}")
    return [_ref(v, f"{where}[{i}]") for i, v in enumerate(value)], False


def _arg_refs(arg, where):
    """A node's argument: one tensor dict, or a list of them -> ([refs], single)."""
    def one(t, w):
        if not (isinstance(t, dict) and t.get("class_name") == "__keras_tensor__"
                and isinstance(t.get("config"), dict)):
            raise ValueError(f"{w}: expected a __keras_tensor__, got {_serialize._short(t)}")
        return _ref(t["config"].get("keras_history"), f"{w}.keras_history")
    if isinstance(arg, list):
        if not arg:
            raise ValueError(f"{where}: an empty list of input tensors")
        return [one(t, f"{where}[{i}]") for i, t in enumerate(arg)], False
    return [one(arg, where)], True


def functional_from_config(cls, config, custom_objects, where, **model_kwargs):
    """The functional model ``config`` describes, of class ``cls``. ValueError naming what is wrong."""
    entries = config.get("layers")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{where}: 'layers' must be a non-empty list")
    layers, pending = {}, []
    for i, entry in enumerate(entries):
        w = f"{where}.layers[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{w}: expected a serialized layer")
        entry = dict(entry)
        name, nodes = entry.pop("name", None), entry.pop("inbound_nodes", None)
        family = "models" if _serialize.family_of(entry.get("module")) == "models" else "layers"
        layer = _serialize.deserialize(entry, custom_objects, family, w)
        if not hasattr(layer, "forward"):
            raise ValueError(f"{w}: {type(layer).__name__} is not a layer")
        if name is not None and name != layer.name:
            raise ValueError(f"{w}: name {name!r} differs from the layer config's {layer.name!r}")
        if layer.name in layers:
            raise ValueError(f"{w}: two layers are named {layer.name!r}")
        if not isinstance(nodes, list):
            raise ValueError(f"{w}: inbound_nodes must be a list")
        layers[layer.name] = layer
        for k, node in enumerate(nodes):
            nw = f"{w}.inbound_nodes[{k}]"
            if not isinstance(node, dict) or set(node) - {"args", "kwargs"} or node.get("kwargs", {}) != {} \
                    or not isinstance(node.get("args"), list) or len(node["args"]) != 1:
                raise ValueError(f"{nw}: expected {{'args': [tensor or list of tensors], 'kwargs': {{}}}}")
            pending.append((layer, k, _arg_refs(node["args"][0], f"{nw}.args[0]")))
    tensors = {}
    for layer in layers.values():
        if isinstance(layer, InputLayer):
            tensors[(layer.name, 0, 0)] = Node(layer, [], [layer.input_shape]).outputs[0]
    done = {name: 0 for name in layers}
    while pending:
        progress = False
        for item in list(pending):
            layer, k, (refs, single) = item
            if done[layer.name] != k or any(r not in tensors for r in refs):
                continue
            args = [tensors[r] for r in refs]
            try:
                out = layer(args[0] if single else args)
            except (TypeError, ValueError, NotImplementedError) as e:
                raise ValueError(f"{where}: calling layer {layer.name!r} (node {k}) failed: {e}") from None
            for j, t in enumerate(out if isinstance(out, list) else [out]):
                tensors[(layer.name, k, j)] = t
            done[layer.name] += 1
            pending.remove(item)
            progress = True
        if not progress:
            missing = sorted({r for _, _, (refs, _) in pending for r in refs if r not in tensors})
            raise ValueError(f"{where}: the graph cannot be rebuilt: tensors {missing[:5]} are never produced")
    inputs, single_in = _refs(config.get("input_layers"), f"{where}.input_layers")
    outputs, single_out = _refs(config.get("output_layers"), f"{where}.output_layers")
    for r in inputs + outputs:
        if r not in tensors:
            raise ValueError(f"{where}: the model's input/output {list(r)} is not in the graph")
    ins = [tensors[r] for r in inputs]
    outs = [tensors[r] for r in outputs]
    try:
        return cls(ins[0] if single_in else ins, outs[0] if single_out else outs, **model_kwargs)
    except (TypeError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{where}: the graph does not make a model: {e}") from None
