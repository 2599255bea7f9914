"""The graph of a functional ``Model``: validation, build, forward in topological order, backward.

    Graph(inputs, outputs)   walks the nodes (``layers.symbolic.Node``: one layer call each) back from the
                             outputs to the inputs, and orders them so each runs after its inputs exist
    forward(x, training)     runs the nodes in that order, every tensor's value kept in a dict by tensor
    backward(grad)           runs the nodes in reverse; the gradient of a tensor used by several nodes (fan-out,
                             e.g. the skip path of a residual block) is the SUM of what each returns for it

Only what is needed runs backward: a tensor needs a gradient when a trainable parameter, or a model input
whose gradient is wanted (``need_input_grad``), lies upstream of it (``plan_backward``, redone at every
re-index so freezing takes effect); each layer's ``need_input_grad`` is set from that, so the first Dense of
a network skips its input-gradient GEMM as in a Sequential.

A layer called at several nodes (a shared layer) keeps what its backward needs for ONE call only, so at
each of its nodes the forward keeps a shallow copy of its attributes (and of the layers inside, for a
model), the backward puts that copy back before running the node, the parameter gradients of its calls are
summed, and its state after the last forward is restored at the end.

``MultiLoss`` is the loss of a model with several outputs: one Loss per output, weighted and summed.
"""
from __future__ import annotations

import numbers

from .. import losses as losses_module
from ..layers import InputLayer
from ..layers.symbolic import KerasTensor, flatten
from ._layout import apply_layout

__all__ = ["Graph", "MultiLoss", "OutputLoss"]


def _is_model(layer) -> bool:
    return hasattr(layer, "_sublayers")


def _state_objects(layer) -> list:
    """The objects whose attributes hold what ``layer``'s backward needs: the layer, and for a model
    every layer, fused stage and graph inside."""
    objs = [layer]
    if _is_model(layer):
        models = [layer] + [l for l in layer._sublayers() if _is_model(l)]
        objs += [l for l in layer._sublayers()]
        for m in models:
            objs += [s for _, s in getattr(m, "_stages", []) if s not in objs]
            if getattr(m, "_graph", None) is not None:
                objs.append(m._graph)
    return objs


def _snapshot(layer) -> list:
    return [(o, dict(vars(o))) for o in _state_objects(layer)]


def _restore(snapshot) -> None:
    for o, attrs in snapshot:
        vars(o).update(attrs)


def _leaves(layer) -> list:
    return layer._leaves() if _is_model(layer) else [layer]


