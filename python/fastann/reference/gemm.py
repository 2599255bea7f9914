"""fastann.reference: the gemm family in plain NumPy float64.

The executable spec of :mod:`fastann.ops.gemm`: same arguments, same checks, float64 results.
"""
from __future__ import annotations

import numpy as np

from .._checks import array, same_dtype

__all__ = ["gemm", "linear", "linear_backward"]

_ACTIVATIONS = (None, "relu")


def _activation(op, activation):
    if activation is not None and not isinstance(activation, str):
        raise TypeError(f"{op}: activation must be None or a str, got {type(activation).__name__}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"{op}: activation must be None or 'relu', got {activation!r}")
    return activation


def _kernel(kernel):
    if kernel is None:
        return None
    if isinstance(kernel, bool) or not isinstance(kernel, (int, np.integer)) or not 1 <= int(kernel) <= 4:
        raise ValueError(f"gemm: kernel must be None or one of 1, 2, 3, 4, got {kernel!r}")
    return int(kernel)


def _scalar(op, name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a real number, got {type(v).__name__}")
    return float(v)


def gemm(a, b, c=None, alpha=1.0, beta=0.0, trans_a=False, trans_b=False, kernel=None):
    """C = alpha * op(A) @ op(B) + beta * C in float64 (BLAS xGEMM semantics).

    a: (M, K), or (K, M) when ``trans_a``; b: (K, N), or (N, K) when ``trans_b``; c: (M, N) or None.
    With ``beta == 0`` C is not read (NaN in it does not propagate), as in BLAS. Returns a new float64
    (M, N) array (``c`` is not modified here). ``kernel`` is validated and otherwise ignored.
    Raises TypeError (not an array, non-float dtype, mixed dtypes) and ValueError (ndim, empty,
    non-contiguous, inner-dimension or c shape mismatch, beta != 0 without c, bad kernel).
    """
    _gemm_checks(a, b, c, alpha, beta, trans_a, trans_b, kernel)
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    opa = a64.T if trans_a else a64
    opb = b64.T if trans_b else b64
    out = float(alpha) * (opa @ opb)
    if float(beta) != 0.0:
        out = out + float(beta) * np.asarray(c, dtype=np.float64)
    return out


def _gemm_checks(a, b, c, alpha, beta, trans_a, trans_b, kernel):
    """The argument checks shared by reference.gemm and ops.gemm; returns (M, N, K)."""
    array("gemm", "a", a, ndim=2, layout="(K,M)" if trans_a else "(M,K)")
    array("gemm", "b", b, ndim=2, layout="(N,K)" if trans_b else "(K,N)")
    if c is not None:
        array("gemm", "c", c, ndim=2, layout="(M,N)")
    same_dtype("gemm", a=a, b=b, c=c)
    alpha = _scalar("gemm", "alpha", alpha)
    beta = _scalar("gemm", "beta", beta)
    _kernel(kernel)
    m, ka = (a.shape[1], a.shape[0]) if trans_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if ka != kb:
        raise ValueError(f"gemm: inner dimensions differ: op(a) is ({m}, {ka}) and op(b) is ({kb}, {n}) "
                         f"(trans_a={bool(trans_a)}, trans_b={bool(trans_b)})")
    if c is not None and tuple(c.shape) != (m, n):
        raise ValueError(f"gemm: c must have shape ({m}, {n}), got {tuple(c.shape)}")
    if c is None and beta != 0.0:
        raise ValueError(f"gemm: beta={beta} needs c (beta != 0 scales an existing C)")
    return m, n, ka


def _linear_checks(input, weight, bias, activation, op="linear"):
    """Checks shared by reference.linear and ops.linear; returns (N, in_features, out_features)."""
    array(op, "input", input, ndim=2, layout="(N,in_features)")
    array(op, "weight", weight, ndim=2, layout="(out_features,in_features)")
    if bias is not None:
        array(op, "bias", bias, ndim=1, layout="(out_features,)")
    same_dtype(op, input=input, weight=weight, bias=bias)
    _activation(op, activation)
    n, in_f = input.shape
    out_f = weight.shape[0]
    if weight.shape[1] != in_f:
        raise ValueError(f"{op}: weight must have shape (out_features, {in_f}) to match input "
                         f"{tuple(input.shape)}, got {tuple(weight.shape)}")
    if bias is not None and bias.shape[0] != out_f:
        raise ValueError(f"{op}: bias must have shape ({out_f},), got {tuple(bias.shape)}")
    return n, in_f, out_f


def linear(input, weight, bias=None, activation=None):
    """y = act(input @ weight.T + bias) in float64 (torch.nn.functional.linear, then the activation).

    input (N, in_features), weight (out_features, in_features), bias (out_features,) or None;
    activation None or "relu" (max(0, y), NaN kept). Returns (N, out_features) float64.
    Raises TypeError / ValueError as :func:`fastann.ops.linear`.
    """
    _linear_checks(input, weight, bias, activation)
    y = np.asarray(input, np.float64) @ np.asarray(weight, np.float64).T
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    if activation == "relu":
        y = np.where(y < 0, 0.0, y)  # NaN < 0 is False: NaN stays NaN
    return y


def _linear_backward_checks(grad_output, input, weight, output, activation):
    n, in_f, out_f = _linear_checks(input, weight, None, activation, op="linear_backward")
    array("linear_backward", "grad_output", grad_output, ndim=2, layout="(N,out_features)")
    same_dtype("linear_backward", grad_output=grad_output, input=input, weight=weight, output=output)
    if tuple(grad_output.shape) != (n, out_f):
        raise ValueError(f"linear_backward: grad_output must have shape ({n}, {out_f}), "
                         f"got {tuple(grad_output.shape)}")
    if activation == "relu":
        if output is None:
            raise ValueError("linear_backward: activation='relu' needs the forward output (output=None given)")
    if output is not None:
        array("linear_backward", "output", output, ndim=2, layout="(N,out_features)")
        if tuple(output.shape) != (n, out_f):
            raise ValueError(f"linear_backward: output must have shape ({n}, {out_f}), got {tuple(output.shape)}")
    return n, in_f, out_f


def linear_backward(grad_output, input, weight, output=None, activation=None, need_input_grad=True,
                    need_bias_grad=True):
    """Gradients of :func:`linear` in float64: ``(dinput | None, dweight, dbias | None)``.

    grad_output (N, out_features) = dL/dy; input (N, in_features); weight (out_features, in_features);
    output (N, out_features): the forward's y, needed for activation="relu", whose derivative masks the
    gradient where y <= 0 (a NaN y passes it, as torch's threshold_backward does). With dz the masked
    gradient: dinput = dz @ weight, dweight = dz.T @ input, dbias = dz.sum(0).
    """
    _linear_backward_checks(grad_output, input, weight, output, activation)
    dz = np.asarray(grad_output, np.float64)
    if activation == "relu":
        dz = np.where(np.asarray(output) <= 0, 0.0, dz)
    dinput = dz @ np.asarray(weight, np.float64) if need_input_grad else None
    dweight = dz.T @ np.asarray(input, np.float64)
    dbias = dz.sum(axis=0) if need_bias_grad else None
    return dinput, dweight, dbias
