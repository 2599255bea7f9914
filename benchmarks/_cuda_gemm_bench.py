"""The CUDA part of the GEMM benchmark: every rung of fastann's CUDA ladder against CuPy's matmul (cuBLAS).

Imported by benchmarks/bench_gemm.py (``--device cuda``) and runnable on its own through
benchmarks/bench_gemm_cuda.py. Timing uses CUDA events on CuPy's current stream (the stream fastann launches
on), medians over repeats after a warm-up. cuBLAS runs with TF32 OFF (CUPY_TF32=0, set before CuPy is
imported), so both sides do true fp32 FMA math. The fp32 peak is estimated from the device: SMs x FP32 lanes
per SM (64 on sm_80, 128 on sm_86/89/90) x 2 FLOP/FMA x SM clock.
"""
from __future__ import annotations

import os
import statistics

os.environ.setdefault("CUPY_TF32", "0")

import numpy as np  # noqa: E402

#: (M, N, K, trans_a, trans_b, label): the GEMMs of the 784-300-100-10 MLP at batch 128 (forward x·Wᵀ,
#: backward dX = dY·W and dW = dYᵀ·X).
MLP_SHAPES = [
    (128, 300, 784, False, True, "mlp fwd 1"), (128, 100, 300, False, True, "mlp fwd 2"),
    (128, 10, 100, False, True, "mlp fwd 3"), (128, 784, 300, False, False, "mlp dX 1"),
    (300, 784, 128, True, False, "mlp dW 1"), (100, 300, 128, True, False, "mlp dW 2"),
]
SQUARE = [512, 1024, 2048, 4096, 8192]
SLOW_RUNGS_MAX_N = 2048  # rungs 1-2 are only timed up to this size


def fp32_peak_gflops(props: dict) -> float:
    """Theoretical fp32 (non-tensor-core) GFLOP/s from fastann._cuda.get_device_properties()."""
    major, minor = props["compute_capability"]
    lanes = 64 if (major, minor) == (8, 0) else 128
    return 2.0 * lanes * props["multiprocessor_count"] * props["clock_khz"] * 1e3 / 1e9


def _time(cp, fn, repeats: int, warmup: int = 2) -> float:
    """Median milliseconds of fn() measured with CUDA events."""
    for _ in range(warmup):
        fn()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    times = []
    for _ in range(repeats):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end))
    return statistics.median(times)


def run(sizes=None, rungs=None, repeats: int = 10, mlp: bool = True, log=print) -> dict:
    """Benchmark the CUDA rungs; returns {"device", "peak_gflops", "rows": [...]} (one row per shape x rung)."""
    import fastann
    from fastann import _backend

    if not fastann.cuda.is_available():
        raise SystemExit(f"bench_gemm --device cuda: no usable GPU: {fastann.cuda.why_unavailable()}")
    try:
        import cupy as cp
    except ImportError as exc:
        raise SystemExit(f"bench_gemm --device cuda needs CuPy (pip install fastann[cuda]): {exc}") from exc
    k = _backend.cuda
    props = k.get_device_properties(0)
    peak = fp32_peak_gflops(props)
    sizes = SQUARE if sizes is None else sizes
    rungs = list(range(1, k.GEMM_NUM_RUNGS + 1)) if rungs is None else rungs
    shapes = [(n, n, n, False, False, f"square {n}") for n in sizes] + (MLP_SHAPES if mlp else [])
    rng = np.random.default_rng(0)
    rows = []
    log(f"device: {props['name']}  fp32 peak ~{peak:.0f} GFLOP/s  (cuBLAS via cupy.matmul, TF32 off)")
    log(f"{'shape':>16} {'kernel':>8} {'ms':>9} {'GFLOP/s':>9} {'%cuBLAS':>8} {'%peak':>6}")
    for M, N, K, ta, tb, label in shapes:
        a = cp.asarray(rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32))
        b = cp.asarray(rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32))
        c = cp.empty((M, N), np.float32)
        flop = 2.0 * M * N * K
        opa = a.T if ta else a
        opb = b.T if tb else b
        ms_ref = _time(cp, lambda: cp.matmul(opa, opb, out=c), repeats)
        ref = cp.matmul(opa, opb)
        entries = [("cuBLAS", ms_ref)]
        for r in [0] + rungs:
            if r in (1, 2) and max(M, N, K) > SLOW_RUNGS_MAX_N:
                continue
            ms = _time(cp, lambda: k.gemm(c, a, b, ta, tb, 1.0, 0.0, r), repeats)
            err = float(cp.linalg.norm(c - ref) / cp.linalg.norm(ref))
            entries.append((f"rung {r}" if r else "auto", ms, err))
        for name, ms, *err in entries:
            gf = flop / ms / 1e6
            row = {"shape": label, "M": M, "N": N, "K": K, "trans_a": ta, "trans_b": tb, "kernel": name,
                   "ms": ms, "gflops": gf, "pct_cublas": 100.0 * ms_ref / ms, "pct_peak": 100.0 * gf / peak}
            if err:
                row["rel_err"] = err[0]
            rows.append(row)
            log(f"{label:>16} {name:>8} {ms:9.4f} {gf:9.1f} {row['pct_cublas']:7.1f}% {row['pct_peak']:5.1f}%"
                + (f"  rel_err {err[0]:.1e}" if err else ""))
    return {"device": props["name"], "peak_gflops": peak, "rows": rows}