class Graph:
    """The validated graph from ``inputs`` to ``outputs`` (KerasTensors, or lists of them).

    Attributes: inputs, outputs (lists), single_input / single_output (given as one tensor), nodes (the
    layer calls in topological order, the Input nodes excluded), layers (each once: the inputs' InputLayers,
    then in node order). Raises as ``fastann.Model`` documents."""

    def __init__(self, inputs, outputs):
        for arg, what in ((inputs, "inputs"), (outputs, "outputs")):
            if isinstance(arg, dict):
                raise NotImplementedError(f"Model: a dict of {what} is not implemented; give a list")
            for t in flatten(arg):
                if not isinstance(t, KerasTensor):
                    raise TypeError(f"Model: {what} must be KerasTensors (from fastann.Input and layer calls), "
                                    f"got {type(t).__name__}")
        self.single_input = isinstance(inputs, KerasTensor)
        self.single_output = isinstance(outputs, KerasTensor)
        self.inputs, self.outputs = flatten(inputs), flatten(outputs)
        if not self.inputs or not self.outputs:
            raise ValueError("Model: give at least one input and one output")
        for t in self.inputs:
            if not (isinstance(t.node.layer, InputLayer) and not t.node.inputs):
                raise ValueError(f"Model: input {t.name!r} is not made by fastann.Input(shape); a model's inputs "
                                 f"must be Input tensors")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ValueError("Model: the same input tensor is given twice")
        self.nodes = self._order()
        reached = {id(u) for n in self.nodes for u in n.inputs} | {id(t) for t in self.outputs}
        for t in self.inputs:
            if id(t) not in reached:
                raise ValueError(f"Model: input {t.name!r} does not reach the outputs (no output is computed "
                                 f"from it)")
        self.layers, seen = [], set()
        for layer in [t.node.layer for t in self.inputs] + [n.layer for n in self.nodes]:
            if id(layer) not in seen:
                seen.add(id(layer))
                self.layers.append(layer)
        calls = {}
        for n in self.nodes:
            calls[id(n.layer)] = calls.get(id(n.layer), 0) + 1
        self.shared = {k for k, c in calls.items() if c > 1}
        consumed = {id(u) for n in self.nodes for u in n.inputs}
        last = self.outputs[0].node if len(self.outputs) == 1 else None
        self.logits_node = last if (last is not None and last in self.nodes and hasattr(last.layer, "forward_logits")
                                    and id(last.layer) not in self.shared and len(last.outputs) == 1
                                    and id(self.outputs[0]) not in consumed) else None
        self.backward_nodes = list(reversed(self.nodes))
        self.needs = {}
        self._values = self._snapshots = None

    def _order(self) -> list:
        """The nodes the outputs depend on, in topological order (depth first from the outputs, an
        iterative walk); ValueError for a cycle or a tensor that does not come from the inputs."""
        input_ids = {id(t) for t in self.inputs}
        state, order = {}, []
        for out in self.outputs:
            stack = [(out, False)]
            while stack:
                t, done = stack.pop()
                if id(t) in input_ids:
                    continue
                node = t.node
                if done:
                    if state.get(id(node)) == 1:
                        state[id(node)] = 2
                        order.append(node)
                    continue
                if isinstance(node.layer, InputLayer) and not node.inputs:
                    raise ValueError(f"Model: the graph is disconnected: output {out.name!r} needs the value of "
                                     f"{t.name!r}, an Input that is not among the model's inputs")
                s = state.get(id(node))
                if s == 2:
                    continue
                if s == 1:
                    raise ValueError(f"Model: the graph has a cycle through layer {node.layer.name!r}")
                state[id(node)] = 1
                stack.append((t, True))
                for u in reversed(node.inputs):
                    if id(u) not in input_ids and state.get(id(u.node)) == 1:
                        raise ValueError(f"Model: the graph has a cycle through layer {u.node.layer.name!r}")
                    stack.append((u, False))
        return order

    # -- build and plan -----------------------------------------------------------------------------
    def build(self, dtype, xp, rng) -> None:
        """Build every layer not built yet, in topological order, for the shapes of its node's inputs."""
        for t in self.inputs:
            if not t.node.layer.built:
                t.node.layer.build(t.per_sample_shape, dtype, xp, rng)
        for node in self.nodes:
            if not node.layer.built:
                shape = node.inputs[0].per_sample_shape if node.single_input else \
                    [u.per_sample_shape for u in node.inputs]
                node.layer.build(shape, dtype, xp, rng)

    def plan_backward(self, need_input_grad: bool) -> None:
        """Which tensors need a gradient and which nodes run backward (with the layers' current flags);
        sets every layer's ``need_input_grad`` (see the module)."""
        needs = {id(t): bool(need_input_grad) for t in self.inputs}
        layer_needs, run = {}, []
        for node in self.nodes:
            in_need = any(needs[id(u)] for u in node.inputs)
            out_need = in_need or bool(node.layer.trainable_names)
            for o in node.outputs:
                needs[id(o)] = out_need
            layer_needs[id(node.layer)] = (node.layer, layer_needs.get(id(node.layer), (None, False))[1] or in_need)
            if out_need:
                run.append(node)
        for layer, flag in layer_needs.values():
            layer.need_input_grad = flag
        self.needs, self.backward_nodes = needs, list(reversed(run))

    def chains(self) -> list:
        """The graph cut into linear chains of layers, in node order: a node continues the chain of the node
        before it when it is that node's only consumer, takes that one input, and neither is a model output
        or a shared layer. Every layer call is in one chain (alone, when nothing links it)."""
        consumers = {}
        for node in self.nodes:
            for u in node.inputs:
                consumers.setdefault(id(u), []).append(node)
        outputs = {id(t) for t in self.outputs}
        chains, chain_of = [], {}
        for node in self.nodes:
            u = node.inputs[0] if len(node.inputs) == 1 else None
            prev = u.node if u is not None else None
            if (prev is not None and id(prev) in chain_of and len(prev.outputs) == 1 and id(u) not in outputs
                    and len(consumers.get(id(u), ())) == 1 and id(node.layer) not in self.shared
                    and id(prev.layer) not in self.shared):
                chain = chain_of[id(prev)]
            else:
                chain = []
                chains.append(chain)
            chain.append(node)
            chain_of[id(node)] = chain
        return [[n.layer for n in c] for c in chains]

    def plan_layout(self) -> None:
        """``_layout.apply_layout`` on each chain: consecutive channels_last image layers of a chain pass
        NCHW between them; arrays that cross a branch, a merge or a model output are in the public layout.
        A shared layer is a chain of its own (its conversions at its boundaries)."""
        for chain in self.chains():
            apply_layout(chain)

    def link_masks(self) -> None:
        """Wire the masks of padded sequences through the graph, as ``layers.base.link_masks`` does along a
        chain: in topological order, each tensor's mask is the ``output_mask`` of the layer its producer's
        ``mask_origin`` names (None: no mask), and every layer that takes a mask (``mask_source``) reads the
        one of its input. NotImplementedError for a mask reaching a layer with several inputs (Keras merges
        masks there) and for a shared layer that would read different masks at its calls."""
        origin = {id(t): None for t in self.inputs}
        sources = {}
        for node in self.nodes:
            layer, incoming = node.layer, [origin[id(u)] for u in node.inputs]
            if len(incoming) > 1 and any(o is not None for o in incoming):
                raise NotImplementedError(f"Model: a mask (padded sequences) reaching {layer.name!r}, a layer with "
                                          f"several inputs, is not implemented")
            src = incoming[0] if len(incoming) == 1 else None
            if hasattr(layer, "mask_source"):
                if id(layer) in sources and sources[id(layer)] is not src:
                    raise NotImplementedError(f"Model: the shared layer {layer.name!r} would read different "
                                              f"masks at its calls; this is not implemented")
                sources[id(layer)] = src
                layer.mask_source = src
            out = layer.mask_origin(src)
            for i, o in enumerate(node.outputs):
                origin[id(o)] = out if i == 0 else None  # a recurrent layer's states carry no mask

    def activity_sites(self) -> dict:
        """{id of the output tensor of a node whose layer has an activity regularizer: the regularizer}.
        NotImplementedError for such a layer with several outputs."""
        sites = {}
        for node in self.nodes:
            reg = getattr(node.layer, "activity_regularizer", None)
            if reg is None:
                continue
            if len(node.outputs) != 1:
                raise NotImplementedError(f"Model: activity_regularizer on a layer with several outputs "
                                          f"({node.layer.name!r}) is not implemented")
            sites[id(node.outputs[0])] = reg
        return sites

    def logits_layer(self):
        return self.logits_node.layer if self.logits_node is not None else None

    # -- run ------------------------------------------------------------------------------------------
    def forward(self, x, training=False, logits=False, activity=None):
        """The outputs for input array(s) ``x`` (one array, or a list in input order); ``logits``: the
        output layer skips its softmax. Keeps every value for the backward when ``training``. ``activity``:
        None, or a dict receiving {id of the output tensor: value} of the layers with an activity
        regularizer (``activity_sites``)."""
        xs = [x] if self.single_input else list(x)
        values = {id(t): a for t, a in zip(self.inputs, xs)}
        snapshots = {}
        for node in self.nodes:
            layer = node.layer
            arg = values[id(node.inputs[0])] if node.single_input else [values[id(u)] for u in node.inputs]
            if logits and node is self.logits_node:
                y = layer.forward_logits(arg, training)
            else:
                y = layer.forward(arg, training)
            if training and id(layer) in self.shared:
                snapshots[id(node)] = _snapshot(layer)
            if len(node.outputs) == 1:
                values[id(node.outputs[0])] = y
                if activity is not None and getattr(layer, "activity_regularizer", None) is not None:
                    activity[id(node.outputs[0])] = y
            else:
                for o, v in zip(node.outputs, y):
                    values[id(o)] = v
        self._values, self._snapshots = (values, snapshots) if training else (None, None)
        outs = [values[id(t)] for t in self.outputs]
        return outs[0] if self.single_output else outs

    def backward(self, grad, logits=False, activity_grads=None):
        """Backward from d loss / d outputs ``grad`` (one array, or a list in output order) after a forward
        with ``training=True``, plus ``activity_grads`` ({id of a tensor: gradient}, the activity
        regularizers' terms); returns d loss / d inputs (one, or a list; None where not computed)."""
        if self._values is None:
            raise ValueError("Model: backward needs a forward with training=True first")
        gs = [grad] if self.single_output else list(grad)
        grads = {}

        def add(t, g):
            k = id(t)
            grads[k] = g if k not in grads else grads[k] + g

        for t, g in zip(self.outputs, gs):
            if g is not None:
                add(t, g)
        for k, g in (activity_grads or {}).items():
            grads[k] = g if k not in grads else grads[k] + g
        final = {k: _snapshot(n.layer) for k, n in ((id(n.layer), n) for n in self.nodes) if k in self.shared}
        summed = {}
        for node in self.backward_nodes:
            layer = node.layer
            gout = [grads.get(id(o)) for o in node.outputs]
            if all(g is None for g in gout):
                continue
            gout = [g if g is not None else self._values[id(o)] * 0 for g, o in zip(gout, node.outputs)]
            shared = id(layer) in self.shared
            if shared:
                _restore(self._snapshots[id(node)])
            g_arg = gout[0] if len(gout) == 1 else gout
            if logits and node is self.logits_node:
                gin = layer.backward_logits(g_arg)
            else:
                gin = layer.backward(g_arg)
            if shared:
                for leaf in _leaves(layer):
                    for k, g in leaf.grads.items():
                        key = (id(leaf), k)
                        summed[key] = (leaf, k, g.copy() if key not in summed else summed[key][2] + g)
            if gin is None:
                continue
            for u, g in zip(node.inputs, [gin] if node.single_input else gin):
                if g is not None and self.needs.get(id(u)):
                    add(u, g)
        for snap in final.values():
            _restore(snap)
        for leaf, k, g in summed.values():
            leaf.grads[k] = g
        dx = [grads.get(id(t)) for t in self.inputs]
        return dx[0] if self.single_input else dx


