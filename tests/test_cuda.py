"""The CUDA backend: infrastructure (runs everywhere) and GPU kernels (skip without a GPU).

The first half needs no GPU: it checks that fastann imports and reports CUDA sensibly on a machine without
one, and that fastann._cuda's C++ boundary rejects bad arguments (host arrays, wrong dtypes, strided views,
read-only outputs, wrong shapes, unknown kernels) before any device pointer is used. Device arrays are faked
there with objects that expose a ``__cuda_array_interface__``: every such call must fail its checks, never
launch.

The second half runs the kernels against the NumPy float64 references on a GPU, through CuPy.
"""
from __future__ import annotations

import numpy as np
import pytest

import fastann
from fastann import _backend

from helpers import assert_close

cuda_mod = _backend.cuda
needs_module = pytest.mark.skipif(cuda_mod is None, reason="fastann._cuda was not built")


# ---------------------------------------------------------------------------------------------------------
# No GPU needed
# ---------------------------------------------------------------------------------------------------------

def test_cuda_error_is_exported():
    assert issubclass(fastann.CudaError, RuntimeError)
    if cuda_mod is not None:
        assert fastann.CudaError is cuda_mod.CudaError


def test_build_info_reports_cuda():
    info = fastann.build_info()
    assert info["cuda_built"] == (cuda_mod is not None)
    assert info["cuda_available"] == (info["gpu_count"] > 0) == fastann.cuda.is_available()
    assert len(info["gpus"]) == info["gpu_count"]
    if not info["cuda_available"]:
        assert info["cuda_status"] != "ok" and fastann.cuda.why_unavailable()


def test_synchronize_without_gpu_says_why():
    if fastann.cuda.is_available():
        fastann.cuda.synchronize()  # nothing queued: returns
    else:
        with pytest.raises(RuntimeError, match="no GPU"):
            fastann.cuda.synchronize()


@needs_module
def test_device_count_never_raises():
    n = cuda_mod.device_count()
    assert isinstance(n, int) and n >= 0
    reason = cuda_mod.device_count_error()
    assert isinstance(reason, str)
    if n == 0:
        assert reason, "device_count() is 0 but no reason was recorded"
        with pytest.raises(ValueError, match="no CUDA device"):
            cuda_mod.get_device_name(0)
    info = cuda_mod.compile_info()
    assert info["cuda_runtime"] >= 11000 and "80" in info["architectures"]


@needs_module
def test_dropout_bits_match_the_cpu():
    # The host copy of the CUDA mask function must produce the CPU's numbers (the device code is the same
    # integer arithmetic): masks then agree between backends.
    if not hasattr(_backend.cpu, "dropout_bits"):
        pytest.skip("fastann._cpu has no dropout_bits in this build")
    for seed in (0, 1, 12345, 2**64 - 1):
        for i in (0, 1, 7, 10**9, 2**40):
            assert cuda_mod.dropout_bits(seed, i) == _backend.cpu.dropout_bits(seed, i)


def _signature(fn):
    """[(name, default)] from pybind11's first docstring line, e.g. 'gemm(c: object, ..., rung: int = 0) -> None'."""
    head = fn.__doc__.split("\n")[0]
    inner = head[head.index("(") + 1: head.rindex(") ->")]
    args, depth, cur = [], 0, ""
    for ch in inner:
        depth += ch in "([" and 1 or 0
        depth -= ch in ")]" and 1 or 0
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    args.append(cur.strip())
    return [(a.split(":")[0].strip(), a.split("=")[1].strip() if "=" in a else None) for a in args if a != "*"]


CPU_ONLY = {"fma_peak_gflops", "get_num_threads", "set_num_threads", "simd_level", "compile_info", "cpu_info", "gemm_thread_stats",
            # the fused BN+ReLU(+pool) kernel has no CUDA version yet: ops.batch_norm_relu raises
            # NotImplementedError for CuPy arrays and Sequential keeps the separate layers on CUDA
            "batch_norm_relu_forward", "batch_norm_relu_backward",
            # likewise the fused ReLU + 2x2 pool of a conv's output (ops._fused, models/_fusion.FusedConvReLUPool)
            "relu_max_pool2_forward", "relu_max_pool2_backward"}


