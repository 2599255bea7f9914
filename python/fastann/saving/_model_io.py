"""``save_model`` / ``load_model``: a model as Keras 3's ``.keras`` file (module docstring of
``fastann.saving``), and the model's config in Keras's schema."""
from __future__ import annotations

import datetime
import json
import os

from .. import _serialize
from .. import metrics as metrics_module
from .._version import __version__
from ..layers import InputLayer
from . import _archive, _functional, _h5, _keras_opt, _state

__all__ = ["register_model_class", "model_config", "model_from_config", "save_model", "load_model",
           "save_weights_h5", "load_weights_h5", "KERAS_VERSION"]

#: The Keras version written into metadata.json (the format fastann writes is Keras 3's).
KERAS_VERSION = "3.15.1"
_MODEL_CLASSES: dict = {}


def register_model_class(cls, name=None) -> None:
    """Let ``load_model`` and ``deserialize`` resolve ``name`` (default ``cls.__name__``) to ``cls``
    (fastann.models registers its models)."""
    _MODEL_CLASSES[name or cls.__name__] = cls


_serialize.register_family("models", lambda: dict(_MODEL_CLASSES))


# ---- config ---------------------------------------------------------------------------------------------
def _layer_entry(layer) -> dict:
    entry = _serialize.serialize(layer)
    if layer.built and not isinstance(layer, InputLayer):
        shape = layer.input_shape
        several = bool(shape) and isinstance(shape[0], (tuple, list))  # a merge layer: one shape per input
        entry["build_config"] = {"input_shape": [[None, *s] for s in shape] if several else [None, *shape]}
    return entry


def _is_sequential(model) -> bool:
    return hasattr(model, "_declared_input_shape")


def model_config(model) -> dict:
    """Keras's config of ``model``: for a Sequential name, trainable, dtype, the layers (InputLayer included)
    as serialized objects, ``build_input_shape``; for a functional Model name, trainable, the layers with
    their ``inbound_nodes``, ``input_layers``, ``output_layers``; plus fastann's ``seed`` and ``dtype``
    (Keras ignores keys it does not use)."""
    if not _is_sequential(model):
        config = _functional.functional_config(model, _layer_entry)
        config["dtype"] = _serialize.dtype_policy(model.dtype)
        config["seed"] = None if model.seed is None else int(model.seed)
        return config
    config = {"name": model.name, "trainable": model.trainable, "dtype": _serialize.dtype_policy(model.dtype),
              "layers": [_layer_entry(l) for l in model._layers]}
    if model.built:
        config["build_input_shape"] = [None, *model.input_shape]
    config["seed"] = None if model.seed is None else int(model.seed)
    return config


_MODEL_KEYS = {"name", "trainable", "dtype", "layers", "build_input_shape", "seed", "input_layers",
               "output_layers"}


