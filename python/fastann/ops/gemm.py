"""fastann.ops: the gemm family (general matrix multiply and the linear layer).

The kernels are fastann's own (csrc/cpu/gemm.cpp and its AVX2 / AVX-512 micro-kernels), never a BLAS.
``rung=`` selects a rung of the GEMM ladder (see docs/gemm.md):

    1 naive triple loop    2 cache-blocked    3 packed panels + SIMD micro-kernel    4 the same, threaded
"""
from __future__ import annotations

import numpy as np

from .. import _backend
from .._args.common import fits, is_cupy
from .._args.gemm import activation as _activation, gemm_checks, linear_backward_checks, linear_checks
from ._common import backend, empty

__all__ = ["gemm", "linear", "linear_backward"]


# Fast path. A training step calls linear / linear_backward a few times per batch, and the full Python
# checks cost ~10 us per call, more than the small GEMMs of the last layers. For plain non-empty 2-D NumPy
# arrays the compiled function is called straight away: it checks dtype, shapes, contiguity and
# writeability itself. Only if it refuses do the Python checks run, to raise their friendlier message
# (the same exception class, see tests/test_gemm.py).
def _plain(*arrays, optional=()):
    for a in arrays:
        if type(a) is not np.ndarray or a.ndim != 2 or a.size == 0 or a.dtype.char not in "fd":
            return False
    for a in optional:
        if a is not None and (type(a) is not np.ndarray or a.ndim != 2 or a.size == 0 or a.dtype.char not in "fd"):
            return False
    return True


def gemm(a, b, c=None, alpha=1.0, beta=0.0, trans_a=False, trans_b=False, rung=None):
    """General matrix multiply: ``C = alpha * op(A) @ op(B) + beta * C`` (the BLAS xGEMM operation).

    Args:
        a: (M, K) array, or (K, M) when ``trans_a`` (then op(A) = a.T, read in place, never copied).
        b: (K, N) array, or (N, K) when ``trans_b``.
        c: optional (M, N) output. When given it is updated in place and returned; when None a new
            (M, N) array is returned. With ``beta == 0`` C is write-only: it is never read, so NaN or
            garbage in it does not leak into the result (BLAS semantics).
        alpha, beta: real scalars.
        trans_a, trans_b: use the transpose of ``a`` / ``b``.
        rung: None picks the fastest (rung 4, which stays on one thread for small products);
            1 naive, 2 cache-blocked, 3 packed SIMD (one thread), 4 packed SIMD on OpenMP threads.
            For CuPy arrays the CUDA ladder (docs/cuda_gemm.md): 1 naive, 2 coalesced, 3 shared-memory
            tiles, 4 1-D / 5 2-D register tiling, 6 float4 loads, 7 warp tiling + cp.async (float32;
            float64 has 1-5); None picks 7 for large products, a small-tile kernel otherwise.

    All arrays share one dtype, float32 or float64, and are C-contiguous (a transposed or negative-stride
    view is refused; pass ``trans_a`` / ``trans_b`` or ``numpy.ascontiguousarray``).

    Returns:
        C, (M, N), dtype of the inputs.

    Raises:
        TypeError: an argument is not an array, a dtype is not float32/float64, dtypes differ,
            alpha/beta are not real numbers.
        ValueError: not 2-D, empty, non-contiguous, inner dimensions differ, c has the wrong shape or is
            read-only, beta != 0 without c, rung not in {None, 1, 2, 3, 4} (1..7 on the GPU).

    Math: Dongarra et al. (1990), "A set of level 3 basic linear algebra subprograms"; the packed rungs
    follow Goto & van de Geijn (2008) and BLIS (Van Zee & van de Geijn 2015).
    """
    if _plain(a, b, optional=(c,)) and (rung is None or (type(rung) is int and 1 <= rung <= 4)) \
            and type(alpha) in (int, float) and type(beta) in (int, float) and (c is not None or beta == 0):
        m, n = (a.shape[1] if trans_a else a.shape[0]), (b.shape[0] if trans_b else b.shape[1])
        if c is not None or fits(m * n * a.itemsize):  # else the checks below explain the size
            out = c if c is not None else empty(np, (m, n), a.dtype)
            try:
                _backend.cpu.gemm(out, a, b, bool(trans_a), bool(trans_b), alpha, beta,
                                  0 if rung is None else rung)
                return out
            except (TypeError, ValueError):
                pass  # explained by the checks below
    # The CUDA ladder has more rungs (7 for float32) than the CPU's 4: validate against the array's backend.
    on_gpu = any(is_cupy(x) for x in (a, b, c) if x is not None)
    max_rung = getattr(_backend.cuda, "GEMM_NUM_RUNGS", 4) if on_gpu and _backend.cuda is not None else 4
    m, n, _ = gemm_checks(a, b, c, alpha, beta, trans_a, trans_b, rung, max_rung)
    k, xp = backend("gemm", a=a, b=b, c=c)
    out = c if c is not None else empty(xp, (m, n), a.dtype)
    k.gemm(out, a, b, bool(trans_a), bool(trans_b), float(alpha), float(beta), 0 if rung is None else int(rung))
    return out


