"""fastann.ops: elementwise activation functions, forward and backward.

Each activation ``f`` has ``f(input, ...)`` and ``f_backward(grad_output, input, ...)``; the backward is the
gradient w.r.t. the input, ``grad_output * f'(input)``, computed from the forward's INPUT (a layer keeps
its input). The generic ``activation(name, input, **params)`` / ``activation_backward(name, grad_output,
input, **params)`` take any name of :data:`fastann._args.activation.NAMES` (aliases: identity=linear,
swish=silu, hard_swish=hard_silu). The identity has the named function ``identity`` only:
``fastann.ops.linear`` is the dense layer ``x @ W.T + b`` (gemm family).

Arrays: float32 or float64 NumPy (CPU kernel) or CuPy (CUDA kernel) arrays of any shape, C-contiguous and
non-empty; the output has the input's shape and dtype. Raises TypeError for a non-array or a dtype other
than float32/float64 (or two arrays of different dtypes), ValueError for an empty or non-contiguous array,
mismatched shapes, an unknown name (listing the valid ones) or a bad parameter. NaN in the input gives NaN
in the output and in the gradient. Math sources: see fastann.reference.activation and docs/activations.md.
"""
from __future__ import annotations

import numpy as np

from .. import _backend
from .._args.activation import check_backward, check_forward, resolve_activation
from ._common import backend, empty

# Plain NumPy arrays take a short path straight into fastann._cpu, which checks dtype, shape, contiguity
# and emptiness itself; only when it refuses do the Python checks run, to raise their friendlier message
# (naming this op). A layer calls these twice per step, so the ~5 us of Python checks matter.


def _checked_forward(op, input):
    check_forward(op, input)
    return backend(op, input=input)


def _forward(op, kernel, p, input):
    if type(input) is np.ndarray and input.dtype.kind == "f":
        out = empty(np, input.shape, input.dtype)
        try:
            _backend.cpu.activation_forward(out, input, kernel, p)
        except (TypeError, ValueError):
            _checked_forward(op, input)
            raise
        return out
    k, xp = _checked_forward(op, input)
    out = empty(xp, input.shape, input.dtype)
    k.activation_forward(out, input, kernel, p)
    return out


def _backward(op, kernel, p, grad_output, input):
    if type(input) is np.ndarray and type(grad_output) is np.ndarray and input.dtype.kind == "f":
        dinput = empty(np, input.shape, input.dtype)
        try:
            _backend.cpu.activation_backward(dinput, grad_output, input, kernel, p)
        except (TypeError, ValueError):
            _checked_backward(op, grad_output, input)
            raise
        return dinput
    k, xp = _checked_backward(op, grad_output, input)
    dinput = empty(xp, input.shape, input.dtype)
    k.activation_backward(dinput, grad_output, input, kernel, p)
    return dinput


def _checked_backward(op, grad_output, input):
    check_backward(op, grad_output, input)
    return backend(op, grad_output=grad_output, input=input)


def activation(name, input, **params):
    """Apply the activation ``name`` elementwise: ``out = f(input)``.

    name: "linear"/"identity", "relu", "leaky_relu" (negative_slope=0.01), "elu" (alpha=1.0), "selu",
    "sigmoid", "hard_sigmoid", "tanh", "softplus", "softsign", "relu6", "silu"/"swish",
    "hard_silu"/"hard_swish", "gelu" (approximate="none"|"tanh"), "mish", "exponential".
    input: float32/float64 array, any shape. Returns an array of input's shape and dtype.
    Raises TypeError (dtype, unexpected keyword), ValueError (unknown name, shape, contiguity, empty).
    """
    kernel, p = resolve_activation("activation", name, params)
    return _forward("activation", kernel, p, input)


