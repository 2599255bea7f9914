"""fastann.reference: inverted dropout with a counter-based mask, in NumPy (uint64 arithmetic, float64 out).

Inverted dropout (Srivastava et al. 2014; the form torch.nn.functional.dropout and Keras use): each element
is kept with probability 1 - p and scaled by 1 / (1 - p), so the expected output equals the input and
inference needs no rescaling. The mask is not stored: it is a function of (seed, flat element index i):

    key     = mix(seed + GAMMA)
    bits(i) = mix(key + (i + 1) * GAMMA)           (the i-th output of a SplitMix64 stream)
    keep(i) = (bits(i) >> 32) >= ceil(p * 2^32)

with SplitMix64's mixer ``mix`` (Steele, Lea & Flood 2014; Vigna's splitmix64.c constants), all arithmetic
modulo 2^64. The compiled kernels (CPU and CUDA) compute exactly these integers, so every backend draws
the same mask for the same seed, and the backward regenerates the forward's mask.
"""
from __future__ import annotations

import math

import numpy as np

from .._args.dropout import check_dropout

__all__ = ["dropout", "dropout_backward", "dropout_mask", "dropout_bits"]

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(z):
    """SplitMix64's output mixer on uint64 values (wrapping arithmetic, as in C)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def dropout_bits(seed, i):
    """The 64 random bits of flat element i under seed (Python ints in, a Python int out)."""
    with np.errstate(over="ignore"):
        key = mix(np.uint64(seed) + GAMMA)
        return int(mix(key + np.uint64(i + 1) * GAMMA))


def dropout_mask(shape, p, seed):
    """Boolean keep-mask of ``shape`` for (p, seed), element i = flat C-order index."""
    with np.errstate(over="ignore"):
        key = mix(np.uint64(seed) + GAMMA)
        i = np.arange(1, math.prod(shape) + 1, dtype=np.uint64)
        bits = mix(key + i * GAMMA)
    threshold = np.uint64(math.ceil(p * 2.0**32))
    return ((bits >> np.uint64(32)) >= threshold).reshape(shape)


def dropout(input, p=0.5, training=True, seed=0):
    """Inverted dropout of ``input`` (float, any shape): x * keep / (1 - p); a copy when not training or p = 0."""
    p, seed = check_dropout("dropout", "input", input, p, seed)
    x = np.asarray(input, np.float64)
    if not training or p == 0.0:
        return x.copy()
    return x * (dropout_mask(x.shape, p, seed) / (1.0 - p))


def dropout_backward(grad_output, p=0.5, seed=0):
    """Gradient of :func:`dropout` (training) w.r.t. its input: grad_output * keep / (1 - p), same mask."""
    p, seed = check_dropout("dropout_backward", "grad_output", grad_output, p, seed)
    g = np.asarray(grad_output, np.float64)
    if p == 0.0:
        return g.copy()
    return g * (dropout_mask(g.shape, p, seed) / (1.0 - p))
