"""fastann.reference: the gemm family in plain NumPy float64.

The executable spec of :mod:`fastann.ops.gemm`: same arguments, same checks (:mod:`fastann._args.gemm`),
float64 results.
"""
from __future__ import annotations

import numpy as np

from .._args.gemm import gemm_checks, linear_backward_checks, linear_checks

__all__ = ["gemm", "linear", "linear_backward"]


def gemm(a, b, c=None, alpha=1.0, beta=0.0, trans_a=False, trans_b=False, rung=None):
    """C = alpha * op(A) @ op(B) + beta * C in float64 (BLAS xGEMM semantics).

    a: (M, K), or (K, M) when ``trans_a``; b: (K, N), or (N, K) when ``trans_b``; c: (M, N) or None.
    With ``beta == 0`` C is not read (NaN in it does not propagate), as in BLAS. Returns a new float64
    (M, N) array (``c`` is not modified here). ``rung`` (a rung of the kernels' ladder) is checked as the kernels
    check it; the reference itself has one version.
    Raises TypeError (not an array, non-float dtype, mixed dtypes) and ValueError (ndim, empty,
    non-contiguous, inner-dimension or c shape mismatch, beta != 0 without c, bad rung).
    """
    gemm_checks(a, b, c, alpha, beta, trans_a, trans_b, rung)
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    opa = a64.T if trans_a else a64
    opb = b64.T if trans_b else b64
    out = float(alpha) * (opa @ opb)
    if float(beta) != 0.0:
        out = out + float(beta) * np.asarray(c, dtype=np.float64)
    return out


def linear(input, weight, bias=None, activation=None):
    """y = act(input @ weight.T + bias) in float64 (torch.nn.functional.linear, then the activation).

    input (N, in_features), weight (out_features, in_features), bias (out_features,) or None;
    activation None or "relu" (max(0, y), NaN kept). Returns (N, out_features) float64.
    Raises TypeError / ValueError as :func:`fastann.ops.linear`.
    """
    linear_checks(input, weight, bias, activation)
    y = np.asarray(input, np.float64) @ np.asarray(weight, np.float64).T
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    if activation == "relu":
        y = np.where(y < 0, 0.0, y)  # NaN < 0 is False: NaN stays NaN
    return y


def linear_backward(grad_output, input, weight, output=None, activation=None, need_input_grad=True,
                    need_bias_grad=True):
    """Gradients of :func:`linear` in float64: ``(dinput | None, dweight, dbias | None)``.

    grad_output (N, out_features) = dL/dy; input (N, in_features); weight (out_features, in_features);
    output (N, out_features): the forward's y, needed for activation="relu", whose derivative masks the
    gradient where y <= 0 (a NaN y passes it, as torch's threshold_backward does). With dz the masked
    gradient: dinput = dz @ weight, dweight = dz.T @ input, dbias = dz.sum(0).
    """
    linear_backward_checks(grad_output, input, weight, output, activation)
    dz = np.asarray(grad_output, np.float64)
    if activation == "relu":
        dz = np.where(np.asarray(output) <= 0, 0.0, dz)
    dinput = dz @ np.asarray(weight, np.float64) if need_input_grad else None
    dweight = dz.T @ np.asarray(input, np.float64)
    dbias = dz.sum(axis=0) if need_bias_grad else None
    return dinput, dweight, dbias
