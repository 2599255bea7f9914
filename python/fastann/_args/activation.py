"""Argument checks of the activation family, shared by ops and reference.

:data:`NAMES` maps every public activation name to its kernel name and keyword parameters;
:func:`resolve_activation` is the one place that turns a name and keyword parameters into the kernel name
and its parameter, so fastann.ops and fastann.reference validate identically.
"""
from __future__ import annotations

import math

from .common import array, real, same_device, same_dtype

#: public name -> (kernel name, {keyword parameter: default}); a parameter named here becomes `p`.
NAMES = {
    "linear": ("linear", {}), "identity": ("linear", {}),
    "relu": ("relu", {}),
    "leaky_relu": ("leaky_relu", {"negative_slope": 0.01}),
    "elu": ("elu", {"alpha": 1.0}),
    "selu": ("selu", {}),
    "sigmoid": ("sigmoid", {}),
    "hard_sigmoid": ("hard_sigmoid", {}),
    "tanh": ("tanh", {}),
    "softplus": ("softplus", {}),
    "softsign": ("softsign", {}),
    "relu6": ("relu6", {}),
    "silu": ("silu", {}), "swish": ("silu", {}),
    "hard_silu": ("hard_silu", {}), "hard_swish": ("hard_silu", {}),
    "gelu": ("gelu", {"approximate": "none"}),
    "mish": ("mish", {}),
    "exponential": ("exponential", {}),
}


def resolve_activation(op: str, name, params: dict) -> tuple[str, float]:
    """Map an activation name and its keyword parameters to ``(kernel name, param)``.

    Raises TypeError for a non-string name or an unexpected keyword (as Python does for a function call),
    ValueError for an unknown name (listing the valid ones), a non-finite numeric parameter, or a gelu
    ``approximate`` other than "none" / "tanh".
    """
    if not isinstance(name, str):
        raise TypeError(f"{op}: activation name must be a string, got {type(name).__name__}")
    if name not in NAMES:
        raise ValueError(f"{op}: unknown activation {name!r}; valid names: {', '.join(NAMES)}")
    kernel, defaults = NAMES[name]
    extra = set(params) - set(defaults)
    if extra:
        raise TypeError(f"{op}: activation {name!r} got unexpected parameter(s) {sorted(extra)}; "
                        f"it takes {sorted(defaults) or 'none'}")
    p = 0.0
    for key, default in defaults.items():
        v = params.get(key, default)
        if key == "approximate":
            if v not in ("none", "tanh"):
                raise ValueError(f"{op}: gelu approximate must be 'none' or 'tanh', got {v!r}")
            kernel = "gelu_tanh" if v == "tanh" else "gelu"
        else:
            p = real(op, key, v)
            if not math.isfinite(p):
                raise ValueError(f"{op}: {key} must be finite, got {v!r}")
    return kernel, p


def check_forward(op, input):
    """input: a non-empty C-contiguous float array of any shape."""
    array(op, "input", input)


def check_backward(op, grad_output, input):
    """grad_output and input: float arrays of one shape, dtype and device."""
    array(op, "grad_output", grad_output)
    array(op, "input", input)
    same_dtype(op, grad_output=grad_output, input=input)
    same_device(op, grad_output=grad_output, input=input)
    if grad_output.shape != input.shape:
        raise ValueError(f"{op}: grad_output shape {tuple(grad_output.shape)} != input shape "
                         f"{tuple(input.shape)}")


__all__ = ["NAMES", "check_backward", "check_forward", "resolve_activation"]
