"""fastann.reference: the embedding lookup and its backward in NumPy float64.

A table weight (V, D) and integer indices of any shape: the lookup gathers rows (Bengio et al. 2003's table of
word features; torch.nn.functional.embedding), out = weight[input] of shape input.shape + (D,). Its gradient
with respect to the table adds each output-gradient row into the row its index names (np.add.at: a repeated
index accumulates); the row padding_idx gets no gradient, as in torch.
"""
from __future__ import annotations

import numpy as np

from .._args.embedding import check_embedding, check_embedding_backward

__all__ = ["embedding", "embedding_backward"]


def embedding(input, weight, padding_idx=None):
    """out = weight[input] in float64, shape input.shape + (D,). Errors: see fastann.ops.embedding."""
    check_embedding("embedding", input, weight, padding_idx)
    return np.asarray(weight, np.float64)[np.asarray(input, np.int64)]


def embedding_backward(grad_output, input, num_weights, padding_idx=None):
    """dweight (num_weights, D) float64: sum of grad_output's rows per index; row padding_idx is zero."""
    V, D, pad = check_embedding_backward("embedding_backward", grad_output, input, num_weights, padding_idx)
    dw = np.zeros((V, D), np.float64)
    np.add.at(dw, np.asarray(input, np.int64).reshape(-1), np.asarray(grad_output, np.float64).reshape(-1, D))
    if pad is not None:
        dw[pad] = 0.0
    return dw