class MultiLoss:
    """The loss of a model with several outputs: ``sum_i w_i * loss_i(y_pred_i, y_true_i)`` (Keras).

    Args: ``loss`` (one Loss or name for every output, a list in output order, or a dict keyed by the
    output layers' names), ``loss_weights`` (None: all 1; a list or a dict of numbers), ``output_layers``.
    Raises ValueError for a list of the wrong length or a dict naming an unknown output or missing one,
    NotImplementedError for loss_weights of any other form."""

    name = "loss"
    target_kind = "per output"
    is_categorical_crossentropy = False
    from_logits = False

    def __init__(self, loss, loss_weights, output_layers):
        names = [layer.name for layer in output_layers]
        self.losses = [losses_module.get(l) for l in self._per_output("loss", loss, names, required=True)]
        if loss_weights is None:
            weights = [1.0] * len(names)
        elif isinstance(loss_weights, (list, tuple, dict)):
            weights = self._per_output("loss_weights", loss_weights, names, required=True)
            for w in weights:
                if isinstance(w, bool) or not isinstance(w, numbers.Real):
                    raise NotImplementedError(f"Model.compile: loss_weights must be numbers, got {w!r}")
        else:
            raise NotImplementedError(f"Model.compile: loss_weights must be a list or dict of numbers (one per "
                                      f"output), got {loss_weights!r}")
        self.weights = [float(w) for w in weights]

    @staticmethod
    def _per_output(what, value, names, required):
        if isinstance(value, dict):
            unknown = [k for k in value if k not in names]
            missing = [n for n in names if n not in value]
            if unknown or (required and missing):
                raise ValueError(f"Model.compile: {what} keys must be the output layers' names {names}; unknown "
                                 f"{unknown}, missing {missing}")
            return [value[n] for n in names]
        if isinstance(value, (list, tuple)):
            if len(value) != len(names):
                raise ValueError(f"Model.compile: {what} has {len(value)} entries for {len(names)} outputs")
            return list(value)
        return [value] * len(names)

    def _sum(self, method, y_pred, y_true, wb=None, with_grad=False):
        """Each output's ``loss.<method>`` (with its weights from ``wb``: one array for every output, or a
        list, one per output), weighted by ``loss_weights`` and summed; each output's own value is kept in
        ``last``. (total, [gradients] or None)."""
        ws = wb if isinstance(wb, list) else [wb] * len(self.losses)
        total, grads, self.last = None, [], []
        for loss, lw, p, t, w in zip(self.losses, self.weights, y_pred, y_true, ws):
            args = (p, t) if wb is None else (p, t, w)
            v, g = getattr(loss, method)(*args) if with_grad else (getattr(loss, method)(*args), None)
            self.last.append(v)
            if lw != 1.0:
                v = v * lw
                g = None if g is None else g * g.dtype.type(lw)
            total = v if total is None else total + v
            grads.append(g)
        return total, (grads if with_grad else None)

    def forward(self, y_pred, y_true):
        """The weighted sum of the losses (each output's own loss, unweighted, is kept in ``last``)."""
        return self._sum("forward", y_pred, y_true)[0]

    def forward_backward(self, y_pred, y_true):
        """(the weighted sum of the losses, [d total / d y_pred_i for each output])."""
        return self._sum("forward_backward", y_pred, y_true, with_grad=True)

    def weighted_forward(self, y_pred, y_true, sample_weight):
        """``forward`` with per-sample weights (one (N,) array for every output, or a list per output)."""
        return self._sum("weighted_forward", y_pred, y_true, sample_weight)[0]

    def weighted_forward_backward(self, y_pred, y_true, sample_weight):
        """``forward_backward`` with per-sample weights, as ``weighted_forward``."""
        return self._sum("weighted_forward_backward", y_pred, y_true, sample_weight, with_grad=True)


class OutputLoss:
    """The running mean of one output's loss in a model with several outputs, logged as
    "<output layer name>_loss" after the total "loss" (as Keras): a metric reading the value the
    ``MultiLoss`` computed for the batch (no second evaluation, no device read until ``result``)."""

    needs_probabilities = False

    def __init__(self, multi, index, name, mean_type):
        self.multi, self.index, self.name = multi, index, name
        self._mean_type = mean_type
        self._mean = mean_type()

    def reset_state(self) -> None:
        self._mean = self._mean_type()

    def update_state(self, y_true, y_pred) -> None:
        self._mean.add(self.multi.last[self.index], y_pred[self.index].shape[0])

    def result(self) -> float:
        return self._mean.result()