@needs_module
def test_every_cpu_function_has_a_cuda_twin_with_the_same_signature():
    # fastann.ops calls k.<name>(...) identically on both modules, so names, argument names and defaults must
    # agree (the CUDA module may add keyword-only extras, such as the losses' check_labels).
    for name in sorted(n for n in dir(_backend.cpu) if not n.startswith("_") and n not in CPU_ONLY):
        fn = getattr(_backend.cpu, name)
        if not callable(fn):
            continue
        assert hasattr(cuda_mod, name), f"fastann._cuda lacks {name}"
        cpu_sig = _signature(fn)
        cuda_sig = [a for a in _signature(getattr(cuda_mod, name)) if a[0] != "check_labels"]
        assert cuda_sig == cpu_sig, f"{name}: _cpu {cpu_sig} != _cuda {cuda_sig}"


class FakeDeviceArray:
    """An object with a __cuda_array_interface__ whose pointer must never be used (every call fails a check)."""

    _next = 0xDEAD0000

    def __init__(self, shape, typestr="<f4", strides=None, readonly=False, ptr=None):
        if ptr is None:  # distinct, non-overlapping fake addresses
            ptr = FakeDeviceArray._next
            FakeDeviceArray._next += 1 << 20
        self.__cuda_array_interface__ = {
            "shape": tuple(shape), "typestr": typestr, "data": (ptr, readonly),
            "strides": strides, "version": 3,
        }


def F(*shape, **kw):
    return FakeDeviceArray(shape, **kw)