def activation_backward(name, grad_output, input, **params):
    """Gradient of ``activation(name, input, **params)`` w.r.t. input: ``grad_output * f'(input)``.

    grad_output and input: float32/float64 arrays of one shape and dtype. Returns dinput (same shape).
    NaN where input is NaN. Raises as :func:`activation`, and ValueError when the shapes differ.
    """
    kernel, p = resolve_activation("activation_backward", name, params)
    return _backward("activation_backward", kernel, p, grad_output, input)


def identity(input):
    """identity: ``out = x (the 'linear' activation; ops.linear is the dense layer)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: the identity map. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('identity', "identity", {})
    return _forward("identity", kernel, p, input)


def identity_backward(grad_output, input):
    """Gradient of :func:`identity` w.r.t. input: ``grad_output * f'(input)``, f'(x) = 1.

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('identity_backward', "identity", {})
    return _backward("identity_backward", kernel, p, grad_output, input)


def relu(input):
    """relu: ``out = max(x, 0)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Nair & Hinton 2010. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('relu', "relu", {})
    return _forward("relu", kernel, p, input)


def relu_backward(grad_output, input):
    """Gradient of :func:`relu` w.r.t. input: ``grad_output * f'(input)``, f'(x) = 1 where x > 0, else 0.

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('relu_backward', "relu", {})
    return _backward("relu_backward", kernel, p, grad_output, input)


def selu(input):
    """selu: ``out = scale * (x if x > 0 else alpha * (exp(x) - 1)), alpha=1.6732632, scale=1.0507010`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Klambauer et al. 2017, arXiv:1706.02515. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('selu', "selu", {})
    return _forward("selu", kernel, p, input)


def selu_backward(grad_output, input):
    """Gradient of :func:`selu` w.r.t. input: ``grad_output * f'(input)``, f'(x) = scale (1 or alpha exp(x)).

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('selu_backward', "selu", {})
    return _backward("selu_backward", kernel, p, grad_output, input)


def sigmoid(input):
    """sigmoid: ``out = 1 / (1 + exp(-x)), computed without overflow`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: logistic function. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('sigmoid', "sigmoid", {})
    return _forward("sigmoid", kernel, p, input)


def sigmoid_backward(grad_output, input):
    """Gradient of :func:`sigmoid` w.r.t. input: ``grad_output * f'(input)``, f'(x) = s (1 - s).

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('sigmoid_backward', "sigmoid", {})
    return _backward("sigmoid_backward", kernel, p, grad_output, input)


def hard_sigmoid(input):
    """hard_sigmoid: ``out = relu6(x + 3) / 6 (Keras 3, PyTorch)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Howard et al. 2019, arXiv:1905.02244. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('hard_sigmoid', "hard_sigmoid", {})
    return _forward("hard_sigmoid", kernel, p, input)


def hard_sigmoid_backward(grad_output, input):
    """Gradient of :func:`hard_sigmoid` w.r.t. input: ``grad_output * f'(input)``, f'(x) = 1/6 on (-3, 3), else 0.

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('hard_sigmoid_backward', "hard_sigmoid", {})
    return _backward("hard_sigmoid_backward", kernel, p, grad_output, input)


def tanh(input):
    """tanh: ``out = tanh(x)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: standard. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('tanh', "tanh", {})
    return _forward("tanh", kernel, p, input)


def tanh_backward(grad_output, input):
    """Gradient of :func:`tanh` w.r.t. input: ``grad_output * f'(input)``, f'(x) = 1 - tanh(x)^2.

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('tanh_backward', "tanh", {})
    return _backward("tanh_backward", kernel, p, grad_output, input)


def softplus(input):
    """softplus: ``out = log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)) (no overflow)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Dugas et al. 2001. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('softplus', "softplus", {})
    return _forward("softplus", kernel, p, input)


def softplus_backward(grad_output, input):
    """Gradient of :func:`softplus` w.r.t. input: ``grad_output * f'(input)``, f'(x) = sigmoid(x).

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('softplus_backward', "softplus", {})
    return _backward("softplus_backward", kernel, p, grad_output, input)


