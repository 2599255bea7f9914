"""fastann.ops: inverted dropout with a reproducible, unstored mask.

``dropout(input, p=0.5, training=True, seed=0)`` keeps each element with probability 1 - p and scales the
kept ones by 1 / (1 - p) (Srivastava et al. 2014, inverted form as torch.nn.functional.dropout / Keras).
The mask is a counter-based hash of (seed, flat element index): SplitMix64 (see
:mod:`fastann.reference.dropout` for the exact integers), so it is not stored, ``dropout_backward`` with
the same (p, seed) regenerates it, the result does not depend on the thread count, and the CPU and CUDA
kernels draw identical masks. Use a new seed per training step (e.g. base seed + step) for fresh masks.

Arrays: float32/float64 NumPy or CuPy, any shape, C-contiguous, non-empty. p in [0, 1) (ValueError
otherwise); seed an int in [0, 2^64). ``training=False`` or ``p == 0`` returns a copy of the input.
NaN in the input stays NaN in the output (dropped elements are multiplied by 0, as in PyTorch).
"""
from __future__ import annotations

from .._args.dropout import check_dropout
from ._common import backend, empty

__all__ = ["dropout", "dropout_backward"]


def dropout(input, p=0.5, training=True, seed=0):
    """Inverted dropout: ``input * keep / (1 - p)`` with keep ~ Bernoulli(1 - p) drawn from (seed, index).

    input: float32/float64 array of any shape; returns a new array of its shape and dtype (a copy when
    training is False or p == 0). Raises TypeError (dtype), ValueError (p outside [0, 1), bad seed,
    empty or non-contiguous input).
    """
    p, seed = check_dropout("dropout", "input", input, p, seed)
    k, xp = backend("dropout", input=input)
    if not training or p == 0.0:
        return input.copy()
    out = empty(xp, input.shape, input.dtype)
    k.dropout_forward(out, input, p, seed)
    return out


def dropout_backward(grad_output, p=0.5, seed=0):
    """Gradient of :func:`dropout` (training mode) w.r.t. its input: ``grad_output * keep / (1 - p)`` with
    the mask the forward drew for the same (p, seed). Returns an array of grad_output's shape and dtype."""
    p, seed = check_dropout("dropout_backward", "grad_output", grad_output, p, seed)
    k, xp = backend("dropout_backward", grad_output=grad_output)
    if p == 0.0:
        return grad_output.copy()
    dinput = empty(xp, grad_output.shape, grad_output.dtype)
    k.dropout_backward(dinput, grad_output, p, seed)
    return dinput
