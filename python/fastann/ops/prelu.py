"""fastann.ops: the prelu family (parametric ReLU, PyTorch semantics).

:mod:`fastann.reference.prelu` holds the math and is the executable spec; the kernels are csrc/cpu/prelu.cpp
and csrc/cuda/prelu.cu.
"""
from __future__ import annotations

from .._args.prelu import prelu_args, prelu_backward_args
from ._common import backend, empty

__all__ = ["prelu", "prelu_backward"]


def prelu(input, weight):
    """The parametric ReLU (He et al. 2015, "Delving Deep into Rectifiers"), as ``torch.nn.functional.prelu``:
    ``y = x if x > 0 else weight[c] * x``, c the channel axis 1 (a 1-D input is one channel).

    Args:
        input: rank >= 1, float32 or float64, C-contiguous, non-empty.
        weight: 1-D, the input's dtype: one value per channel (input.shape[1]) or one shared value.

    Returns:
        the output, the input's shape and dtype.

    Raises:
        TypeError: non-array or non-float arguments, mixed dtypes, mixed NumPy/CuPy.
        ValueError: a 0-D, empty or non-contiguous input; weight not 1-D or not of 1 or C values.
    """
    prelu_args("prelu", input, weight)
    k, xp = backend("prelu", input=input, weight=weight)
    out = empty(xp, input.shape, input.dtype)
    k.prelu_forward(out, input, weight)
    return out


def prelu_backward(grad_output, input, weight):
    """Gradients of :func:`prelu`: ``dx = dy if x > 0 else weight[c] * dy``; ``dweight[c]`` = the sum of
    ``dy * x`` over the channel's values where ``x <= 0`` (over every value for a single shared weight), summed
    in double in a fixed order.

    Args: grad_output and input of one shape, weight as the forward's (one float dtype).
    Returns: (dinput, dweight), dweight of the weight's shape.
    Raises TypeError / ValueError as :func:`prelu` (and for a grad_output of another shape).
    """
    prelu_backward_args("prelu_backward", grad_output, input, weight)
    k, xp = backend("prelu_backward", grad_output=grad_output, input=input, weight=weight)
    dinput = empty(xp, input.shape, input.dtype)
    dweight = empty(xp, weight.shape, weight.dtype)
    k.prelu_backward(dinput, dweight, grad_output, input, weight)
    return dinput, dweight