def softsign(input):
    """softsign: ``out = x / (1 + |x|)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Bergstra et al. 2009. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('softsign', "softsign", {})
    return _forward("softsign", kernel, p, input)


def softsign_backward(grad_output, input):
    """Gradient of :func:`softsign` w.r.t. input: ``grad_output * f'(input)``, f'(x) = 1 / (1 + |x|)^2.

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('softsign_backward', "softsign", {})
    return _backward("softsign_backward", kernel, p, grad_output, input)


def relu6(input):
    """relu6: ``out = min(max(x, 0), 6)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Krizhevsky 2010. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('relu6', "relu6", {})
    return _forward("relu6", kernel, p, input)


def relu6_backward(grad_output, input):
    """Gradient of :func:`relu6` w.r.t. input: ``grad_output * f'(input)``, f'(x) = 1 on (0, 6), else 0.

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('relu6_backward', "relu6", {})
    return _backward("relu6_backward", kernel, p, grad_output, input)


def silu(input):
    """silu: ``out = x * sigmoid(x) (swish)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Ramachandran et al. 2017, arXiv:1710.05941; Elfwing et al. 2018. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('silu', "silu", {})
    return _forward("silu", kernel, p, input)


def silu_backward(grad_output, input):
    """Gradient of :func:`silu` w.r.t. input: ``grad_output * f'(input)``, f'(x) = s (1 + x (1 - s)).

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('silu_backward', "silu", {})
    return _backward("silu_backward", kernel, p, grad_output, input)


def swish(input):
    """swish: ``out = alias of silu: x * sigmoid(x)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Ramachandran et al. 2017, arXiv:1710.05941. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('swish', "swish", {})
    return _forward("swish", kernel, p, input)


def swish_backward(grad_output, input):
    """Gradient of :func:`swish` w.r.t. input: ``grad_output * f'(input)``, f'(x) = s (1 + x (1 - s)).

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('swish_backward', "swish", {})
    return _backward("swish_backward", kernel, p, grad_output, input)


def hard_silu(input):
    """hard_silu: ``out = x * relu6(x + 3) / 6 (hard_swish)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Howard et al. 2019, arXiv:1905.02244. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('hard_silu', "hard_silu", {})
    return _forward("hard_silu", kernel, p, input)


def hard_silu_backward(grad_output, input):
    """Gradient of :func:`hard_silu` w.r.t. input: ``grad_output * f'(input)``, f'(x) = 0 below -3, 1 above 3, (2x + 3)/6 between.

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('hard_silu_backward', "hard_silu", {})
    return _backward("hard_silu_backward", kernel, p, grad_output, input)


def hard_swish(input):
    """hard_swish: ``out = alias of hard_silu: x * relu6(x + 3) / 6`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Howard et al. 2019, arXiv:1905.02244. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('hard_swish', "hard_swish", {})
    return _forward("hard_swish", kernel, p, input)


def hard_swish_backward(grad_output, input):
    """Gradient of :func:`hard_swish` w.r.t. input: ``grad_output * f'(input)``, f'(x) = 0 below -3, 1 above 3, (2x + 3)/6 between.

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('hard_swish_backward', "hard_swish", {})
    return _backward("hard_swish_backward", kernel, p, grad_output, input)


def mish(input):
    """mish: ``out = x * tanh(softplus(x))`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Misra 2019, arXiv:1908.08681. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('mish', "mish", {})
    return _forward("mish", kernel, p, input)


def mish_backward(grad_output, input):
    """Gradient of :func:`mish` w.r.t. input: ``grad_output * f'(input)``, f'(x) = tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x).

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('mish_backward', "mish", {})
    return _backward("mish_backward", kernel, p, grad_output, input)


def exponential(input):
    """exponential: ``out = exp(x)`` elementwise.

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: standard. Raises TypeError (dtype) / ValueError (empty, non-contiguous).
    """
    kernel, p = resolve_activation('exponential', "exponential", {})
    return _forward("exponential", kernel, p, input)