def model_from_config(cls, config, custom_objects=None, where="config"):
    """A model of class ``cls`` from ``model_config``'s form (or Keras's Sequential config), built when the
    config gives its input shape. ValueError naming what is wrong."""
    if not isinstance(config, dict):
        raise ValueError(f"{where}: a model config must be a dict, got {type(config).__name__}")
    unknown = set(config) - _MODEL_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} in the {cls.__name__} config")
    layers = config.get("layers")
    if not isinstance(layers, list):
        raise ValueError(f"{where}: 'layers' must be a list of serialized layers")
    dtype = _serialize.deserialize_value(config.get("dtype", "float32"), where=f"{where}.dtype")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"{where}: the model dtype must be float32 or float64, got {dtype!r}")
    seed = config.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"{where}: seed must be a non-negative integer or null, got {seed!r}")
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"{where}: name must be a string")
    if not hasattr(cls, "_declared_input_shape"):  # a functional model
        model = _functional.functional_from_config(cls, config, custom_objects, where, name=name, seed=seed,
                                                   dtype=dtype)
        if config.get("trainable") is False:
            model.trainable = False
        return model
    built = []
    for i, entry in enumerate(layers):
        family = "models" if isinstance(entry, dict) and _serialize.family_of(entry.get("module")) == "models" \
            else "layers"  # a nested model, or a layer
        layer = _serialize.deserialize(entry, custom_objects, family, f"{where}.layers[{i}]")
        if not hasattr(layer, "forward"):
            raise ValueError(f"{where}.layers[{i}]: {type(layer).__name__} is not a layer")
        built.append(layer)
    try:
        model = cls(built, name=name, seed=seed, dtype=dtype)
        shape = config.get("build_input_shape")
        if not model.built and shape is not None:
            if not isinstance(shape, list) or not all(s is None or (isinstance(s, int) and s > 0) for s in shape):
                raise ValueError(f"build_input_shape must be a list of positive ints or null, got {shape!r}")
            model.build(tuple(shape))
        if config.get("trainable") is False:
            model.trainable = False
    except (TypeError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{where}: the layers do not make a model: {e}") from None
    return model


def _compile_config(model):
    if model.optimizer is None:
        return None
    # compile's metrics (names or Metric objects); the per-output loss trackers of a multi-output model are
    # the model's own, made again by compile
    specs = [m if isinstance(m, str) else _serialize.serialize(m) for m in model._metric_specs
             if isinstance(m, (str, list, dict, metrics_module.Metric))]
    loss, loss_weights = model.loss, None
    if hasattr(loss, "losses") and hasattr(loss, "weights"):  # several outputs: one loss each
        loss, loss_weights = list(loss.losses), list(loss.weights)
    return {"optimizer": _serialize.serialize(model.optimizer),
            "loss": None if loss is None else _serialize.serialize(loss),
            "loss_weights": loss_weights, "metrics": specs or None, "weighted_metrics": None, "run_eagerly": False,
            "steps_per_execution": 1, "jit_compile": False}


def _compile_from_config(model, cfg, custom_objects, where):
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: compile_config must be a dict")
    args = {k: _serialize.deserialize_value(v, custom_objects, f"{where}.{k}") for k, v in cfg.items()}
    if args.get("jit_compile") is True:
        args["jit_compile"] = "auto"  # Keras's value for "compiled by XLA"; fastann has no such step
    try:
        model.compile(**args)
    except (TypeError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{where}: compile refused the compile_config: {e}") from None


# ---- the .keras file ------------------------------------------------------------------------------------
def save_model(model, filepath, overwrite=True) -> None:
    """Write ``model`` as a ``.keras`` file (see ``fastann.saving``). ValueError for another suffix."""
    name = os.fspath(filepath)
    if not isinstance(name, str) or not name.endswith(".keras"):
        raise ValueError(f"save: the file name must end in .keras (Keras 3's format), got {name!r}; "
                         f"save_weights writes .weights.h5 and .npz")
    if not overwrite and os.path.exists(name):
        raise ValueError(f"save: {name!r} exists and overwrite=False")
    if not model.built:
        raise ValueError("save: the model is not built yet (start it with layers.Input, or call build or fit)")
    if _is_sequential(model):
        entry = {"module": "keras", "class_name": "Sequential", "config": model_config(model),
                 "registered_name": None, "build_config": {"input_shape": [None, *model.input_shape]}}
    else:
        entry = {"module": "keras.src.models.functional", "class_name": "Functional",
                 "config": model_config(model), "registered_name": "Functional"}
    compile_config = _compile_config(model)
    if compile_config is not None:
        entry["compile_config"] = compile_config
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "fastann_version": __version__}

    def extra(f):
        _keras_opt.write(model, f)
        _state.write_optimizer(model, f)
    weights = _h5.write_weights(model, extra)
    members = {"metadata.json": json.dumps(metadata).encode(), "config.json": json.dumps(entry).encode(),
               "model.weights.h5": weights,
               "fastann/state.json": json.dumps(_state.collect(model)).encode()}
    _archive.write_archive(name, members)


def _json(data, where):
    try:
        return json.loads(data.decode("utf-8"), parse_constant=lambda c: _bad_constant(c, where))
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, too long an integer
        if str(e).startswith(where):
            raise
        raise ValueError(f"{where}: not valid JSON ({type(e).__name__}: {e})") from None


def _bad_constant(c, where):
    raise ValueError(f"{where}: JSON constant {c} is not accepted")


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002 - Keras's name
    """The model saved at ``filepath`` (a ``.keras`` file written by fastann or by Keras 3), rebuilt from its
    config, its weights set, compiled from its compile_config when ``compile`` and, for a file fastann
    wrote, its training state restored (exact resume).

    Args:
        filepath: path of a ``.keras`` file.
        custom_objects: None or {name: class} for classes that are not fastann's (a user's layer); nothing
            else is resolved beyond fastann's registry.
        compile: False skips the compile_config (and the optimizer state).
        safe_mode: must be True (fastann has no unsafe mode: it never deserializes code).
    Raises:
        ValueError naming what is wrong for a file that is not a complete, consistent .keras file, or that
        names an unknown class, a Python function, weights of another shape or dtype, unknown or missing
        entries, links or external data in the HDF5 file, or sizes beyond the limits.
    """
    if safe_mode is not True:
        raise ValueError("load_model: fastann always loads in safe mode (it never runs code from a file); "
                         f"safe_mode={safe_mode!r} is not accepted")
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"load_model: custom_objects must be a dict {{name: class}}, got {custom_objects!r}")
    name = os.fspath(filepath)
    if not isinstance(name, str) or not name.endswith(".keras"):
        raise ValueError(f"load_model: expected a .keras file, got {name!r} (weights files load through "
                         f"model.load_weights)")
    members = _archive.read_archive(name)
    where = f"load_model({name!r})"
    meta = _json(members["metadata.json"], f"{where}: metadata.json")
    version = meta.get("keras_version") if isinstance(meta, dict) else None
    if not isinstance(version, str) or not version.startswith("3."):
        raise ValueError(f"{where}: metadata.json gives keras_version {version!r}; fastann reads Keras 3's "
                         f"format (3.x)")
    entry = _json(members["config.json"], f"{where}: config.json")
    if not _serialize.is_object(entry):
        raise ValueError(f"{where}: config.json is not a serialized model")
    cls = _MODEL_CLASSES.get(entry["class_name"])
    if cls is None or _serialize.family_of(entry.get("module")) != "models":
        raise ValueError(f"{where}: config.json describes a {entry.get('module')}.{entry['class_name']!r}; "
                         f"fastann loads {', '.join(sorted(_MODEL_CLASSES))}")
    unknown = set(entry) - {"module", "class_name", "config", "registered_name", "build_config",
                            "compile_config"}
    if unknown:
        raise ValueError(f"{where}: config.json has unknown keys {sorted(unknown)}")
    try:
        model = model_from_config(cls, entry["config"], custom_objects, f"{where}: config.json")
    except RecursionError:
        raise ValueError(f"{where}: config.json nests objects too deeply") from None
    except MemoryError:
        raise ValueError(f"{where}: config.json asks for layers larger than memory") from None
    n_weights = sum(int(w.size) for w in model.weights)
    if n_weights > len(members["model.weights.h5"]) // 2:  # a weight takes at least 2 bytes in the file
        raise ValueError(f"{where}: config.json describes {n_weights} weights, more than model.weights.h5 "
                         f"({len(members['model.weights.h5'])} bytes) can hold")
    if not model.built:
        raise ValueError(f"{where}: config.json does not give the model's input shape")
    if compile and entry.get("compile_config"):  # Keras writes {} for a model that was not compiled
        _compile_from_config(model, entry["compile_config"], custom_objects, f"{where}: compile_config")
    _read_weights_and_state(model, members, where, compile)
    return model