@needs_module
@pytest.mark.parametrize("call, exc, match", [
    # host arrays are not device arrays
    (lambda m: m.gemm(np.zeros((2, 2), np.float32), F(2, 2), F(2, 2), False, False, 1.0, 0.0, 0),
     TypeError, "c must be a cupy ndarray.*numpy.ndarray"),
    (lambda m: m.activation_forward(F(3), np.zeros(3, np.float32), "relu", 0.0), TypeError, "input must be a cupy"),
    (lambda m: m.gemm(F(2, 2), F(2, 2), None, False, False, 1.0, 0.0, 0), TypeError, "b must be a cupy"),
    # dtypes
    (lambda m: m.gemm(F(2, 2), F(2, 3), F(3, 2, typestr="<i4"), False, False, 1.0, 0.0, 0), TypeError,
     "b must be float32 or float64, got dtype int32"),
    (lambda m: m.gemm(F(2, 2), F(2, 3, typestr="<f8"), F(3, 2), False, False, 1.0, 0.0, 0), TypeError,
     "b has dtype float32 but the other arrays are float64"),
    (lambda m: m.gemm(F(2, 2), F(2, 3, typestr="<f2"), F(3, 2), False, False, 1.0, 0.0, 0), TypeError,
     "a must be float32 or float64, got dtype float16"),
    # layout and writeability
    (lambda m: m.gemm(F(2, 2), F(2, 3, strides=(4, 8)), F(3, 2), False, False, 1.0, 0.0, 0), ValueError,
     "a must be C-contiguous"),
    (lambda m: m.gemm(F(2, 2), F(2, 3, strides=(-12, 4)), F(3, 2), False, False, 1.0, 0.0, 0), ValueError,
     "C-contiguous"),
    (lambda m: m.gemm(F(2, 2, readonly=True), F(2, 3), F(3, 2), False, False, 1.0, 0.0, 0), ValueError,
     "read-only"),
    # shapes and values
    (lambda m: m.gemm(F(2, 2), F(2, 4), F(3, 2), False, False, 1.0, 0.0, 0), ValueError, "inner dimensions"),
    (lambda m: m.gemm(F(2, 3), F(2, 3), F(3, 2), False, False, 1.0, 0.0, 0), ValueError, r"c must have shape \(2, 2\)"),
    (lambda m: m.gemm(F(2, 2), F(2, 3, 1), F(3, 2), False, False, 1.0, 0.0, 0), ValueError, "a must be 2-D"),
    (lambda m: m.gemm(F(2, 2), F(2, 3), F(3, 2), False, False, 1.0, 0.0, 8), ValueError, "unknown rung 8"),
    (lambda m: m.gemm(F(2, 2, typestr="<f8"), F(2, 3, typestr="<f8"), F(3, 2, typestr="<f8"), False, False,
                      1.0, 0.0, 6), ValueError, "rungs 1-5 for float64"),
    (lambda m: m.linear_forward(F(2, 4), F(2, 3), F(4, 3), None, "tanh"), ValueError, "None or 'relu'"),
    (lambda m: m.linear_forward(F(2, 4), F(2, 3), F(4, 3), None, 3), TypeError, "None or a str"),
    (lambda m: m.gemm(F(2, 3, ptr=4096), F(2, 3, ptr=4104), F(3, 3), False, False, 1.0, 0.0, 0), ValueError,
     "share memory"),
    (lambda m: m.linear_forward(F(2, 4), F(2, 3), F(4, 2), None, None), ValueError,
     r"weight must have shape \(out_features, 3\)"),
    (lambda m: m.linear_forward(F(2, 4), F(2, 3), F(4, 3), F(3), None), ValueError, r"bias must have shape \(4,\)"),
    (lambda m: m.linear_backward(None, F(4, 3), None, F(2, 4), F(2, 3), F(4, 3), None, "relu"), ValueError,
     "needs the forward output"),
    (lambda m: m.activation_forward(F(3), F(4), "relu", 0.0), ValueError, "shape"),
    (lambda m: m.activation_forward(F(3), F(3), "nope", 0.0), ValueError, "unknown activation 'nope'"),
    (lambda m: m.softmax_forward(F(2, 3), F(2, 3), 2), ValueError, "dim 2 is out of range"),
    (lambda m: m.mse_loss_forward(F(2), F(3), F(3)), ValueError, "0-d"),
    (lambda m: m.dropout_forward(F(3), F(3), 1.0, 0), ValueError, r"p must be in \[0, 1\)"),
    (lambda m: m.dropout_forward(F(3), F(4), 0.5, 0), ValueError, "shape"),
    (lambda m: m.mse_loss_forward(F(), F(0), F(0)), ValueError, "empty"),
    (lambda m: m.cross_entropy_forward(F(), F(4, 3), F(4)), TypeError, "1-D target must hold integer"),
    (lambda m: m.cross_entropy_forward(F(), F(4, 3), F(5, typestr="<i8")), ValueError, r"must have shape \(4,\)"),
    (lambda m: m.cross_entropy_forward(F(), F(4, 3), F(4, 3, typestr="|u1")), TypeError, "int32/int64"),
    # the recurrent family: the CUDA ladder has rungs 1-2; the shared parser's checks
    (lambda m: m.rnn_forward("lstm", F(2, 3, 4), F(2, 4), F(2, 4), F(2, 3, 20), F(2, 3, 5), None, None, F(16, 5),
                             F(16, 4), None, None, False, 3), ValueError, r"rung must be in \[0, 2\], got 3"),
    (lambda m: m.rnn_forward("gru", F(2, 3, 4), F(2, 4), None, F(2, 3, 16), np.zeros((2, 3, 5), np.float32), None,
                             None, F(12, 5), F(12, 4), None, None, False, 0), TypeError, "input must be a cupy"),
    (lambda m: m.rnn_backward("gru", F(2, 3, 5), F(2, 4), F(2, 4), F(12, 5), F(12, 4), None, None, None, None, None,
                              F(2, 3, 5), None, None, F(12, 5), F(12, 4), F(2, 3, 4), F(2, 3, 16), False, 0),
     ValueError, "dc0 must be None for mode 'gru'"),
])
def test_cuda_boundary_rejects_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call(cuda_mod)


# ---------------------------------------------------------------------------------------------------------
# GPU kernels (skip where no GPU is usable)
# ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def cp():
    if not fastann.cuda.is_available():
        pytest.skip(f"no usable GPU: {fastann.cuda.why_unavailable()}")
    return pytest.importorskip("cupy")


