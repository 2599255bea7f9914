"""Objects to Keras 3's serialization schema (the JSON of a ``.keras`` file's ``config.json``).

``serialize(obj)`` gives ``{"module", "class_name", "config", "registered_name"}`` as
``keras.saving.serialize_keras_object`` writes it: a fastann layer, initializer, regularizer, constraint,
optimizer, schedule, loss or metric is written under the Keras module of its family (``keras.layers``,
``keras.initializers``, ...) with ``registered_name`` null, so Keras reads it as its own class of that name;
a user's subclass is written under its own module with its class name as ``registered_name`` (loading it
needs ``custom_objects``). Tuples become lists, NumPy arrays and scalars plain lists and numbers. Python
functions are refused (ValueError): a file names classes from a registry, never code.

The reverse (names to classes, only through fastann's registry) is ``fastann.saving.serialization``.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import constraints, initializers, losses, metrics, optimizers, regularizers, schedules

__all__ = ["serialize", "dtype_policy", "plain", "KERAS_MODULES"]

#: Keras module of each family's base class, in the order they are tested (a schedule before an optimizer).
KERAS_MODULES = (
    (initializers.Initializer, "keras.initializers"),
    (regularizers.Regularizer, "keras.regularizers"),
    (constraints.Constraint, "keras.constraints"),
    (schedules.LearningRateSchedule, "keras.optimizers.schedules"),
    (optimizers.Optimizer, "keras.optimizers"),
    (losses.Loss, "keras.losses"),
    (metrics.Metric, "keras.metrics"),
)


def dtype_policy(name) -> dict:
    """Keras's serialized ``DTypePolicy`` of dtype ``name`` ("float32", "float64")."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": str(np.dtype(name))},
            "registered_name": None}


def _module_of(obj):
    module = getattr(type(obj), "_KERAS_MODULE", None)  # layers and models say theirs
    if module is None:
        module = next((m for base, m in KERAS_MODULES if isinstance(obj, base)), None)
    return module


def serialize(obj):
    """``obj`` (a fastann object, or a config value) as Keras's JSON-ready form. ValueError naming the
    object for a function, a lambda or another object with no config."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    if isinstance(obj, (tuple, list)):
        return [serialize(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): serialize(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray) or type(obj).__module__.split(".")[0] == "cupy":
        return serialize((obj.get() if hasattr(obj, "get") and not isinstance(obj, np.ndarray) else obj).tolist())
    if isinstance(obj, np.dtype):
        return str(obj)
    module = _module_of(obj)
    if module is None or not hasattr(obj, "get_config"):
        raise ValueError(f"serialize: cannot save {obj!r} ({type(obj).__name__}): a saved model names "
                         f"fastann classes and their arguments, never Python functions or other objects")
    cls = type(obj)
    builtin = cls.__module__.split(".")[0] == "fastann"
    return {"module": module if builtin else cls.__module__, "class_name": cls.__name__,
            "config": serialize(obj.get_config()), "registered_name": None if builtin else cls.__name__}


def plain(value):
    """``serialize`` for a config value that is not itself a fastann object (lists of numbers, ...)."""
    return serialize(value)


# ---- names to classes: only through fastann's registry -------------------------------------------------------
#: Keys a serialized object may have (Keras writes the last three on layers and models).
_OBJECT_KEYS = {"module", "class_name", "config", "registered_name", "build_config", "compile_config",
                "shared_object_id"}
#: The families, by the dotted component of a Keras module that names them (schedules before optimizers:
#: "keras.optimizers.schedules").
_FAMILIES = ("layers", "initializers", "regularizers", "constraints", "schedules", "optimizers", "losses", "metrics",
             "activations", "models")
_FAMILY_MODULES = {"initializers": (initializers, initializers.Initializer),
                   "regularizers": (regularizers, regularizers.Regularizer),
                   "constraints": (constraints, constraints.Constraint),
                   "schedules": (schedules, schedules.LearningRateSchedule),
                   "optimizers": (optimizers, optimizers.Optimizer), "losses": (losses, losses.Loss),
                   "metrics": (metrics, metrics.Metric)}
#: Extra families registered by the packages above this module: "layers" (from layers.base), "models".
_EXTRA: dict = {}


_CLASS_NAME = object()  # marks "the class's default name" in the table below
#: Keras 3 config keys that fastann's constructors do not take, by family, with the value that asks for
#: nothing; ``deserialize`` drops them at that value (another value reaches the constructor, which refuses).
_KERAS_ONLY_DEFAULTS = {
    "initializers": {"input_axes": None, "output_axes": None},
    "losses": {"reduction": "sum_over_batch_size", "dtype": None, "ignore_class": None, "name": _CLASS_NAME,
               "axis": -1},
    "metrics": {"dtype": None},
}


def register_family(family, classes_fn) -> None:
    """Let ``family`` ("layers", "models") resolve through ``classes_fn() -> {class name: class}``."""
    _EXTRA[family] = classes_fn


def _registry(family) -> dict:
    if family in _EXTRA:
        return _EXTRA[family]()
    if family not in _FAMILY_MODULES:
        return {}
    module, base = _FAMILY_MODULES[family]
    return {c.__name__: c for c in vars(module).values()
            if isinstance(c, type) and issubclass(c, base) and c.__module__ == module.__name__
            and not c.__name__.startswith("_")}


def is_object(value) -> bool:
    """True for a dict in Keras's serialized-object form."""
    return isinstance(value, dict) and "class_name" in value and "config" in value