def _read_weights_and_state(model, members, where, compile) -> None:  # noqa: A002 - Keras's name
    """Set the weights of an archive into ``model`` and, when ``compile``, its training state (fastann's exact
    resume state, or a Keras file's optimizer state)."""
    state = None
    if "fastann/state.json" in members:
        state = _json(members["fastann/state.json"], f"{where}: fastann/state.json")
    with _h5.open_h5(members["model.weights.h5"], f"{where}: model.weights.h5") as f:
        _h5.read_weights(model, f, f"{where}: model.weights.h5")
        if state is not None and compile:
            _state.restore(model, state, f, where)
        elif compile and model.optimizer is not None:
            _keras_opt.read(model, f, f"{where}: model.weights.h5")  # a Keras file: its optimizer state
        elif "fastann" in f and state is None:
            raise ValueError(f"{where}: model.weights.h5 holds fastann state but fastann/state.json is missing")


def restore_into(model, filepath) -> None:
    """Set the weights and the training state (optimizer state, step count, shuffling and dropout generators)
    that ``save_model`` wrote at ``filepath`` into ``model``, a compiled model of the same architecture: what
    ``fastann.callbacks.BackupAndRestore`` does when a run starts again after an interruption. The file is
    checked as ``load_model`` checks it; ValueError for a file that does not fit the model."""
    name = os.fspath(filepath)
    members = _archive.read_archive(name)
    _read_weights_and_state(model, members, f"restore({name!r})", compile=model.optimizer is not None)


# ---- weights only ---------------------------------------------------------------------------------------
def save_weights_h5(model, filepath) -> None:
    """The weights of ``model`` as a ``.weights.h5`` file in Keras's layout (atomic write)."""
    import tempfile  # noqa: PLC0415

    name = os.fspath(filepath)
    data = _h5.write_weights(model)
    fd, tmp = tempfile.mkstemp(suffix=".h5.part", dir=os.path.dirname(os.path.abspath(name)))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, name)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_weights_h5(model, filepath) -> None:
    """Set ``model``'s weights from a ``.weights.h5`` file (Keras's layout, checked as ``load_model``
    checks it; a Keras file's optimizer group is read past). ValueError naming what is wrong."""
    name = os.fspath(filepath)
    where = f"load_weights({name!r})"
    try:
        size = os.path.getsize(name)
    except OSError as e:
        raise ValueError(f"{where}: cannot read the file ({e})") from None
    if size > _archive.MAX_SIZES["model.weights.h5"]:
        raise ValueError(f"{where}: {size} bytes, over the limit of {_archive.MAX_SIZES['model.weights.h5']}")
    with open(name, "rb") as fh:
        data = fh.read()
    with _h5.open_h5(data, where) as f:
        _h5.read_weights(model, f, where, allowed_roots=("layers", "vars", "optimizer"))