# odd sizes, size-1 edges, exact tiles, tiles + 1; (128, 300, 784) and (33, 7, 513) take the split-K path of
# rung 0 (small output, long K)
GEMM_SHAPES = [(1, 1, 1), (7, 13, 5), (33, 65, 17), (128, 128, 16), (129, 131, 33), (257, 300, 129),
               (64, 200, 1000), (128, 300, 784), (33, 7, 513)]


@pytest.mark.gpu
@pytest.mark.parametrize("rung", [0, 1, 2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_cuda_gemm_rungs(cp, rng, rung, trans_a, trans_b):
    for (M, N, K) in GEMM_SHAPES:
        a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(np.float32)
        b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(np.float32)
        c0 = rng.standard_normal((M, N)).astype(np.float32)
        opa = a.T if trans_a else a
        opb = b.T if trans_b else b
        for alpha, beta in [(1.0, 0.0), (0.5, -2.0)]:
            c = cp.asarray(c0) if beta else cp.full((M, N), np.nan, np.float32)
            cuda_mod.gemm(c, cp.asarray(a), cp.asarray(b), trans_a, trans_b, alpha, beta, rung)
            ref = alpha * (opa.astype(np.float64) @ opb.astype(np.float64)) + beta * c0
            assert_close(c.get(), ref, 1e-5, f"rung {rung} {(M, N, K)} ta={trans_a} tb={trans_b}")


@pytest.mark.gpu
@pytest.mark.parametrize("rung", [0, 1, 3, 5, 6, 7])
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, True)])
def test_cuda_gemm_batched(cp, rng, rung, trans_a, trans_b):
    B, M, N, K = 3, 45, 130, 37
    a = rng.standard_normal((B, K, M) if trans_a else (B, M, K)).astype(np.float32)
    b = rng.standard_normal((B, N, K) if trans_b else (B, K, N)).astype(np.float32)
    c = cp.full((B, M, N), np.nan, np.float32)
    cuda_mod.gemm_batched(c, cp.asarray(a), cp.asarray(b), trans_a, trans_b, 2.0, 0.0, rung)
    opa = a.transpose(0, 2, 1) if trans_a else a
    opb = b.transpose(0, 2, 1) if trans_b else b
    assert_close(c.get(), 2.0 * np.matmul(opa.astype(np.float64), opb.astype(np.float64)), 1e-5, f"rung {rung}")


