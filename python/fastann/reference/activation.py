"""fastann.reference: the activation family in plain NumPy float64.

Every activation is a pair ``f(x, p)`` / ``df(x, p)`` (the derivative f'(x)) in :data:`ACTIVATIONS`; ``p``
is the one parameter some take (leaky_relu's negative_slope, elu's alpha). The backward is
``grad_output * f'(input)``, computed from the forward's input. NaN in the input gives NaN in the output
and in the gradient. The names and parameters are resolved, and the arrays checked, by
:mod:`fastann._args.activation`, which fastann.ops uses too, so both validate identically.

Sources: ELU Clevert et al. 2015 (arXiv:1511.07289); SELU Klambauer et al. 2017 (arXiv:1706.02515);
SiLU/swish Ramachandran et al. 2017 (arXiv:1710.05941); hard_sigmoid / hard_silu as Keras 3 and PyTorch
(relu6(x+3)/6, Howard et al. 2019, arXiv:1905.02244); GELU Hendrycks & Gimpel 2016 (arXiv:1606.08415);
Mish Misra 2019 (arXiv:1908.08681).
"""
from __future__ import annotations

import math

import numpy as np

from .._args.activation import NAMES, check_backward, check_forward, resolve_activation

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
# NumPy has no erfc; math.erfc elementwise (slow, but this is the spec). GELU's Phi(x) = erfc(-x/sqrt 2)/2,
# not (1 + erf(x/sqrt 2))/2, which cancels to 0 for large negative x.
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _phi_cdf(x):
    return 0.5 * _erfc(-x / math.sqrt(2.0)).astype(np.float64)


def _sigmoid(x):
    e = np.exp(-np.abs(x))  # exp of a non-positive number: no overflow
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_derivative(x):
    e = np.exp(-np.abs(x))
    return e / (1.0 + e) ** 2  # = s (1 - s), without the cancellation in 1 - s


def _sech2(x):
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / (1.0 + e) ** 2  # = 1 - tanh(x)^2, accurate where tanh(x) -> +-1


def _softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)  # np.minimum/maximum propagate NaN


def _gelu_u(x):
    return math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)


#: |x| past which the tanh-GELU derivative is exactly 1 (x > 0) or 0 (x < 0) in float64: returned as such
#: for finite x, where x^3 and x^2 would overflow (0 * inf = NaN); +-inf keep the formula's NaN (PyTorch's).
GELU_TANH_SATURATED = 1e6


def _gelu_tanh_derivative(x):
    with np.errstate(over="ignore", invalid="ignore"):
        d = (_sigmoid(2.0 * _gelu_u(x))
             + 0.5 * x * _sech2(_gelu_u(x)) * math.sqrt(2.0 / math.pi) * (1.0 + 3 * 0.044715 * x * x))
    return np.where((np.abs(x) > GELU_TANH_SATURATED) & np.isfinite(x), (x > 0).astype(np.float64), d)


#: kernel name -> (f(x, p), f'(x, p))
ACTIVATIONS = {
    "linear": (lambda x, p: x, lambda x, p: np.ones_like(x)),
    "relu": (lambda x, p: np.maximum(x, 0.0), lambda x, p: (x > 0).astype(np.float64)),
    "leaky_relu": (lambda x, p: np.where(x < 0, p * x, x), lambda x, p: np.where(x > 0, 1.0, p)),
    "elu": (lambda x, p: np.where(x > 0, x, p * np.expm1(np.minimum(x, 0.0))),
            lambda x, p: np.where(x > 0, 1.0, p * np.exp(np.minimum(x, 0.0)))),
    "selu": (lambda x, p: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
             lambda x, p: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0.0)))),
    "sigmoid": (lambda x, p: _sigmoid(x), lambda x, p: _sigmoid_derivative(x)),
    "hard_sigmoid": (lambda x, p: _clip(x + 3.0, 0.0, 6.0) / 6.0,
                     lambda x, p: np.where((x > -3) & (x < 3), 1.0 / 6.0, 0.0)),
    "tanh": (lambda x, p: np.tanh(x), lambda x, p: _sech2(x)),
    "softplus": (lambda x, p: _softplus(x), lambda x, p: _sigmoid(x)),
    "softsign": (lambda x, p: x / (1.0 + np.abs(x)), lambda x, p: 1.0 / (1.0 + np.abs(x)) ** 2),
    "relu6": (lambda x, p: _clip(x, 0.0, 6.0), lambda x, p: ((x > 0) & (x < 6)).astype(np.float64)),
    "silu": (lambda x, p: x * _sigmoid(x),
             lambda x, p: _sigmoid(x) + x * _sigmoid_derivative(x)),
    "hard_silu": (lambda x, p: x * _clip(x + 3.0, 0.0, 6.0) / 6.0,
                  lambda x, p: np.where(x < -3, 0.0, np.where(x > 3, 1.0, (2.0 * x + 3.0) / 6.0))),
    "gelu": (lambda x, p: x * _phi_cdf(x),
             lambda x, p: _phi_cdf(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)),
    # x/2 (1 + tanh u) written x sigmoid(2u), which does not cancel for large negative x
    "gelu_tanh": (lambda x, p: x * _sigmoid(2.0 * _gelu_u(x)), lambda x, p: _gelu_tanh_derivative(x)),
    "mish": (lambda x, p: x * np.tanh(_softplus(x)),
             lambda x, p: np.tanh(_softplus(x))
             + x * _sech2(_softplus(x)) * _sigmoid(x)),
    "exponential": (lambda x, p: np.exp(x), lambda x, p: np.exp(x)),
}

def _param_as_kernel_sees_it(p, input):
    """The parameter (alpha, negative_slope) rounded to the input's dtype, as the kernels (and PyTorch) use
    it: a float64 alpha below float32's range is 0 for float32 input, so 0 * inf is NaN there too."""
    return float(np.asarray(p, dtype=input.dtype)) if input.dtype == np.float32 else float(p)


def activation(name, input, **params):
    """f(input) elementwise in float64 for the activation ``name`` (see :data:`NAMES`); any shape."""
    kernel, p = resolve_activation("activation", name, params)
    check_forward("activation", input)
    p = _param_as_kernel_sees_it(p, input)
    x = np.asarray(input, dtype=np.float64)
    return np.asarray(ACTIVATIONS[kernel][0](x, p), dtype=np.float64)


def activation_backward(name, grad_output, input, **params):
    """grad_output * f'(input) in float64 (NaN where input is NaN); both arrays of one shape."""
    kernel, p = resolve_activation("activation_backward", name, params)
    check_backward("activation_backward", grad_output, input)
    p = _param_as_kernel_sees_it(p, input)
    x = np.asarray(input, dtype=np.float64)
    g = np.asarray(grad_output, dtype=np.float64) * ACTIVATIONS[kernel][1](x, p)
    return np.where(np.isnan(x), x, g)


def _named(public):
    def forward(input, **params):
        return activation(public, input, **params)

    def backward(grad_output, input, **params):
        return activation_backward(public, grad_output, input, **params)

    forward.__name__, backward.__name__ = public, public + "_backward"
    forward.__doc__ = f"{public}(input) in float64 (reference)."
    backward.__doc__ = f"Gradient of {public} w.r.t. input, from the input (reference)."
    return forward, backward


PUBLIC = [n for n in NAMES if n != "linear"]  # ops.linear is the dense layer (gemm family)
__all__ = ["activation", "activation_backward"]
for _n in PUBLIC:
    globals()[_n], globals()[_n + "_backward"] = _named(_n)
    __all__ += [_n, _n + "_backward"]
del _n
