"""fastann.ops: the layer_norm family (layer normalization, PyTorch semantics).

:mod:`fastann.reference.layer_norm` holds the math and is the executable spec; the kernels are
csrc/cpu/layer_norm*.cpp (one thread per block of rows, the row's loops per ISA) and csrc/cuda/layer_norm.cu.
"""
from __future__ import annotations

from .._args.layer_norm import layer_norm_args, layer_norm_backward_args
from ._common import backend, empty

__all__ = ["layer_norm", "layer_norm_backward"]


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, return_stats=False):
    """Layer normalization over the trailing ``normalized_shape`` dimensions (Ba, Kiros & Hinton 2016), as
    ``torch.nn.functional.layer_norm``.

    Each row of N = prod(normalized_shape) values is normalized with its own mean and biased variance:
    ``y = (x - mean) / sqrt(var + eps) * weight + bias``.

    Args:
        input: (..., *normalized_shape), float32 or float64, C-contiguous, non-empty.
        normalized_shape: an int or a sequence of ints, equal to the input's trailing dimensions.
        weight, bias: arrays of shape normalized_shape (gamma, beta), or None (1 and 0).
        eps: > 0, added to the variance.
        return_stats: also return save_mean and save_invstd = 1/sqrt(var + eps), (M,) with
            M = input.size // N, what :func:`layer_norm_backward` needs.

    Returns:
        output with the input's shape and dtype, or (output, save_mean, save_invstd).

    Raises:
        TypeError: non-array or non-float arguments, mixed dtypes, mixed NumPy/CuPy, normalized_shape not
            int(s), return_stats not a bool.
        ValueError: normalized_shape not the input's trailing dimensions, weight/bias of another shape, an
            empty or non-contiguous input, eps <= 0.
    """
    op = "layer_norm"
    ns, M, _ = layer_norm_args(op, input, normalized_shape, weight, bias, eps)
    if not isinstance(return_stats, bool):
        raise TypeError(f"{op}: return_stats must be a bool, got {type(return_stats).__name__} {return_stats!r}")
    k, xp = backend(op, input=input, weight=weight, bias=bias)
    out = empty(xp, input.shape, input.dtype)
    save_mean = empty(xp, (M,), input.dtype)
    save_invstd = empty(xp, (M,), input.dtype)
    k.layer_norm_forward(out, save_mean, save_invstd, input, list(ns), weight, bias, float(eps))
    return (out, save_mean, save_invstd) if return_stats else out


def layer_norm_backward(grad_output, input, normalized_shape, weight, save_mean, save_invstd):
    """Gradients of :func:`layer_norm`, xhat = (x - mean) * invstd, g = grad_output * weight:
    ``dx = invstd * (g - mean(g) - xhat * mean(g * xhat))`` (means over each row), ``dweight = sum over rows
    of grad_output * xhat``, ``dbias = sum over rows of grad_output`` (torch's native_layer_norm_backward).

    Args:
        grad_output, input: (..., *normalized_shape), one float dtype.
        normalized_shape: as the forward's. weight: the forward's weight, or None.
        save_mean, save_invstd: (M,) from ``layer_norm(..., return_stats=True)``.

    Returns:
        (dinput, dweight, dbias): dinput like input; dweight (normalized_shape), None when weight is None;
        dbias (normalized_shape), always.

    Raises TypeError / ValueError as :func:`layer_norm` (grad_output's shape, save_* not (M,)).
    """
    op = "layer_norm_backward"
    ns, _, _ = layer_norm_backward_args(op, grad_output, input, normalized_shape, weight, save_mean, save_invstd)
    k, xp = backend(op, grad_output=grad_output, input=input, weight=weight, save_mean=save_mean,
                    save_invstd=save_invstd)
    dinput = empty(xp, input.shape, input.dtype)
    dweight = empty(xp, ns, input.dtype) if weight is not None else None
    dbias = empty(xp, ns, input.dtype)
    k.layer_norm_backward(dinput, dweight, dbias, grad_output, input, list(ns), weight, save_mean, save_invstd)
    return dinput, dweight, dbias