@pytest.mark.gpu
@pytest.mark.parametrize("rung", [0, 1, 2, 3, 4, 5])
def test_cuda_gemm_float64(cp, rng, rung):
    M, N, K = 37, 29, 41
    a, b = rng.standard_normal((M, K)), rng.standard_normal((N, K))
    c = cp.full((M, N), np.nan)
    cuda_mod.gemm(c, cp.asarray(a), cp.asarray(b), False, True, 1.0, 0.0, rung)
    assert_close(c.get(), a @ b.T, 1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("rung", [6, 7])
def test_cuda_gemm_unaligned_views(cp, rng, rung):
    # a base pointer offset by one float: the float4 / 16-byte cp.async paths must fall back to scalar copies
    M, N, K = 67, 68, 36
    buf = cp.asarray(rng.standard_normal(M * K + 1).astype(np.float32))
    a = buf[1:].reshape(M, K)
    b = cp.asarray(rng.standard_normal((K, N)).astype(np.float32))
    c = cp.full((M, N), np.nan, np.float32)
    cuda_mod.gemm(c, a, b, False, False, 1.0, 0.0, rung)
    assert_close(c.get(), a.get().astype(np.float64) @ b.get().astype(np.float64), 1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_linear(cp, rng, activation, dtype):
    N, IN, OUT = 33, 70, 19
    x = rng.standard_normal((N, IN)).astype(dtype)
    w = rng.standard_normal((OUT, IN)).astype(dtype)
    b = rng.standard_normal(OUT).astype(dtype)
    y = cp.full((N, OUT), np.nan, dtype)
    cuda_mod.linear_forward(y, cp.asarray(x), cp.asarray(w), cp.asarray(b), activation)
    pre = x.astype(np.float64) @ w.T.astype(np.float64) + b
    ref = np.maximum(pre, 0) if activation else pre
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(y.get(), ref, tol, "linear forward")

    g = rng.standard_normal((N, OUT)).astype(dtype)
    dx, dw, db = (cp.full(s, np.nan, dtype) for s in [(N, IN), (OUT, IN), (OUT,)])
    cuda_mod.linear_backward(dx, dw, db, cp.asarray(g), cp.asarray(x), cp.asarray(w), y, activation)
    gm = g * (ref > 0) if activation else g.astype(np.float64)
    assert_close(dx.get(), gm @ w, tol, "dinput")
    assert_close(dw.get(), gm.T @ x, tol, "dweight")
    assert_close(db.get(), gm.sum(0), tol, "dbias")


@pytest.mark.gpu
def test_cuda_rejects_mixed_numpy_and_cupy(cp):
    a = cp.zeros((2, 2), np.float32)
    with pytest.raises(TypeError, match="a must be a cupy ndarray"):
        cuda_mod.gemm(a, np.zeros((2, 2), np.float32), a, False, False, 1.0, 0.0, 0)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_softmax_any_axis(cp, rng, dtype):
    x = rng.standard_normal((3, 5, 7)).astype(dtype)
    for dim in (0, 1, -1):
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        ref = e / e.sum(axis=dim, keepdims=True)
        out = cp.full(x.shape, np.nan, dtype)
        cuda_mod.softmax_forward(out, cp.asarray(x), dim)
        assert_close(out.get(), ref, 1e-6 if dtype == np.float32 else 1e-13, f"softmax dim={dim}")
        lout = cp.full(x.shape, np.nan, dtype)
        cuda_mod.log_softmax_forward(lout, cp.asarray(x), dim)
        assert_close(lout.get(), np.log(ref), 1e-6 if dtype == np.float32 else 1e-13, f"log_softmax dim={dim}")
        g = rng.standard_normal(x.shape).astype(dtype)
        d = cp.full(x.shape, np.nan, dtype)
        cuda_mod.softmax_backward(d, cp.asarray(g), out, dim)
        assert_close(d.get(), ref * (g - (g * ref).sum(axis=dim, keepdims=True)), 1e-5, "softmax backward")
        cuda_mod.log_softmax_backward(d, cp.asarray(g), lout, dim)
        assert_close(d.get(), g - ref * g.sum(axis=dim, keepdims=True), 1e-5, "log_softmax backward")


@pytest.mark.gpu
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64])
def test_cuda_cross_entropy_with_grad(cp, rng, label_dtype):
    for N, C in [(1, 1), (5, 3), (128, 10), (300, 1000), (9000, 2)]:
        x = rng.standard_normal((N, C)).astype(np.float32) * 3
        y = rng.integers(0, C, N).astype(label_dtype)
        loss = cp.full((), np.nan, np.float32)
        d = cp.full((N, C), np.nan, np.float32)
        cuda_mod.cross_entropy_with_grad(loss, d, cp.asarray(x), cp.asarray(y), 1.0)
        xd = x.astype(np.float64)
        lse = np.log(np.exp(xd - xd.max(1, keepdims=True)).sum(1)) + xd.max(1)
        assert_close(loss.get(), np.mean(lse - xd[np.arange(N), y]), 1e-5, f"loss {(N, C)}")
        sm = np.exp(xd - lse[:, None])
        sm[np.arange(N), y] -= 1
        assert_close(d.get(), sm / N, 1e-5, f"dinput {(N, C)}")


@pytest.mark.gpu
def test_cuda_cross_entropy_bad_label(cp):
    x = cp.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="target label 7 at index 2"):
        cuda_mod.cross_entropy_forward(cp.zeros((), np.float32), x, cp.asarray(np.array([0, 1, 7, -1])))


