"""fastann.ops: the embedding lookup (torch.nn.functional.embedding) and its backward, on the kernels of
csrc/cpu/embedding.cpp and csrc/cuda/embedding.cu (a row gather and a deterministic scatter-add; the GPU's
gives the CPU's bits).

weight (num_embeddings V, embedding_dim D) float32/float64; input: int32/int64 indices of any shape, each in
[0, V). The math is specified in :mod:`fastann.reference.embedding`.
"""
from __future__ import annotations

from .._args.embedding import check_embedding, check_embedding_backward
from ._common import backend, empty

__all__ = ["embedding", "embedding_backward"]


def embedding(input, weight, padding_idx=None):
    """out = weight[input], shape input.shape + (D,), weight's dtype (torch.nn.functional.embedding(input,
    weight, padding_idx)). padding_idx (None, or an int in [-V, V)) only marks the row that
    :func:`embedding_backward` gives no gradient; the lookup itself reads that row like any other.

    Raises TypeError (non-array, indices not int32/int64, weight not float32/float64, mixed devices) and
    ValueError (weight not 2-D, a non-contiguous array, an index outside [0, V) naming it, a bad padding_idx);
    the compiled kernel checks the indices again before reading the table. NaN in the table is copied as is.
    """
    V, D, _pad, shape = check_embedding("embedding", input, weight, padding_idx)
    k, xp = backend("embedding", input=input, weight=weight)
    if not hasattr(k, "embedding_forward"):
        raise NotImplementedError("embedding: the embedding kernels exist for the CPU only (NumPy arrays)")
    out = empty(xp, shape, weight.dtype)
    k.embedding_forward(out, weight, input)
    return out


def embedding_backward(grad_output, input, num_weights, padding_idx=None):
    """dweight (num_weights, D): the gradient of sum(grad_output * embedding(input, weight)) with respect to
    weight, i.e. grad_output's rows added into the rows their indices name (repeated indices accumulate, in
    increasing position order, so the result is deterministic at any thread count); rows no index names and
    row padding_idx are zero. grad_output input.shape + (D,) float32/float64; num_weights V >= 1.
    Errors as :func:`embedding` (ValueError for grad_output's shape or num_weights)."""
    V, D, pad = check_embedding_backward("embedding_backward", grad_output, input, num_weights, padding_idx)
    k, xp = backend("embedding_backward", grad_output=grad_output, input=input)
    if not hasattr(k, "embedding_backward"):
        raise NotImplementedError("embedding_backward: the embedding kernels exist for the CPU only (NumPy "
                                  "arrays)")
    dweight = empty(xp, (V, D), grad_output.dtype)
    k.embedding_backward(dweight, grad_output, input, pad)
    return dweight
