"""The training engine of every model (``Sequential`` and the functional ``Model``): ONE batch loop
(``run_batches``) that fit, evaluate and predict share, each with its own step.

* ``train_step``: the model's forward (``model._forward(x, training=True)``: each stage of a Sequential, or
  the nodes of a graph in topological order); the loss and its gradient; the model's backward
  (``model._backward``: in reverse, stopping where nothing needs the gradient of the data); one fused
  optimizer kernel per parameter; then the weights' constraints.
* ``test_step``: forward in inference mode and the loss.
* ``predict_step``: forward in inference mode.

Every step takes ``(xb, yb, wb)``: wb is the batch's per-sample weights (N,) or None. With weights the loss
is Keras's sum(w_i l_i) / N and each sample's rows of the loss gradient are scaled by w_i (``losses``).
Weight regularizers (``layer.regularizers``) add their penalties on the trainable weights to the loss
reported by fit and evaluate, and their gradients to the weights' gradients before the optimizer (clipping
included) sees them, as Keras's ``compute_loss`` adds ``model.losses``. An activity regularizer adds
penalty(output) / batch size of its layer's output, and its gradient to that output's gradient: the model
names its regularized outputs (``model._activity_sites()``: {key: regularizer}), its ``_forward`` fills a dict
{key: output} when given one, and its ``_backward`` adds {key: gradient} to those outputs' gradients (a
Sequential keys them by stage position, a graph by output tensor). Without weights, regularizers and
constraints the steps compute exactly what they compute without these features. A model with several
outputs takes the weighted losses of its ``_graph.MultiLoss`` (one weight array for all outputs, or one per
output).

When the last layer ends in a softmax and the loss is a categorical cross-entropy on probabilities
(``fused``), the softmax is skipped and the loss runs on the logits as ONE fused kernel
(``ops.cross_entropy_with_grad``: log-softmax, loss and softmax - onehot in one pass), which is both faster
and better conditioned than softmax, clip, log, and their backward.

The loop is kept lean for speed (a training step of the 784-300-100-10 MLP takes well under a millisecond):
batches come from ``_data.Batches`` (one gather into a reused buffer), there are no per-step conversions,
and the running loss is read back (a device sync on GPU) only when logs are asked for: by a batch callback,
the progress bar when it refreshes, or the end of the pass.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from .. import callbacks as callbacks_module
from .. import ops
from .._args.common import is_cupy

__all__ = ["Tally", "evaluate", "fit", "predict", "predict_step", "run_batches", "test_step", "train_step"]


class _Mean:
    """Weighted running mean of per-batch 0-d arrays, read back (a host sync on GPU) only in result()."""

    def __init__(self):
        self.pending, self.total, self.count = [], 0.0, 0

    def add(self, value, n):
        self.pending.append((value, n))
        self.count += n

    def result(self) -> float:
        if self.pending:
            values = [v for v, _ in self.pending]
            if is_cupy(values[0]):
                # sum the pending device scalars on the GPU: ONE device-to-host read instead of one per batch
                import cupy  # noqa: PLC0415

                weights = cupy.asarray(np.array([n for _, n in self.pending], dtype=np.float64))
                self.total += float((cupy.stack(values).astype(cupy.float64) * weights).sum())
            else:
                self.total += sum(float(v) * n for v, n in self.pending)
            self.pending.clear()
        return self.total / self.count if self.count else float("nan")


class Tally:
    """The running loss and metrics of one pass (an epoch of fit, or evaluate); resets the metrics.

    ``fused``: the model output is logits (softmax skipped); metrics that need probabilities get
    ``ops.softmax`` of it, computed once per batch."""

    def __init__(self, metrics, fused):
        self.metrics, self.fused = metrics, fused
        self.loss = _Mean()
        for m in metrics:
            m.reset_state()

    def add(self, loss, n, yb, out):
        """Count batch loss ``loss`` (0-d array) over ``n`` samples, and update the metrics with (yb, out)."""
        self.loss.add(loss, n)
        probs = None
        for m in self.metrics:
            if self.fused and m.needs_probabilities:
                if probs is None:
                    probs = ops.softmax(out, dim=-1)
                m.update_state(yb, probs)
            else:
                m.update_state(yb, out)

    def logs(self) -> dict:
        """{"loss": mean so far, metric name: value, ...}."""
        logs = {"loss": self.loss.result()}
        logs.update((m.name, m.result()) for m in self.metrics)
        return logs


# ---- regularizers -----------------------------------------------------------------------------------------
def _activity_terms(sites, outputs, with_grads=True):
    """Keras's activity penalty: sum over the regularized outputs (``sites``: {key: regularizer},
    ``outputs``: {key: output}) of penalty(output) / batch size, and {key: its gradient with respect to that
    output} (empty unless ``with_grads``)."""
    total, grads = None, {}
    for key, reg in sites.items():
        out = outputs[key]
        n = out.dtype.type(out.shape[0])
        penalty = reg(out) / n
        total = penalty if total is None else total + penalty
        if with_grads:
            grads[key] = reg.gradient(out) / n
    return total, grads


def _loss_and_grad(model, fused, out, yb, wb):
    """The (weighted when wb is given) loss of output ``out`` (logits when ``fused``) and its gradient."""
    loss_fn = model.loss
    if fused:
        return loss_fn.logits_forward_backward(out, yb) if wb is None else \
            loss_fn.weighted_logits_forward_backward(out, yb, wb)
    return loss_fn.forward_backward(out, yb) if wb is None else loss_fn.weighted_forward_backward(out, yb, wb)


# ---- the steps: (xb, yb, wb) -> (loss or None, output) ----------------------------------------------------
def train_step(model, fused):
    """The training step of ``model`` (built, compiled, parameters indexed): forward, loss and its gradient,
    backward, regularizers' penalties and gradients, optimizer update, constraints. Returns (loss, output or
    logits). A model with no trainable parameter (all frozen, or none at all) gets Keras 3's step for it: a
    UserWarning "The model does not have any trainable weights." at each step, the forward in training mode
    and the loss (its activity penalties included), no backward and no optimizer update."""
    keys = model._param_keys
    if not keys:
        return _frozen_train_step(model, fused)
    regularized = [(i, layer, k, layer.regularizers[k]) for i, (layer, k) in enumerate(keys)
                   if k in layer.regularizers]
    constrained = [(layer, (k,)) for layer, k in keys if k in layer.constraints]
    sites = model._activity_sites()

    def step(xb, yb, wb):
        outputs = {} if sites else None
        out = model._forward(xb, True, logits=fused, activity=outputs)
        loss, g = _loss_and_grad(model, fused, out, yb, wb)
        act_grads = None
        if sites:  # before any backward runs: penalties and gradients on this forward's outputs
            penalty, act_grads = _activity_terms(sites, outputs)
            loss = loss + penalty
        model._backward(g, logits=fused, activity_grads=act_grads)
        grads = [l.grads[k] for l, k in keys]
        for i, layer, k, reg in regularized:  # on the weights of this forward pass, before the update
            w = layer.params[k]
            loss = loss + reg(w)
            grads[i] = grads[i] + reg.gradient(w)
        model.optimizer.apply_gradients(model._params, grads)
        for layer, names in constrained:
            layer.apply_constraints(names)
        return loss, out
    return step


def _frozen_train_step(model, fused):
    """train_step for a model without trainable parameters (see there)."""
    forward_and_loss = test_step(model, fused, training=True)

    def step(xb, yb, wb):
        warnings.warn("The model does not have any trainable weights.", UserWarning, stacklevel=2)
        return forward_and_loss(xb, yb, wb)
    return step


def test_step(model, fused, penalty=None, training=False):
    """Forward in inference mode (in training mode with ``training``: dropout on; logits when ``fused``) and
    the (weighted when wb is given) loss, plus the activity penalty of the batch and ``penalty`` (the weights'
    regularization penalty, constant over the pass) when not None: (loss, output or logits)."""
    loss_fn = model.loss
    sites = model._activity_sites()

    def step(xb, yb, wb):
        outputs = {} if sites else None
        out = model._forward(xb, training, logits=fused, activity=outputs)
        if wb is None:
            loss = loss_fn.logits_forward(out, yb) if fused else loss_fn.forward(out, yb)
        else:
            loss = loss_fn.weighted_logits_forward(out, yb, wb) if fused else loss_fn.weighted_forward(out, yb, wb)
        if sites:
            loss = loss + _activity_terms(sites, outputs, with_grads=False)[0]
        return (loss if penalty is None else loss + penalty), out
    return step


def predict_step(model):
    """Forward in inference mode: (None, output)."""
    def step(xb, yb, wb):
        return None, model._forward(xb, training=False)
    return step


# ---- the loop ---------------------------------------------------------------------------------------------
def run_batches(batches, step, order=None, tally=None, outputs=None, batch_callbacks=(), bar=None, model=None):
    """Run ``step(xb, yb, wb)`` on every batch of ``batches`` (a ``_data.Batches``; rows ``order[lo:hi]`` when a
    permutation ``order`` is given). Each result goes to ``tally`` (loss and metrics) and/or is written into
    ``outputs[lo:hi]``; ``batch_callbacks`` get on_train_batch_begin/end (with the tally's running logs) and
    ``bar`` (a callbacks.ProgressBar) its batch_end. With ``model``, the loop ends after a batch whose
    callbacks set ``model.stop_training`` (as Keras's fit does)."""
    for b, (lo, hi, xb, yb, wb) in enumerate(batches.epoch(order)):
        for cb in batch_callbacks:
            cb.on_train_batch_begin(b, {})
        loss, out = step(xb, yb, wb)
        if tally is not None:
            tally.add(loss, hi - lo, yb, out)
        if outputs is not None:
            outputs[lo:hi] = out
        if batch_callbacks:
            logs = tally.logs()
            for cb in batch_callbacks:
                cb.on_train_batch_end(b, logs)
            if model is not None and model.stop_training:
                if bar is not None:
                    bar.batch_end(b, tally.logs)
                break
        if bar is not None:
            bar.batch_end(b, tally.logs)


# ---- the passes -------------------------------------------------------------------------------------------
def fit(model, batches, epochs, initial_epoch, shuffle, validation, callbacks, verbose, eval_batch_size):
    """Train ``model`` (its parameters indexed) for epochs initial_epoch .. epochs-1 over ``batches``,
    reshuffled each epoch from the model's shuffle generator when ``shuffle``; after each epoch evaluate
    ``validation`` ((x, y, sample_weight or None) or None) with ``eval_batch_size``. Epochs are numbered
    from ``initial_epoch`` for the callbacks and the progress bar (Keras), so the History holds
    epochs - initial_epoch entries. Calls the callbacks (TypeError for one that is not a
    fastann.callbacks.Callback) and returns the History."""
    fused = model._fused_softmax_loss
    history = callbacks_module.History()
    history.epoch_seconds = []
    cbs = list(callbacks or []) + [history]  # last, as in Keras: it records what the others add to logs
    for cb in cbs:
        if not isinstance(cb, callbacks_module.Callback):
            raise TypeError(f"{type(model).__name__}.fit: callbacks must be fastann.callbacks.Callback, got {cb!r}")
        cb.set_model(model)
        cb.set_params({"epochs": epochs, "steps": batches.steps, "verbose": verbose,
                       "batch_size": batches.batch_size})
    batch_cbs = [cb for cb in cbs if cb.wants_batch_hooks()]
    bar = callbacks_module.ProgressBar(verbose, epochs, batches.steps, batches.n)
    model.stop_training = False
    model.history = history
    model._resume_epoch = None
    for cb in cbs:
        cb.on_train_begin({})
    # a callback that restored an interrupted run (BackupAndRestore) says which epoch comes next
    start = max(int(initial_epoch), model._resume_epoch or 0)
    model._resume_epoch = None

    step = train_step(model, fused)
    for epoch in range(start, epochs):
        for cb in cbs:
            cb.on_epoch_begin(epoch, {})
        bar.epoch_begin(epoch)
        tally = Tally(model.metrics, fused)
        t0 = time.perf_counter()
        # the permutation is drawn on the host whatever the device: the same seed shuffles the same way
        order = model._shuffle_rng.permutation(batches.n) if shuffle else None
        run_batches(batches, step, order, tally=tally, batch_callbacks=batch_cbs, bar=bar, model=model)
        epoch_logs = tally.logs()
        history.epoch_seconds.append(time.perf_counter() - t0)
        if validation is not None:
            val_logs = model.evaluate(validation[0], validation[1], batch_size=eval_batch_size, return_dict=True,
                                      sample_weight=validation[2])
            epoch_logs.update((f"val_{k}", v) for k, v in val_logs.items())
        for cb in cbs:
            cb.on_epoch_end(epoch, epoch_logs)
        bar.epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    for cb in cbs:
        cb.on_train_end({})
    return history


def evaluate(model, batches) -> dict:
    """Loss and metrics of ``model`` in inference mode over ``batches``: {"loss": ..., metric name: ...}.
    The loss includes the regularization penalty of the trainable weights (Keras)."""
    fused = model._fused_softmax_loss
    tally = Tally(model.metrics, fused)
    penalties = model.losses
    penalty = sum(penalties[1:], penalties[0]) if penalties else None
    run_batches(batches, test_step(model, fused, penalty), tally=tally)
    return tally.logs()


def predict(model, batches):
    """Outputs of ``model`` in inference mode for every row of ``batches``: an (N, *output_shape) NumPy
    array of the model dtype (a GPU model fills a device array and copies it to the host once)."""
    out = model.xp.empty((batches.n,) + tuple(model.output_shape), dtype=model.dtype)
    run_batches(batches, predict_step(model), outputs=out)
    return out if model.xp is np else out.get()