@pytest.mark.gpu
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_embedding_matches_the_cpu_bit_for_bit(cp, rng, index_dtype, dtype):
    """The gather, and the scatter-add summed in the CPU's order (increasing position per row): same bits."""
    from fastann import ops

    for shape, V, D in [((5,), 7, 3), ((64, 28), 50, 129), ((3, 4000), 3, 8)]:
        w = rng.standard_normal((V, D)).astype(dtype)
        idx = rng.integers(0, V, shape).astype(index_dtype)
        g = rng.standard_normal(shape + (D,)).astype(dtype)
        out = ops.embedding(cp.asarray(idx), cp.asarray(w))
        assert np.array_equal(out.get(), ops.embedding(idx, w))
        for pad in (None, 1):
            dw = ops.embedding_backward(cp.asarray(g), cp.asarray(idx), V, padding_idx=pad)
            assert np.array_equal(dw.get(), ops.embedding_backward(g, idx, V, padding_idx=pad))


@pytest.mark.gpu
def test_cuda_embedding_bad_index(cp):
    out = cp.full((3, 2), np.nan, np.float32)
    with pytest.raises(ValueError, match="embedding_forward: index 9 at flat position 1 is out of range"):
        cuda_mod.embedding_forward(out, cp.ones((4, 2), np.float32), cp.asarray(np.array([0, 9, -1])))
    assert bool(cp.isnan(out).all())


@pytest.mark.gpu
@pytest.mark.parametrize("n", [1, 1000, 100_003])
def test_cuda_elementwise_losses(cp, rng, n):
    x = rng.uniform(0.01, 0.99, n)
    t = rng.uniform(0, 1, n)
    refs = {
        "mse_loss_forward": np.mean((x - t) ** 2),
        "l1_loss_forward": np.mean(np.abs(x - t)),
        "binary_cross_entropy_with_logits_forward": np.mean(np.maximum(x, 0) - x * t + np.log1p(np.exp(-abs(x)))),
    }
    for name, ref in refs.items():
        out = cp.full((), np.nan)
        getattr(cuda_mod, name)(out, cp.asarray(x), cp.asarray(t))
        assert_close(out.get(), ref, 1e-12, name)
    out = cp.full((), np.nan)
    cuda_mod.binary_cross_entropy_forward(out, cp.asarray(x), cp.asarray(t), 1e-7)
    assert_close(out.get(), -np.mean(t * np.log(x) + (1 - t) * np.log(1 - x)), 1e-12, "bce")


# The recurrent family through fastann.ops on CuPy arrays, against the float64 reference (tests/test_rnn.py
# does the same for the CPU): every mode, rung, direction and dtype; (33, 4, 20, 300) makes the per-step GEMMs
# take the split-K path of fastann's auto GEMM (K = H = 300, a small output).
RNN_MODES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}
RNN_SHAPES = [(3, 5, 4, 6), (1, 1, 3, 1), (7, 3, 1, 17), (33, 4, 20, 300)]


def _rnn_case(cp, mode, dt, shape, seed, bias=True, state=True):
    N, T, F, H = shape
    G = RNN_MODES[mode]
    r = np.random.default_rng(seed)
    f = lambda *s, k=1.0: (r.standard_normal(s) * k).astype(dt)  # noqa: E731
    a = dict(input=f(N, T, F), weight_ih=f(G * H, F, k=0.5 / np.sqrt(F)), weight_hh=f(G * H, H, k=0.5 / np.sqrt(H)),
             bias_ih=f(G * H, k=0.3) if bias else None, bias_hh=f(G * H, k=0.3) if bias else None,
             h0=f(N, H) if state else None, c0=f(N, H) if state and mode == "lstm" else None)
    g = dict(grad_output=f(N, T, H), grad_h_n=f(N, H), grad_c_n=f(N, H) if mode == "lstm" else None)
    dev = lambda d: {k: None if v is None else cp.asarray(v) for k, v in d.items()}  # noqa: E731
    f64 = lambda d: {k: None if v is None else v.astype(np.float64) for k, v in d.items()}  # noqa: E731
    return a, g, dev(a), dev(g), f64(a), f64(g)