def family_of(module) -> str | None:
    """The family a Keras module string names ("keras.layers" -> "layers"), None when it names none."""
    if module == "keras":
        return "models"
    parts = module.split(".") if isinstance(module, str) else []
    if not parts or parts[0] != "keras":
        return None
    return next((f for f in _FAMILIES if f in parts), None)


def deserialize(value, custom_objects=None, family=None, where="config"):
    """A serialized object back as a fastann object, resolving its ``class_name`` only through fastann's
    registry of ``family`` (from its ``module`` when None) or, for a user's class, through
    ``custom_objects`` ({name: class}, given explicitly); nested objects in its config likewise. Nothing
    from the file is imported or run. ``where`` names the place in the file for the errors.

    Raises ValueError naming ``where`` and what is wrong: a value that is not an object, unknown keys, an
    unknown class, a Python function or lambda, or a config the class refuses."""
    custom_objects = dict(custom_objects or {})
    if not is_object(value):
        raise ValueError(f"{where}: expected a serialized object {{'module', 'class_name', 'config', ...}}, "
                         f"got {_short(value)}")
    extra = set(value) - _OBJECT_KEYS
    if extra:
        raise ValueError(f"{where}: unknown keys {sorted(extra)} in a serialized object")
    name, module, config = value["class_name"], value.get("module"), value["config"]
    registered = value.get("registered_name")
    if not isinstance(name, str) or (module is not None and not isinstance(module, str)) or (
            registered is not None and not isinstance(registered, str)):
        raise ValueError(f"{where}: class_name, module and registered_name must be strings, got "
                         f"{_short(name)}, {_short(module)}, {_short(registered)}")
    if name in ("function", "__lambda__") or (isinstance(module, str) and module.split(".")[0] == "builtins"):
        if name == "function" and family_of(module) in ("losses", "metrics", "activations") and \
                isinstance(config, str) and config.replace("_", "").isalnum():
            return config  # a Keras function by name ("mean_squared_error"): the consumer's get() checks it
        raise ValueError(f"{where}: the file names a Python function or lambda ({module}.{_short(config)}); "
                         f"fastann loads only classes of its registry and never runs code from a file")
    for key in (registered, name):
        if key is not None and key in custom_objects:
            cls = custom_objects[key]
            break
    else:
        fam = family or family_of(module)
        cls = _registry(fam).get(name) if fam else None
        if cls is None or (registered is not None and registered not in (name, f"keras>{name}")):
            raise ValueError(f"{where}: unknown class {module}.{name} (registered_name {registered!r}); fastann "
                             f"resolves only its own {fam or 'known'} classes, others need "
                             f"custom_objects={{'{registered or name}': cls}}")
    if not isinstance(config, dict):
        raise ValueError(f"{where}: the config of {name} must be a dict, got {_short(config)}")
    if getattr(cls, "_RAW_CONFIG", False):  # a model: its from_config reads its layers itself
        try:
            return cls.from_config(config, custom_objects)
        except (TypeError, NotImplementedError) as e:
            raise ValueError(f"{where}: {name}.from_config refused the config: {e}") from None
    config = {k: deserialize_value(v, custom_objects, f"{where}.{k}") for k, v in config.items()}
    for key, default in _KERAS_ONLY_DEFAULTS.get(family or family_of(module), {}).items():
        if key in config and (config[key] == default or (default is _CLASS_NAME
                                                         and config[key] == getattr(cls, "name", None))):
            del config[key]  # a Keras argument at its default, which fastann's constructor does not list
    try:
        return cls.from_config(config)
    except (TypeError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{where}: {name}.from_config refused the config: {e}") from None


def deserialize_value(value, custom_objects=None, where="config"):
    """A config value: nested serialized objects become objects (``deserialize``), lists stay lists,
    everything else is returned as it is (JSON gives only None, bools, numbers, strings, lists, dicts)."""
    if is_object(value):
        if value.get("class_name") == "DTypePolicy" and family_of(value.get("module")) == "models":
            cfg = value.get("config")
            return cfg.get("name") if isinstance(cfg, dict) else cfg  # a dtype name
        return deserialize(value, custom_objects, None, where)
    if isinstance(value, list):
        return [deserialize_value(v, custom_objects, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: deserialize_value(v, custom_objects, f"{where}.{k}") for k, v in value.items()}
    return value


def _short(value, n=80) -> str:
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."
