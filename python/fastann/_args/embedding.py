"""Argument checks of the embedding family (embedding, embedding_backward), shared by ops and reference."""
from __future__ import annotations

import numbers

import numpy as np

from .common import array, output_size, same_device

INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def check_indices(op, input, num_embeddings):
    """``input``: an int32/int64 array (any shape, C-contiguous, may be empty) whose every value lies in
    [0, num_embeddings). TypeError for a non-array or another dtype; ValueError naming the first index out
    of range (torch.nn.functional.embedding raises IndexError there; fastann's range errors are ValueErrors)."""
    array(op, "input", input, float_only=False, nonempty=False)
    if input.dtype not in INDEX_DTYPES:
        raise TypeError(f"{op}: input must hold int32 or int64 indices, got dtype {input.dtype}")
    if input.size:
        lo, hi = int(input.min()), int(input.max())
        if lo < 0 or hi >= num_embeddings:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{op}: index {bad} is out of range for a table of {num_embeddings} rows "
                             f"(valid: 0 to {num_embeddings - 1})")
    return input


def check_padding_idx(op, padding_idx, num_embeddings):
    """torch's padding_idx: None, or an int in [-num_embeddings, num_embeddings) (negative counts from the
    end); returns None or the row in [0, num_embeddings). ValueError otherwise."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral) or not (
            -num_embeddings <= padding_idx < num_embeddings):
        raise ValueError(f"{op}: padding_idx must be None or an int in [{-num_embeddings}, {num_embeddings}), "
                         f"got {padding_idx!r}")
    return int(padding_idx) % num_embeddings


def check_embedding(op, input, weight, padding_idx=None):
    """Check embedding(input, weight, padding_idx): weight (V, D) float32/float64; returns (V, D, padding row
    or None, output shape input.shape + (D,))."""
    array(op, "weight", weight, ndim=2, layout="(num_embeddings, embedding_dim)", nonempty=False)
    V, D = weight.shape
    check_indices(op, input, V)
    same_device(op, input=input, weight=weight)
    pad = check_padding_idx(op, padding_idx, V)
    shape = output_size(op, tuple(input.shape) + (D,), weight.dtype, gpu=False)
    return V, D, pad, shape


def check_embedding_backward(op, grad_output, input, num_weights, padding_idx=None):
    """Check embedding_backward(grad_output, input, num_weights, padding_idx): grad_output input.shape + (D,)
    float32/float64; num_weights V >= 1; returns (V, D, padding row or None)."""
    if isinstance(num_weights, bool) or not isinstance(num_weights, numbers.Integral) or num_weights < 1:
        raise ValueError(f"{op}: num_weights must be a positive int, got {num_weights!r}")
    V = int(num_weights)
    array(op, "grad_output", grad_output, nonempty=False)
    check_indices(op, input, V)
    if grad_output.ndim != input.ndim + 1 or tuple(grad_output.shape[:-1]) != tuple(input.shape):
        raise ValueError(f"{op}: grad_output must have shape input.shape + (embedding_dim,) = "
                         f"{tuple(input.shape)} + (D,), got {tuple(grad_output.shape)}")
    same_device(op, grad_output=grad_output, input=input)
    pad = check_padding_idx(op, padding_idx, V)
    output_size(op, (V, grad_output.shape[-1]), grad_output.dtype, name="dweight")
    return V, grad_output.shape[-1], pad
