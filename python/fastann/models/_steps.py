"""The step API of every model (``train_on_batch``, ``test_on_batch``, ``predict_on_batch``), the
custom-loop backward (``gradients``) and predict for several outputs.

train_on_batch runs the same training step as fit (``_trainer.train_step``) on one batch, with the
trainable set of compile time (Keras's rule: the flags recorded by compile are applied for the call, then
the user's flags come back), and returns that batch's loss and metrics as Keras 3 does. test_on_batch and
predict_on_batch are evaluate and predict on one batch.

The custom-loop path (docs/models.md) has no autograd: ``y = model(x, training=True)`` runs the layers
keeping what their backward needs, then ``gradients(model, dloss_dy)`` runs the model's backward with every
input gradient on and returns the parameter gradients in ``model.trainable_weights`` order (the flags as
they are now: frozen layers are backpropagated through, not differentiated) and d loss / d x.
"""
from __future__ import annotations

import numpy as np

from .. import _device
from .._args.common import is_cupy
from . import _data, _trainer

__all__ = ["gradients", "predict_on_batch", "predict_outputs", "test_on_batch", "train_on_batch"]


def _result(logs, return_dict):
    """Keras's return value: the dict, or its values in metrics_names order (a float when only the loss)."""
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _prepared(model, what, x, y, sample_weight, class_weight=None):
    """x, y and the per-sample weights (from sample_weight or class_weight, as fit) of one batch."""
    model._require_compiled(what)
    if sample_weight is not None and class_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    x = _data.prepare_x(model, what, x)
    model._resolve_metrics(y)
    y = _data.prepare_y(model, what, y, _data.n_samples(x))
    sample_weight = _data.prepare_sample_weight(model, what, sample_weight, _data.n_samples(x))
    if class_weight is not None:
        sample_weight = _data.class_weight_to_sample_weight(model, class_weight, y, what)
    model._check_logits_use()
    return x, y, sample_weight


def train_on_batch(model, x, y, sample_weight, class_weight, return_dict):
    """See ``Model.train_on_batch``."""
    with _device.context(model._device_index, model.xp):
        x, y, w = _prepared(model, "train_on_batch", x, y, sample_weight, class_weight)
        saved = model._compile_time_flags()
        try:
            model._index_parameters()
            fused = model._fused_softmax_loss
            tally = _trainer.Tally(model.metrics, fused)
            n = _data.n_samples(x)
            _trainer.run_batches(_data.Batches(model.xp, x, y, n, w), _trainer.train_step(model, fused), tally=tally)
            logs = tally.logs()
        finally:
            model._restore_flags(saved)
    return _result(logs, return_dict)


def test_on_batch(model, x, y, sample_weight, return_dict):
    """See ``Model.test_on_batch``."""
    with _device.context(model._device_index, model.xp):
        x, y, w = _prepared(model, "test_on_batch", x, y, sample_weight)
        logs = _trainer.evaluate(model, _data.Batches(model.xp, x, y, _data.n_samples(x), w))
    return _result(logs, return_dict)


def predict_on_batch(model, x):
    """See ``Model.predict_on_batch``."""
    if not model.built:
        _data.prepare_x(model, "predict_on_batch", x)  # builds (and checks) like predict
    return model.predict(x, batch_size=max(1, _data.n_samples(x)))


def predict_outputs(model, batches) -> list:
    """predict for a model with several outputs: one (N, *output_shape_i) NumPy array per output."""
    xp = model.xp
    outs = [xp.empty((batches.n,) + tuple(s), dtype=model.dtype) for s in model.output_shape]
    for lo, hi, xb, _, _ in batches.epoch():
        for o, y in zip(outs, model._forward(xb, training=False)):
            o[lo:hi] = y
    return outs if xp is np else [o.get() for o in outs]


def gradients(model, grad_output):
    """See ``Model.gradients``."""
    owner = f"{type(model).__name__}.gradients"
    if not getattr(model, "_ready_for_gradients", False):
        raise ValueError(f"{owner}: run the forward first with y = model(x, training=True)")
    n_out = getattr(model, "_n_outputs", 1)
    several = n_out > 1
    gs = list(grad_output) if several and isinstance(grad_output, (list, tuple)) else [grad_output]
    shapes = model.output_shape if several else [model.output_shape]
    if len(gs) != len(shapes):
        raise ValueError(f"{owner}: the model has {n_out} outputs; give a list of {n_out} gradients")
    ready = []
    for g, shape in zip(gs, shapes):
        if not (isinstance(g, np.ndarray) or is_cupy(g)):
            raise TypeError(f"{owner}: grad_output must be an array, got {type(g).__name__}")
        if g.ndim < 1 or tuple(g.shape[1:]) != tuple(shape):
            raise ValueError(f"{owner}: grad_output must have the output's shape (N, "
                             f"{', '.join(map(str, shape))}), got {tuple(g.shape)}")
        g = model.xp.asarray(g, dtype=model.dtype) if model.xp is not np else np.asarray(g, dtype=model.dtype)
        ready.append(g)
    with _device.context(model._device_index, model.xp):
        dx = model._backward(ready if several else ready[0], full=True)
        grads = [layer.grads[k] for layer, k in model._trainable_keys()]
    return grads, dx
