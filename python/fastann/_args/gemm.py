"""Argument checks of the gemm family (gemm, linear, linear_backward), shared by ops and reference."""
from __future__ import annotations

import numpy as np

from .common import array, is_cupy, output_size, real, same_device, same_dtype

ACTIVATIONS = (None, "relu")


def activation(op, activation):
    """None or "relu" (TypeError for a non-str, ValueError for another name)."""
    if activation is not None and not isinstance(activation, str):
        raise TypeError(f"{op}: activation must be None or a str, got {type(activation).__name__}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{op}: activation must be None or 'relu', got {activation!r}")
    return activation


def rung(value, max_rung=4):
    """None or a rung number 1..max_rung (4 on the CPU ladder; the CUDA ladder has 7)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= int(value) <= max_rung:
        rungs = ", ".join(str(i) for i in range(1, max_rung + 1))
        raise ValueError(f"gemm: rung must be None or one of {rungs}, got {value!r}")
    return int(value)


def gemm_checks(a, b, c, alpha, beta, trans_a, trans_b, rung_, max_rung=4):
    """gemm's arguments: a, b (and c) 2-D float arrays of one dtype and device, real alpha / beta, inner
    dimensions that agree, c of shape (M, N), beta == 0 without c, an output that fits in memory.
    Returns (M, N, K)."""
    array("gemm", "a", a, ndim=2, layout="(K,M)" if trans_a else "(M,K)")
    array("gemm", "b", b, ndim=2, layout="(N,K)" if trans_b else "(K,N)")
    if c is not None:
        array("gemm", "c", c, ndim=2, layout="(M,N)")
    same_dtype("gemm", a=a, b=b, c=c)
    gpu = same_device("gemm", a=a, b=b, c=c)
    alpha = real("gemm", "alpha", alpha)
    beta = real("gemm", "beta", beta)
    rung(rung_, max_rung)
    m, ka = (a.shape[1], a.shape[0]) if trans_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if ka != kb:
        raise ValueError(f"gemm: inner dimensions differ: op(a) is ({m}, {ka}) and op(b) is ({kb}, {n}) "
                         f"(trans_a={bool(trans_a)}, trans_b={bool(trans_b)})")
    if c is not None and tuple(c.shape) != (m, n):
        raise ValueError(f"gemm: c must have shape ({m}, {n}), got {tuple(c.shape)}")
    if c is None and beta != 0.0:
        raise ValueError(f"gemm: beta={beta} needs c (beta != 0 scales an existing C)")
    if c is None:
        output_size("gemm", (m, n), a.dtype, gpu)
    return m, n, ka


def linear_checks(input, weight, bias, activation_, op="linear"):
    """linear's arguments: input (N, in_features), weight (out_features, in_features), bias
    (out_features,) or None, one dtype and device. Returns (N, in_features, out_features)."""
    array(op, "input", input, ndim=2, layout="(N,in_features)")
    array(op, "weight", weight, ndim=2, layout="(out_features,in_features)")
    if bias is not None:
        array(op, "bias", bias, ndim=1, layout="(out_features,)")
    same_dtype(op, input=input, weight=weight, bias=bias)
    gpu = same_device(op, input=input, weight=weight, bias=bias)
    activation(op, activation_)
    n, in_f = input.shape
    out_f = weight.shape[0]
    if weight.shape[1] != in_f:
        raise ValueError(f"{op}: weight must have shape (out_features, {in_f}) to match input "
                         f"{tuple(input.shape)}, got {tuple(weight.shape)}")
    if bias is not None and bias.shape[0] != out_f:
        raise ValueError(f"{op}: bias must have shape ({out_f},), got {tuple(bias.shape)}")
    output_size(op, (n, out_f), input.dtype, gpu)
    return n, in_f, out_f


def linear_backward_checks(grad_output, input, weight, output, activation_):
    """linear_backward's arguments (linear's, plus grad_output and output (N, out_features)); "relu"
    needs output. Returns (N, in_features, out_features)."""
    op = "linear_backward"
    n, in_f, out_f = linear_checks(input, weight, None, activation_, op=op)
    array(op, "grad_output", grad_output, ndim=2, layout="(N,out_features)")
    if output is not None:
        array(op, "output", output, ndim=2, layout="(N,out_features)")
    same_dtype(op, grad_output=grad_output, input=input, weight=weight, output=output)
    same_device(op, grad_output=grad_output, input=input, weight=weight, output=output)
    if tuple(grad_output.shape) != (n, out_f):
        raise ValueError(f"{op}: grad_output must have shape ({n}, {out_f}), got {tuple(grad_output.shape)}")
    if activation_ == "relu" and output is None:
        raise ValueError(f"{op}: activation='relu' needs the forward output (output=None given)")
    if output is not None and tuple(output.shape) != (n, out_f):
        raise ValueError(f"{op}: output must have shape ({n}, {out_f}), got {tuple(output.shape)}")
    return n, in_f, out_f


__all__ = ["ACTIVATIONS", "activation", "gemm_checks", "is_cupy", "linear_backward_checks", "linear_checks",
           "rung"]