def exponential_backward(grad_output, input):
    """Gradient of :func:`exponential` w.r.t. input: ``grad_output * f'(input)``, f'(x) = exp(x).

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('exponential_backward', "exponential", {})
    return _backward("exponential_backward", kernel, p, grad_output, input)


def leaky_relu(input, negative_slope=0.01):
    """leaky_relu: ``out = x if x > 0 else negative_slope * x`` elementwise.

    negative_slope: float, the slope for x < 0 (default 0.01, as torch.nn.functional).

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Maas et al. 2013. Raises TypeError (dtype) / ValueError (empty, non-contiguous, bad parameter).
    """
    kernel, p = resolve_activation('leaky_relu', "leaky_relu", {"negative_slope": negative_slope})
    return _forward("leaky_relu", kernel, p, input)


def leaky_relu_backward(grad_output, input, negative_slope=0.01):
    """Gradient of :func:`leaky_relu` w.r.t. input: ``grad_output * f'(input)``, f'(x) = 1 if x > 0 else negative_slope.

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('leaky_relu_backward', "leaky_relu", {"negative_slope": negative_slope})
    return _backward("leaky_relu_backward", kernel, p, grad_output, input)


def elu(input, alpha=1.0):
    """elu: ``out = x if x > 0 else alpha * (exp(x) - 1)`` elementwise.

    alpha: float, the value ELU saturates to (-alpha) for x -> -inf (default 1.0).

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Clevert et al. 2015, arXiv:1511.07289. Raises TypeError (dtype) / ValueError (empty, non-contiguous, bad parameter).
    """
    kernel, p = resolve_activation('elu', "elu", {"alpha": alpha})
    return _forward("elu", kernel, p, input)


def elu_backward(grad_output, input, alpha=1.0):
    """Gradient of :func:`elu` w.r.t. input: ``grad_output * f'(input)``, f'(x) = 1 if x > 0 else alpha * exp(x).

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('elu_backward', "elu", {"alpha": alpha})
    return _backward("elu_backward", kernel, p, grad_output, input)


def gelu(input, approximate="none"):
    """gelu: ``out = x * Phi(x) = x/2 (1 + erf(x / sqrt 2))`` elementwise.

    approximate: "none" (exact, erf) or "tanh": x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    input: float32/float64 array of any shape; returns an array of its shape and dtype.
    Source: Hendrycks & Gimpel 2016, arXiv:1606.08415. Raises TypeError (dtype) / ValueError (empty, non-contiguous, bad parameter).
    """
    kernel, p = resolve_activation('gelu', "gelu", {"approximate": approximate})
    return _forward("gelu", kernel, p, input)


def gelu_backward(grad_output, input, approximate="none"):
    """Gradient of :func:`gelu` w.r.t. input: ``grad_output * f'(input)``, f'(x) = Phi(x) + x phi(x) (exact); the derivative of the tanh form for approximate='tanh'.

    grad_output, input: float32/float64 arrays of one shape and dtype; returns dinput of that shape
    (NaN where input is NaN). Raises TypeError (dtype) / ValueError (shapes differ, empty, non-contiguous).
    """
    kernel, p = resolve_activation('gelu_backward', "gelu", {"approximate": approximate})
    return _backward("gelu_backward", kernel, p, grad_output, input)


__all__ = ['activation', 'activation_backward', 'identity', 'identity_backward', 'relu', 'relu_backward', 'selu', 'selu_backward', 'sigmoid', 'sigmoid_backward', 'hard_sigmoid', 'hard_sigmoid_backward', 'tanh', 'tanh_backward', 'softplus', 'softplus_backward', 'softsign', 'softsign_backward', 'relu6', 'relu6_backward', 'silu', 'silu_backward', 'swish', 'swish_backward', 'hard_silu', 'hard_silu_backward', 'hard_swish', 'hard_swish_backward', 'mish', 'mish_backward', 'exponential', 'exponential_backward', 'leaky_relu', 'leaky_relu_backward', 'elu', 'elu_backward', 'gelu', 'gelu_backward']