@pytest.mark.gpu
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("rung", [None, 1, 2])
@pytest.mark.parametrize("mode", list(RNN_MODES))
def test_cuda_rnn_matches_reference(cp, mode, rung, go_backwards, dt):
    from fastann import ops
    from fastann import reference as ref

    tol = 2e-5 if dt == np.float32 else 1e-11
    for i, shape in enumerate(RNN_SHAPES):
        if rung == 1 and shape[3] > 100:
            continue  # the textbook rung is slow on big hidden sizes and its math is the same at any size
        bias = state = i % 2 == 0
        _, _, a, g, a64, g64 = _rnn_case(cp, mode, dt, shape, seed=i, bias=bias, state=state)
        R = ref.rnn(**a64, mode=mode, go_backwards=go_backwards)
        O = ops.rnn(**a, mode=mode, go_backwards=go_backwards, rung=rung)
        for name, o, r_ in zip(["output", "h_n", "c_n", "saved"], O, R):
            assert (o is None) == (r_ is None), name
            if o is not None:
                assert isinstance(o, cp.ndarray) and o.dtype == dt
                assert_close(o.get(), r_, tol, f"{mode} {shape} {name}")
        RB = ref.rnn_backward(**g64, input=a64["input"], weight_ih=a64["weight_ih"], weight_hh=a64["weight_hh"],
                              output=R[0], saved=R[3], h0=a64["h0"], c0=a64["c0"], mode=mode,
                              go_backwards=go_backwards)
        B = ops.rnn_backward(**g, input=a["input"], weight_ih=a["weight_ih"], weight_hh=a["weight_hh"], output=O[0],
                             saved=O[3], h0=a["h0"], c0=a["c0"], mode=mode, go_backwards=go_backwards, rung=rung)
        for name, b, r_ in zip(["dinput", "dh0", "dc0", "dweight_ih", "dweight_hh", "dbias_ih", "dbias_hh"], B, RB):
            assert (b is None) == (r_ is None), name
            if b is not None:
                assert_close(b.get(), r_, 10 * tol, f"{mode} {shape} {name}")


@pytest.mark.gpu
@pytest.mark.parametrize("rung", [1, 2])
@pytest.mark.parametrize("mode", list(RNN_MODES))
def test_cuda_rnn_nan_propagates(cp, mode, rung):
    from fastann import ops

    x, _, a, _, _, _ = _rnn_case(cp, mode, np.float32, (2, 3, 4, 5), seed=1)
    x["input"][1, 0, 2] = np.nan  # batch row 1, first step: every later h of row 1 is NaN, row 0 is not
    a["input"] = cp.asarray(x["input"])
    out = ops.rnn(**a, mode=mode, rung=rung)[0].get()
    assert np.isnan(out[1]).all() and np.isfinite(out[0]).all()


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"])
def test_cuda_recurrent_layers_train_like_the_cpu(cp, kind):
    """model.to("cuda") with a recurrent layer: predictions and two SGD steps agree with the CPU model."""
    from fastann import layers
    from fastann.models import Sequential

    r = np.random.default_rng(0)
    x = r.standard_normal((32, 7, 5)).astype(np.float32)
    y = r.integers(0, 3, 32)

    def make():
        cls = getattr(layers, kind.split("_")[0])
        kw = {"reset_after": False} if kind == "GRU_reset_before" else {}
        m = Sequential([layers.Input((7, 5)), cls(6, return_sequences=True, go_backwards=True, **kw), cls(4, **kw),
                        layers.Dense(3, activation="softmax")], seed=5)
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        return m

    cpu, gpu = make(), make().to("cuda")
    w0 = cpu.get_weights()
    np.testing.assert_allclose(gpu.predict(x, verbose=0), cpu.predict(x, verbose=0), rtol=1e-4, atol=1e-6)
    cpu.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    gpu.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for w, wc, wg in zip(w0, cpu.get_weights(), gpu.get_weights()):  # the updates (about 1e-3) agree
        np.testing.assert_allclose(wg - w, wc - w, rtol=1e-3, atol=1e-7)


# ---------------------------------------------------------------------------------------------------------
# Backend choice in fastann.ops (no GPU needed: a stand-in class that claims to be CuPy's ndarray)
# ---------------------------------------------------------------------------------------------------------

class _FakeCupyArray:
    """Looks like a cupy.ndarray to fastann's type checks (they go by module name); never reaches a kernel."""


_FakeCupyArray.__module__ = "cupy._core.core"