def linear(input, weight, bias=None, activation=None):
    """Fully connected layer: ``y = act(input @ weight.T + bias)`` (torch.nn.functional.linear).

    Args:
        input: (N, in_features).
        weight: (out_features, in_features), as PyTorch stores it (read transposed, never copied).
        bias: (out_features,) or None.
        activation: None, or "relu" fused into the GEMM's store (bias and max(0, .) are applied while the
            C tile is still in registers; NaN stays NaN).

    All float32 or all float64, C-contiguous.

    Returns:
        y, (N, out_features).

    Raises:
        TypeError: non-array, non-float or mixed dtypes, activation not a str/None.
        ValueError: wrong ndim, empty, non-contiguous, weight/bias shapes that do not match input,
            unknown activation.
    """
    if _plain(input, weight) and (bias is None or (type(bias) is np.ndarray and bias.size and bias.ndim == 1)) \
            and fits(input.shape[0] * weight.shape[0] * input.itemsize):
        out = empty(np, (input.shape[0], weight.shape[0]), input.dtype)
        try:
            _backend.cpu.linear_forward(out, input, weight, bias, activation)
            return out
        except (TypeError, ValueError):
            pass  # explained by the checks below
    n, _, out_f = linear_checks(input, weight, bias, activation)
    k, xp = backend("linear", input=input, weight=weight, bias=bias)
    out = empty(xp, (n, out_f), input.dtype)
    k.linear_forward(out, input, weight, bias, activation)
    return out


def linear_backward(grad_output, input, weight, output=None, activation=None, need_input_grad=True,
                    need_bias_grad=True):
    """Gradients of :func:`linear`: returns ``(dinput | None, dweight, dbias | None)``.

    Args:
        grad_output: (N, out_features), dL/dy.
        input: (N, in_features), the forward's input.
        weight: (out_features, in_features).
        output: (N, out_features), the forward's y; required when ``activation="relu"``.
        activation: None or "relu": the gradient is first masked by relu'(y) (zero where y <= 0; a NaN y
            passes it, as torch's threshold_backward does), in the same pass that sums dbias.
        need_input_grad: compute dinput (the first layer of a network does not need it).
        need_bias_grad: compute dbias.

    With dz the (masked) gradient: ``dinput = dz @ weight`` (N, in_features), ``dweight = dz.T @ input``
    (out_features, in_features), ``dbias = dz.sum(0)`` (out_features,): the GEMMs read dz and input
    transposed in place (no transposed copies).

    Raises:
        TypeError / ValueError as :func:`linear`; ValueError for grad_output / output shapes that do not
        match, or activation="relu" without output.
    """
    if _plain(grad_output, input, weight, optional=(output,)):
        n, in_f, out_f, dt = input.shape[0], input.shape[1], weight.shape[0], grad_output.dtype
        dinput = empty(np, (n, in_f), dt) if need_input_grad else None
        dweight = empty(np, (out_f, in_f), dt)
        dbias = empty(np, (out_f,), dt) if need_bias_grad else None
        try:
            _backend.cpu.linear_backward(dinput, dweight, dbias, grad_output, input, weight, output, activation)
            return dinput, dweight, dbias
        except (TypeError, ValueError):
            pass  # explained by the checks below
    n, in_f, out_f = linear_backward_checks(grad_output, input, weight, output, activation)
    k, xp = backend("linear_backward", grad_output=grad_output, input=input, weight=weight, output=output)
    dt = grad_output.dtype
    dinput = empty(xp, (n, in_f), dt) if need_input_grad else None
    dweight = empty(xp, (out_f, in_f), dt)
    dbias = empty(xp, (out_f,), dt) if need_bias_grad else None
    k.linear_backward(dinput, dweight, dbias, grad_output, input, weight, output,
                      _activation("linear_backward", activation))
    return dinput, dweight, dbias
