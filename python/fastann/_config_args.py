"""Configs from constructor arguments: the generic half of ``get_config`` / ``from_config``.

A Keras object's config is the keyword arguments that rebuild it (``cls(**config)``). fastann records them
where the object is made: :func:`record_init` wraps a class's ``__init__`` so that the outermost call stores
``(signature, args, kwargs)`` on the instance (``_init_args``), and :func:`init_config` binds them back to
the parameter names, with the signature's defaults for the arguments not given. :func:`attribute_config`
serves the classes whose attributes carry their arguments' names (initializers, optimizers, losses, ...).
This module imports nothing of fastann, so every module may use it.
"""
from __future__ import annotations

import functools
import inspect

__all__ = ["record_init", "init_config", "attribute_config"]


def record_init(cls) -> None:
    """Wrap ``cls.__init__`` (when ``cls`` defines one) to record the outermost constructor call's
    arguments on the instance as ``_init_args`` (a subclass calling ``super().__init__`` does not
    overwrite them)."""
    init = cls.__dict__.get("__init__")
    if init is None or getattr(init, "_records_args", False):
        return
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):  # noqa: N807
        if "_init_args" not in self.__dict__:
            self.__dict__["_init_args"] = (signature, args, dict(kwargs))
        init(self, *args, **kwargs)

    __init__._records_args = True
    cls.__init__ = __init__


def init_config(obj, skip=()) -> dict:
    """The recorded constructor arguments of ``obj`` by name, the signature's defaults filled in for the
    named parameters not given, ``**kwargs`` entries as given; names in ``skip`` left out. {} when nothing
    was recorded."""
    recorded = obj.__dict__.get("_init_args")
    if recorded is None:
        return {}
    signature, args, kwargs = recorded
    bound = signature.bind_partial(obj, *args, **kwargs)
    bound.apply_defaults()
    config = {}
    for name, value in list(bound.arguments.items())[1:]:  # [0] is self
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            config.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            config[name] = value
    return {k: v for k, v in config.items() if k not in skip}


def attribute_config(obj, rename=None) -> dict:
    """``{name: getattr(obj, name)}`` for each named parameter of ``type(obj).__init__`` that ``obj`` has as
    an attribute (``rename`` maps a parameter to another attribute name)."""
    rename = rename or {}
    config = {}
    for name, p in inspect.signature(type(obj).__init__).parameters.items():
        if name == "self" or p.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        attr = rename.get(name, name)
        if hasattr(obj, attr):
            config[name] = getattr(obj, attr)
    return config