def test_backend_rejects_mixed_numpy_and_cupy():
    from fastann.ops._common import backend

    with pytest.raises(TypeError, match=r"a is a numpy.ndarray \(CPU\), b is a cupy.ndarray \(GPU\)"):
        backend("gemm", a=np.zeros(2), b=_FakeCupyArray())


def test_backend_picks_the_module_by_array_type():
    from fastann.ops._common import backend

    k, xp = backend("relu", input=np.zeros(2))
    assert k is _backend.cpu and xp is np
    if cuda_mod is None:
        with pytest.raises(RuntimeError, match="fastann._cuda is not available"):
            backend("relu", input=_FakeCupyArray())


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, ns", [((5, 7), 7), ((3, 4, 300), (4, 300)), ((1000, 33), 33), ((2, 1), 1)])
def test_cuda_layer_norm_matches_the_reference(cp, rng, dtype, shape, ns):
    from fastann import ops, reference
    nsT = (ns,) if isinstance(ns, int) else ns
    x = (rng.standard_normal(shape) + 2).astype(dtype)
    w, b = rng.uniform(0.5, 1.5, nsT).astype(dtype), rng.standard_normal(nsT).astype(dtype)
    y, m, s = ops.layer_norm(cp.asarray(x), ns, cp.asarray(w), cp.asarray(b), return_stats=True)
    ry, rm, rs = reference.layer_norm(x, ns, w, b, return_stats=True)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(y.get(), ry, tol, "layer_norm output", scale=np.abs(ry) + 1)
    assert_close(s.get(), rs, tol, "layer_norm invstd")
    g = rng.standard_normal(shape).astype(dtype)
    dx, dw, db = ops.layer_norm_backward(cp.asarray(g), cp.asarray(x), ns, cp.asarray(w), m, s)
    rdx, rdw, rdb = reference.layer_norm_backward(g, x, ns, w, m.get(), s.get())
    assert_close(dx.get(), rdx, 10 * tol, "layer_norm dinput", scale=np.abs(g) * rs.max() * 2)
    assert_close(dw.get(), rdw, 10 * tol, "layer_norm dweight", scale=np.abs(rdw) + np.abs(g).sum() / rdw.size)
    assert_close(db.get(), rdb, 10 * tol, "layer_norm dbias", scale=np.abs(rdb) + np.abs(g).sum() / rdb.size)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4, 5), (300, 257), (100000,)])
def test_cuda_adafactor_matches_the_reference(cp, rng, dtype, shape):
    from fastann import ops, reference
    p = rng.standard_normal(shape).astype(dtype)
    P = cp.asarray(p)
    factored = len(shape) >= 2
    st = ([np.zeros(shape[:-1], dtype), np.zeros(shape[:-2] + shape[-1:], dtype), None] if factored
          else [None, None, np.zeros(shape, dtype)])
    S = [None if a is None else cp.asarray(a) for a in st]
    for t in (1, 2, 3):
        g = rng.standard_normal(shape).astype(dtype)
        ops.adafactor_step(P, cp.asarray(g), *S, step=t, lr=0.05)
        reference.adafactor_step(p, g, *st, step=t, lr=0.05)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert_close(P.get(), p, tol, "adafactor param")
    for a, b in zip(S, st):
        if a is not None:
            assert_close(a.get(), b, tol, "adafactor state")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, C", [((7,), 1), ((4, 5), 5), ((2, 3, 4, 5), 3), ((2, 3, 4, 5), 1), ((300, 257), 257)])
def test_cuda_prelu_matches_the_reference(cp, rng, dtype, shape, C):
    from fastann import ops, reference
    x, w, g = (rng.standard_normal(s).astype(dtype) for s in (shape, (C,), shape))
    assert_close(ops.prelu(cp.asarray(x), cp.asarray(w)).get(), reference.prelu(x, w), 1e-6, "prelu")
    dx, dw = ops.prelu_backward(cp.asarray(g), cp.asarray(x), cp.asarray(w))
    rdx, rdw = reference.prelu_backward(g, x, w)
    assert_close(dx.get(), rdx, 1e-6, "prelu dinput")
    assert_close(dw.get(), rdw, 1e-5, "prelu dweight", scale=np.abs(g * x).sum() / C * np.ones(C))
