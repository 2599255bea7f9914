"""Training callbacks with Keras names (``keras.callbacks``).

A callback gets ``set_model(model)`` and then the hooks ``on_train_begin(logs)``, ``on_epoch_begin(epoch,
logs)``, ``on_train_batch_end(batch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_end(logs)``.
``logs`` at epoch end holds the epoch's mean "loss", the metrics, and "val_loss"/"val_<metric>" when there
is validation data. ``fit`` calls the callbacks in the order given, then ``History`` (as Keras does), so a
callback that adds to the epoch logs (the learning-rate callbacks add "learning_rate") is recorded. Setting
``model.stop_training = True`` ends fit after the current epoch, or, set in a batch hook, after the current
batch (the epoch's end hooks still run with the logs so far, as in Keras).

For speed, ``on_train_batch_end`` is only called when some callback overrides it, and its logs then
carry the running means (which costs a host sync per batch on a GPU).
"""
from __future__ import annotations

import inspect
import math
import sys
import time

from . import optimizers

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler", "ReduceLROnPlateau",
           "LambdaCallback", "ProgressBar"]


class Callback:
    """Base class: every hook does nothing."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...

    @classmethod
    def wants_batch_hooks(cls) -> bool:
        """True when the class overrides a per-batch hook (fit then calls them every batch)."""
        return (cls.on_train_batch_end is not Callback.on_train_batch_end
                or cls.on_train_batch_begin is not Callback.on_train_batch_begin)


class History(Callback):
    """Records the epoch logs: ``history.history["loss"]`` is the list of epoch losses, ``history.epoch``
    the epoch indices. ``model.fit`` returns it."""

    def __init__(self):
        super().__init__()
        self.history: dict = {}
        self.epoch: list = []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def _beats(mode: str, value: float, reference, min_delta: float = 0.0) -> bool:
    """True when ``value`` improves on ``reference`` by more than ``min_delta`` in ``mode`` ("min": lower is
    better, "max": higher), or there is no reference yet (None). NaN never improves on a reference."""
    if reference is None:
        return True
    if mode == "min":
        return value < reference - min_delta
    return value > reference + min_delta


def _monitored(owner: str, monitor: str, logs: dict) -> float:
    """``logs[monitor]`` as a float; ValueError naming the keys there are when it is missing."""
    if monitor not in logs:
        raise ValueError(f"{owner}: monitor {monitor!r} is not in the logs; available: {', '.join(logs)} "
                         "(val_* needs validation_split or validation_data)")
    return float(logs[monitor])


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving.

    Args:
        monitor: a logs key, default "val_loss".
        min_delta: an improvement must exceed this.
        patience: epochs without improvement before stopping.
        mode: "min", "max" or "auto" (max for accuracies, min otherwise).
        restore_best_weights: at the end, put back the weights of the best epoch.
        baseline: stop if the monitored value does not beat this.
        start_from_epoch: epochs to wait before monitoring.
    Raises ValueError (at epoch end) when ``monitor`` is not in the logs, naming the keys there are.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _mode_for(monitor, mode)
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.stopped_epoch = 0
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = _monitored("EarlyStopping", self.monitor, logs)
        if epoch < self.start_from_epoch:
            return
        if math.isnan(value):
            improved = False
        else:
            improved = _beats(self.mode, value, self.best, self.min_delta)
            if self.best is None and self.baseline is not None:
                improved = _beats(self.mode, value, float(self.baseline), self.min_delta)
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= max(1, self.patience):  # `patience` epochs in a row without improvement (Keras)
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", file=sys.stderr)
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model after each epoch, or only when ``monitor`` improved (``save_best_only``), as
    ``keras.callbacks.ModelCheckpoint`` (same arguments and order).

    ``save_weights_only=False`` (the default, as Keras): the whole model with ``model.save`` (a ``.keras``
    file: config, weights, optimizer and random state, so ``fastann.models.load_model`` resumes it);
    ``filepath`` must end in ``.keras``. ``save_weights_only=True``: ``model.save_weights``, to a
    ``.weights.h5`` file (Keras's layout) or an ``.npz`` file (fastann's). A name that does not say the format
    is a ValueError at construction: a file is never written under a name of another format. ``filepath``
    may contain ``{epoch}`` and logs keys, e.g. "ckpt-{epoch:02d}-{val_loss:.3f}.keras".
    ``save_freq`` other than "epoch" and ``initial_value_threshold`` are NotImplementedError unless at
    Keras's defaults."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        name = str(filepath)
        if save_freq != "epoch":
            raise NotImplementedError(f"ModelCheckpoint: save_freq={save_freq!r} is not implemented (only 'epoch')")
        if initial_value_threshold is not None:
            raise NotImplementedError("ModelCheckpoint: initial_value_threshold is not implemented (only None)")
        lower = name.lower()
        if save_weights_only and not lower.endswith((".weights.h5", ".npz")):
            raise ValueError(f"ModelCheckpoint: with save_weights_only=True the filepath must end in .weights.h5 "
                             f"(Keras's layout) or .npz (fastann's), got {name!r}")
        if not save_weights_only and not lower.endswith(".keras"):
            raise ValueError(f"ModelCheckpoint: the filepath must end in .keras (a whole model, "
                             f"save_weights_only=False as in Keras), got {name!r}; for weights alone pass "
                             f"save_weights_only=True and a .weights.h5 or .npz name")
        self.filepath = name
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _mode_for(monitor, mode)
        self.verbose = verbose
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = _monitored("ModelCheckpoint", self.monitor, logs)
            if not _beats(self.mode, value, self.best):
                return
            self.best = value
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the {'weights' if self.save_weights_only else 'model'} to {path}",
                  file=sys.stderr)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch (keras.callbacks.LearningRateScheduler).

    ``schedule(epoch, lr) -> new_lr``: epoch is 0-based, lr the current rate (float); the returned float
    (> 0) is used for every step of that epoch. As in Keras, a schedule that takes one argument is called
    ``schedule(epoch)`` (decided from its signature; when the signature cannot be read, Keras' way: the
    two-argument call, then the one-argument call if that raised TypeError).

    For a rate that changes every step, give the optimizer a
    ``fastann.optimizers.schedules`` object instead; an optimizer built with one cannot take this callback
    (TypeError at the first epoch).

    At each epoch end it adds the epoch's rate to the logs as "learning_rate", so ``History`` records it
    and the progress line shows it (as Keras does).

    Raises ValueError when ``schedule`` returns something that is not a finite number > 0.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable (epoch, lr) -> lr, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        self._arity = _schedule_arity(schedule)

    def _call(self, epoch, lr):
        if self._arity == 2:
            return self.schedule(epoch, lr)
        if self._arity == 1:
            return self.schedule(epoch)
        try:  # unreadable signature: Keras' order
            return self.schedule(epoch, lr)
        except TypeError:
            return self.schedule(epoch)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = self._call(epoch, float(optimizer.learning_rate))
        if not optimizers._is_rate(lr):
            raise ValueError(f"LearningRateScheduler: schedule({epoch}, ...) must return a finite number > 0, "
                             f"got {lr!r}")
        optimizer.learning_rate = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr):g}.",
                  file=sys.stderr)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _schedule_arity(schedule):
    """2 when ``schedule`` takes (epoch, lr), 1 when it takes (epoch) only, None when its signature cannot
    be read; TypeError when it takes neither."""
    try:
        sig = inspect.signature(schedule)
    except (TypeError, ValueError):
        return None
    for arity, args in ((2, (0, 0.1)), (1, (0,))):
        try:
            sig.bind(*args)
            return arity
        except TypeError:
            pass
    raise TypeError(f"LearningRateScheduler: schedule must take (epoch, lr) or (epoch), got {schedule!r} "
                    f"with signature {sig}")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has stopped improving
    (keras.callbacks.ReduceLROnPlateau, its rules included).

    At each epoch end: an epoch improves when ``monitor`` beats the best value so far by more than
    ``min_delta`` (below it in mode "min", above it in "max"). After ``patience`` epochs in a row without
    improvement the rate becomes ``max(lr * factor, min_lr)`` (no change once it is at ``min_lr``) and the
    count restarts. After a reduction, ``cooldown`` epochs restart the count too; Keras decrements the
    cooldown before it judges an epoch, so the last of them is already counted (cooldown=1 waits nothing).
    PyTorch's ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (threshold_mode="abs") waits one epoch longer
    for the same ``patience`` and for the same ``cooldown``. The epoch's rate, before any reduction, goes
    into the logs as "learning_rate".

    Args:
        monitor: a logs key, default "val_loss".
        factor: float in (0, 1), the multiplier.
        patience: int >= 0, epochs without improvement before a reduction.
        verbose: 1 prints each reduction to stderr.
        mode: "min", "max" or "auto" (max for accuracies, min otherwise).
        min_delta: float >= 0, the margin an improvement must exceed.
        cooldown: int >= 0, see above.
        min_lr: float >= 0, the floor of the rate.
    Raises ValueError for a factor outside (0, 1) or a negative patience, cooldown, min_delta or min_lr, and
    (at epoch end) when ``monitor`` is not in the logs; TypeError (at the start of fit) when the optimizer
    was built with a ``fastann.optimizers.schedules`` object, whose rate cannot be set.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        if not 0.0 < float(factor) < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown), ("min_delta", min_delta),
                            ("min_lr", min_lr)):
            if not value >= 0:
                raise ValueError(f"ReduceLROnPlateau: {name} must be >= 0, got {value!r}")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _mode_for(monitor, mode)
        self.min_delta = float(min_delta)
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if getattr(optimizer, "_schedule", None) is not None:
            raise TypeError(f"ReduceLROnPlateau: the optimizer follows the schedule {optimizer._schedule!r}; "
                            f"its learning rate cannot be reduced (give it a float learning_rate)")
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        lr = float(optimizer.learning_rate)
        logs["learning_rate"] = lr
        value = _monitored("ReduceLROnPlateau", self.monitor, logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if _beats(self.mode, value, self.best, self.min_delta):  # best starts at +-inf; NaN never improves
            self.best, self.wait = value, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience and lr > self.min_lr:
            new_lr = max(lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            self.cooldown_counter, self.wait = self.cooldown, 0
            if self.verbose:
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr:g}.",
                      file=sys.stderr)


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.
    Accepts on_epoch_begin, on_epoch_end, on_train_batch_begin, on_train_batch_end, on_train_begin,
    on_train_end (the train hooks take ``logs`` only)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_batch_begin=None,
                 on_train_batch_end=None, on_train_begin=None, on_train_end=None):
        super().__init__()
        self._fns = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                     "on_train_batch_begin": on_train_batch_begin, "on_train_batch_end": on_train_batch_end,
                     "on_train_begin": on_train_begin, "on_train_end": on_train_end}

    def wants_batch_hooks(self) -> bool:  # instance-level: depends on which functions were given
        return self._fns["on_train_batch_end"] is not None or self._fns["on_train_batch_begin"] is not None

    def on_epoch_begin(self, epoch, logs=None):
        if self._fns["on_epoch_begin"]:
            self._fns["on_epoch_begin"](epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._fns["on_epoch_end"]:
            self._fns["on_epoch_end"](epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        if self._fns["on_train_batch_begin"]:
            self._fns["on_train_batch_begin"](batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if self._fns["on_train_batch_end"]:
            self._fns["on_train_batch_end"](batch, logs)

    def on_train_begin(self, logs=None):
        if self._fns["on_train_begin"]:
            self._fns["on_train_begin"](logs)

    def on_train_end(self, logs=None):
        if self._fns["on_train_end"]:
            self._fns["on_train_end"](logs)


def _fmt(logs: dict) -> dict:
    return {k: f"{v:.4f}" for k, v in logs.items()}


class ProgressBar:
    """The per-epoch progress bar of fit (tqdm): ``verbose=1`` a bar updated every few batches with the
    running loss and metrics, closed with the epoch's validation metrics; ``verbose=2`` one line per epoch;
    ``verbose=0`` nothing. Writes to stderr (tqdm's default)."""

    def __init__(self, verbose: int, epochs: int, steps: int, samples: int):
        self.verbose, self.epochs, self.steps, self.samples = verbose, epochs, steps, samples
        self.every = max(1, steps // 50)  # ~50 refreshes per epoch: a host sync only that often
        self._bar = None
        self._t0 = 0.0

    def epoch_begin(self, epoch: int) -> None:
        self._t0 = time.perf_counter()
        if self.verbose == 1:
            from tqdm.auto import tqdm  # noqa: PLC0415

            self._bar = tqdm(total=self.steps, desc=f"Epoch {epoch + 1}/{self.epochs}", unit="batch",
                             leave=True, dynamic_ncols=True, mininterval=0.2)

    def batch_end(self, batch: int, running_logs) -> None:
        """``running_logs``: a function returning the running means (called only when the bar refreshes)."""
        if self._bar is not None and ((batch + 1) % self.every == 0 or batch + 1 == self.steps):
            done = batch + 1 - self._bar.n
            self._bar.set_postfix(_fmt(running_logs()), refresh=False)
            self._bar.update(done)

    def epoch_end(self, epoch: int, logs: dict) -> None:
        seconds = time.perf_counter() - self._t0
        if self._bar is not None:
            post = _fmt(logs)
            post["samples/s"] = f"{self.samples / max(seconds, 1e-9):.0f}"
            self._bar.set_postfix(post, refresh=True)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            parts = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
            print(f"Epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s - {parts}", file=sys.stderr)


class CSVLogger(Callback):
    """keras.callbacks.CSVLogger(filename, separator=",", append=False): streams the epoch logs to a CSV file.

    The first row is the header ``epoch`` followed by the logs' keys in sorted order (fixed at the first epoch);
    each epoch adds a row, flushed at once. A list value is written as "[a, b]" in quotes. After
    ``model.stop_training`` a missing key is written "NA". ``append=True`` adds to an existing file (its header
    is written only when the file is empty or absent); otherwise the file is overwritten at train begin.
    Raises TypeError for a filename that is not a str / os.PathLike or a separator that is not a 1-character str;
    OSError from opening the file at train begin."""

    def __init__(self, filename, separator=",", append=False):
        import os  # noqa: PLC0415

        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"CSVLogger: filename must be a str or os.PathLike, got {type(filename).__name__}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise TypeError(f"CSVLogger: separator must be a 1-character str, got {separator!r}")
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self.keys = None
        self._file = self._writer = None
        self._header = True

    def on_train_begin(self, logs=None):
        import os  # noqa: PLC0415

        self._header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self._header = not f.readline()
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer, self.keys = None, None

    @staticmethod
    def _cell(v):
        if isinstance(v, str):
            return v
        if isinstance(v, (list, tuple)) or (hasattr(v, "ndim") and v.ndim > 0):
            return f'"[{", ".join(map(str, v))}]"'
        return v

    def on_epoch_end(self, epoch, logs=None):
        import csv  # noqa: PLC0415

        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
        if self.model is not None and getattr(self.model, "stop_training", False):
            logs = {k: logs.get(k, "NA") for k in self.keys}
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys, delimiter=self.sep)
            if self._header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: self._cell(logs.get(k, "NA")) for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file, self._writer = None, None


class TerminateOnNaN(Callback):
    """keras.callbacks.TerminateOnNaN(): stops training after the first batch whose running loss is NaN or
    infinite (prints "Batch <b>: Invalid loss, terminating training"). Its batch hook makes fit read the running
    loss after every batch (one device read per batch on a GPU)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


__all__ += ["CSVLogger", "TerminateOnNaN"]


class BackupAndRestore(Callback):
    """``keras.callbacks.BackupAndRestore(backup_dir, save_freq="epoch", double_checkpoint=False,
    delete_checkpoint=True)``: survive an interruption of ``fit``.

    After each epoch the whole model (weights, optimizer state and step count, the shuffling and dropout
    generators: ``model.save``'s ``.keras`` file) goes to ``backup_dir/latest.keras`` and the epoch number to
    ``backup_dir/training_metadata.json``. When ``fit`` starts with a backup present (the previous run was
    interrupted: by an exception, a kill, a power cut after that epoch), the model is restored from it and
    training continues with the next epoch, so the result is that of a run that was never interrupted (same
    thread count). A run that ends normally deletes the backup when ``delete_checkpoint``.

    Args: backup_dir (a directory path; created when needed), save_freq ("epoch"; a batch count is
    NotImplementedError), double_checkpoint (False; True is NotImplementedError), delete_checkpoint.
    Raises ValueError for an empty backup_dir; at restore, ValueError for a backup that does not fit the
    model (``fastann.saving`` checks the file as ``load_model`` does)."""

    _MODEL, _META = "latest.keras", "training_metadata.json"

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        import os  # noqa: PLC0415
        if not backup_dir:
            raise ValueError(f"Empty `backup_dir` argument passed: {backup_dir!r}")
        if save_freq != "epoch":
            raise NotImplementedError(f"BackupAndRestore: save_freq={save_freq!r} is not implemented (only 'epoch')")
        if double_checkpoint:
            raise NotImplementedError("BackupAndRestore: double_checkpoint=True is not implemented")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._model_path = os.path.join(self.backup_dir, self._MODEL)
        self._meta_path = os.path.join(self.backup_dir, self._META)

    def on_train_begin(self, logs=None):
        import json  # noqa: PLC0415
        import os  # noqa: PLC0415

        from .saving import _model_io  # noqa: PLC0415 - saving imports the models, which import this module
        if not (os.path.exists(self._model_path) and os.path.exists(self._meta_path)):
            return
        with open(self._meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        epoch = meta.get("epoch") if isinstance(meta, dict) else None
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"BackupAndRestore: {self._meta_path} does not hold a completed epoch number")
        _model_io.restore_into(self.model, self._model_path)
        self.model._resume_epoch = epoch + 1  # fit continues after the last epoch the backup holds

    def on_epoch_end(self, epoch, logs=None):
        import json  # noqa: PLC0415
        import os  # noqa: PLC0415
        os.makedirs(self.backup_dir, exist_ok=True)
        self.model.save(self._model_path)
        tmp = self._meta_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"epoch": int(epoch)}, f)
        os.replace(tmp, self._meta_path)  # the epoch number changes only once the model file is complete

    def on_train_end(self, logs=None):
        import os  # noqa: PLC0415
        if not self.delete_checkpoint:
            return
        for path in (self._meta_path, self._model_path):
            if os.path.exists(path):
                os.remove(path)
        if os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
            os.rmdir(self.backup_dir)


__all__ += ["BackupAndRestore"]
