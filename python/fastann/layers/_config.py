"""Layer configs in Keras's schema: the work behind ``Layer.get_config`` / ``Layer.from_config``.

A layer's config is the arguments its constructor was called with (recorded by ``Layer.__init_subclass__``,
see ``fastann._config_args``), the defaults filled in, written as Keras writes them: initializer names as
serialized initializers, the resolved ``data_format`` and ``strides``, ``"linear"`` for no activation, the
per-weight regularizers and constraints, a serialized ``DTypePolicy``; fastann's own arguments are left out
at their defaults so Keras reads the config. The way back drops the Keras-only keys left at their defaults
and resolves serialized objects through fastann's registry only. Shared by every layer family (it imports
no layer module).
"""
from __future__ import annotations

from .. import _serialize, initializers
from .._config_args import init_config

__all__ = ["layer_config", "layer_from_config", "layer_classes"]

#: fastann's own layer arguments (Keras has none of that name) with their defaults: ``get_config`` leaves
#: them out at that value.
_FASTANN_ONLY_DEFAULTS = {"padding_mode": "zeros"}

#: Keras 3 layer-config keys that fastann's constructors do not take, with the value that asks for nothing;
#: ``Layer.from_config`` drops them at that value (any other value reaches the constructor, which refuses it).
_KERAS_ONLY_DEFAULTS = {"quantization_config": None, "lora_rank": None, "lora_alpha": None, "synchronized": False,
                        "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99, "noise_shape": None,
                        "optional": False}


def layer_config(layer) -> dict:
    """``layer.get_config()`` (see the module)."""
    recorded = layer.__dict__.get("_init_args")
    own = set(recorded[0].parameters) if recorded else set()
    # input_dim is Embedding's vocabulary size, not the base layer's shape shortcut, when the class names it
    args = init_config(layer, skip=[k for k in layer._CONFIG_SKIP if not (k == "input_dim" and k in own)])
    for key, default in _FASTANN_ONLY_DEFAULTS.items():
        if key in args and args[key] == default:
            del args[key]  # fastann's own argument at its default: left out, so Keras reads the config
    for key, value in list(args.items()):
        if key.endswith("_initializer") and isinstance(value, str):
            try:
                args[key] = initializers.get(value)
            except ValueError:
                pass  # a name the layer resolves itself (Embedding's "uniform"); Keras reads the name
    for key in ("data_format", "strides"):
        if key in args and args[key] is None and getattr(layer, key, None) is not None:
            args[key] = getattr(layer, key)  # the resolved value, as Keras writes it
    for key in ("activation", "recurrent_activation"):
        if key in args and args[key] is None:
            args[key] = "linear"  # Keras's name for "no activation"
    for reg_key, con_key in layer._WEIGHT_ARGS.values():
        args[reg_key], args[con_key] = getattr(layer, reg_key), getattr(layer, con_key)
    if layer.activity_regularizer is not None or "activity_regularizer" in args:
        args["activity_regularizer"] = layer.activity_regularizer
    config = {"name": layer.name, "trainable": layer.trainable, "dtype": _serialize.dtype_policy(layer.dtype)}
    config = {k: v for k, v in config.items() if k in layer._CONFIG_BASE_KEYS}
    config.update(_serialize.serialize(args))
    return config


def layer_from_config(cls, config):
    """``cls.from_config(config)`` (see the module)."""
    if not isinstance(config, dict):
        raise TypeError(f"{cls.__name__}.from_config: config must be a dict, got {type(config).__name__}")
    config = {k: _serialize.deserialize_value(v, where=f"{cls.__name__}.{k}") for k, v in config.items()}
    for key, default in _KERAS_ONLY_DEFAULTS.items():
        if key in config and config[key] == default:
            del config[key]  # a Keras argument at its default, which fastann's constructors do not list
    dtype = config.pop("dtype", None)
    if dtype is not None and (not isinstance(dtype, str) or dtype not in ("float32", "float64")):
        raise ValueError(f"{cls.__name__}.from_config: dtype must be float32 or float64, got {dtype!r}")
    return cls(**config)


def layer_classes(base) -> dict:
    """fastann's layer classes by name: every subclass of ``base`` defined in ``fastann.layers``."""
    found, todo = {}, [base]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("fastann.layers.") and not cls.__name__.startswith("_"):
            found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found
