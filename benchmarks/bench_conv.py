#!/usr/bin/env python
"""conv2d benchmark: every rung and direction of fastann's conv ladder against a NumPy im2col reference and
PyTorch CPU (NCHW and channels_last), on the CNN's layer shapes and a VGG-style layer.

    python benchmarks/bench_conv.py             # all shapes, rungs 1-4 + auto, 1 and 2 threads
    python benchmarks/bench_conv.py --quick     # shorter budget; the naive rung only on the small layer
    python benchmarks/bench_conv.py --threads 2 --no-numpy --no-naive
    python benchmarks/bench_conv.py --threads 1 --cpu-time --no-numpy --no-naive   # robust on a loaded machine
    python benchmarks/bench_conv.py --sweep-winograd   # rung 3 / rung 4 time over channels and sizes
    python benchmarks/bench_conv.py --sweep-winograd-phases   # the same for 4x4 stride-2 layers (N 64)

Shapes (float32, NCHW, 3x3 kernels, stride 1, padding 1):
    cnn conv1   N=128, 1 -> 32 channels, 28x28      (the CNN's first layer: its input gradient is never needed)
    cnn conv2   N=128, 32 -> 64 channels, 14x14
    vgg         N=32, 64 -> 64 channels, 56x56
Directions: fwd (conv2d), bwd_in (conv2d_backward_input), bwd_w (conv2d_backward_weight, no bias). Rung 4 is
Winograd: F(2x2, 3x3) for fwd and bwd_in, F(3x3, 2x2) for bwd_w.

Prints median ms, GFLOP/s (2*MACs per direction; the same count for every direction and rung, so rung 4's
Winograd figures are effective rates that can pass 100%), % of the FMA peak
(fastann._cpu.fma_peak_gflops per core, times the threads) and the speed ratio to PyTorch's best layout
(PyTorch time / fastann time: > 1 means fastann is faster). PyTorch runs in this process
(torch.set_num_threads) through the same kernels its autograd uses (aten.convolution_backward for the two
gradients); it is skipped with a message when `import torch` fails. The NumPy peer (im2col with
sliding_window_view, then one float32 matmul on OpenBLAS) runs in a subprocess with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE *unset*, so OpenBLAS uses its native kernels rather than the Haswell ones these machines
force. The machine is shared: every figure is a median over repeats and still noisy.
Results go to benchmarks/results/bench_conv.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))  # a source checkout with an in-place build

# name: (N, C, H, W, OC, K, pad)
SHAPES = {
    "cnn conv1": (128, 1, 28, 28, 32, 3, 1),
    "cnn conv2": (128, 32, 14, 14, 64, 3, 1),
    "vgg 64x56": (32, 64, 56, 56, 64, 3, 1),
}
DIRECTIONS = ("fwd", "bwd_in", "bwd_w")


def operands(shape, seed=0, stride=1):
    N, C, H, W, OC, K, pad = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((OC, C, K, K)) / np.sqrt(C * K * K)).astype(np.float32)
    OH, OW = (H + 2 * pad - K) // stride + 1, (W + 2 * pad - K) // stride + 1
    g = rng.standard_normal((N, OC, OH, OW)).astype(np.float32)
    return x, w, g


def flops(shape):
    N, C, H, W, OC, K, pad = shape
    OH, OW = H + 2 * pad - K + 1, W + 2 * pad - K + 1
    return 2.0 * N * OC * OH * OW * C * K * K


CLOCK = time.perf_counter  # --cpu-time: time.process_time (CPU seconds of all threads of this process)


def median_time(fn, budget_s: float, min_reps: int = 3, max_reps: int = 100) -> float:
    """Median time of fn() over repeats (wall, or process CPU time with --cpu-time): at least min_reps,
    more while under budget_s of wall time."""
    fn()  # warm-up: page faults, scratch buffers, thread pools
    times = []
    start = time.perf_counter()
    while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() - start < budget_s):
        t = CLOCK()
        fn()
        times.append(CLOCK() - t)
    return float(np.median(times))


# ---- NumPy im2col peer (subprocess, native OpenBLAS) -------------------------------------------------

def numpy_conv(shape):
    """The three directions as im2col + one matmul each (the textbook formulation, float32)."""
    from numpy.lib.stride_tricks import sliding_window_view

    N, C, H, W, OC, K, pad = shape
    x, w, g = operands(shape)
    OH, OW = H + 2 * pad - K + 1, W + 2 * pad - K + 1
    wmat = w.reshape(OC, C * K * K)

    def cols():
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        v = sliding_window_view(xp, (K, K), axis=(2, 3))  # (N, C, OH, OW, K, K)
        return np.ascontiguousarray(v.transpose(0, 2, 3, 1, 4, 5)).reshape(N * OH * OW, C * K * K)

    gmat = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).reshape(N * OH * OW, OC)

    def fwd():
        out = cols() @ wmat.T  # (N*OH*OW, OC)
        return np.ascontiguousarray(out.reshape(N, OH, OW, OC).transpose(0, 3, 1, 2))

    def bwd_in():
        dcol = (gmat @ wmat).reshape(N, OH, OW, C, K, K)
        dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), np.float32)
        for kh in range(K):  # col2im: scatter-add each tap's slice
            for kw in range(K):
                dxp[:, :, kh:kh + OH, kw:kw + OW] += dcol[:, :, :, :, kh, kw].transpose(0, 3, 1, 2)
        return dxp[:, :, pad:pad + H, pad:pad + W]

    def bwd_w():
        return (gmat.T @ cols()).reshape(OC, C, K, K)

    return {"fwd": fwd, "bwd_in": bwd_in, "bwd_w": bwd_w}


def numpy_worker(spec: str) -> None:
    job = json.loads(spec)
    res = {}
    for name in job["shapes"]:
        fns = numpy_conv(tuple(SHAPES[name]))
        for d in DIRECTIONS:
            res[f"{name}|{d}"] = median_time(fns[d], job["budget"])
    print(json.dumps(res))


def numpy_peer(shape_names, threads: int, budget: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    spec = json.dumps({"shapes": list(shape_names), "budget": budget})
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--numpy-worker", spec], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- PyTorch peer (in process) -----------------------------------------------------------------------

def torch_fns(torch, shape, channels_last: bool):
    N, C, H, W, OC, K, pad = shape
    x, w, g = operands(shape)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    xt = torch.from_numpy(x).contiguous(memory_format=fmt)
    wt = torch.from_numpy(w).contiguous(memory_format=fmt)
    gt = torch.from_numpy(g).contiguous(memory_format=fmt)
    conv_bwd = torch.ops.aten.convolution_backward
    args = ([1, 1], [pad, pad], [1, 1], False, [0, 0], 1)

    def fwd():
        return torch.nn.functional.conv2d(xt, wt, None, 1, pad)

    def bwd_in():
        return conv_bwd(gt, xt, wt, None, *args, [True, False, False])

    def bwd_w():
        return conv_bwd(gt, xt, wt, None, *args, [False, True, False])

    return {"fwd": fwd, "bwd_in": bwd_in, "bwd_w": bwd_w}


# ---- fastann -----------------------------------------------------------------------------------------

def fastann_fns(ops, shape, rung, stride=1):
    N, C, H, W, OC, K, pad = shape
    x, w, g = operands(shape, stride=stride)
    return {
        "fwd": lambda: ops.conv2d(x, w, None, stride, pad, rung=rung),
        "bwd_in": lambda: ops.conv2d_backward_input(g, w, x.shape, stride, pad, rung=rung),
        "bwd_w": lambda: ops.conv2d_backward_weight(g, x, w.shape, stride, pad, rung=rung),
    }


def sweep_winograd():
    """Rung 3 time / rung 4 time (> 1: Winograd is faster) per direction for 3x3, stride 1, padding 1, float32,
    at 1 thread in process CPU time, over (C, OC) and square image sizes, the batch sized to ~4M multiply-adds
    per tap."""
    global CLOCK
    CLOCK = time.process_time
    import fastann
    from fastann import ops

    fastann.set_num_threads(1)
    print("rung 3 time / rung 4 time, 1 thread, CPU time (> 1: Winograd faster)")
    print(f"{'C':>4s} {'OC':>4s} {'HxW':>6s} {'N':>4s} {'fwd':>6s} {'bwd_in':>7s} {'bwd_w':>6s}")
    for C, OC in [(8, 16), (16, 16), (16, 32), (32, 64), (64, 32), (64, 64), (128, 128)]:
        for hw in (5, 7, 10, 14, 16, 28, 56):
            N = int(min(256, max(1, 4e6 // (C * hw * hw * max(C, OC) / 16))))
            ratio = {}
            for d in DIRECTIONS:
                t = [median_time(fastann_fns(ops, (N, C, hw, hw, OC, 3, 1), k)[d], 0.3, min_reps=5) for k in (3, 4)]
                ratio[d] = t[0] / t[1]
            print(f"{C:4d} {OC:4d} {hw:3d}x{hw:<2d} {N:4d} {ratio['fwd']:6.2f} {ratio['bwd_in']:7.2f} "
                  f"{ratio['bwd_w']:6.2f}", flush=True)


def sweep_winograd_phases(n=64):
    """Rung 3 time / rung 4 time per direction for 4x4 kernels with stride 2 and padding 1 (Keras's "same" on
    even sizes; rung 4 = Winograd F(4x4, 2x2) on the stride phases), float32, batch ``n``, at 1 thread in
    process CPU time, over (C, OC) and square input sizes."""
    global CLOCK
    CLOCK = time.process_time
    import fastann
    from fastann import ops

    fastann.set_num_threads(1)
    print(f"4x4 stride 2, N {n}: rung 3 time / rung 4 time, 1 thread, CPU time (> 1: Winograd faster)")
    print(f"{'C':>4s} {'OC':>4s} {'HxW':>6s} {'fwd':>6s} {'bwd_in':>7s} {'bwd_w':>6s}")
    for hw in (8, 14, 28):
        for C, OC in [(8, 16), (16, 32), (32, 64), (64, 64), (64, 128), (128, 64), (128, 128), (128, 256),
                      (256, 512)]:
            fns = {k: fastann_fns(ops, (n, C, hw, hw, OC, 4, 1), k, stride=2) for k in (3, 4)}
            ratio = {d: median_time(fns[3][d], 0.3, min_reps=5) / median_time(fns[4][d], 0.3, min_reps=5)
                     for d in DIRECTIONS}
            print(f"{C:4d} {OC:4d} {hw:3d}x{hw:<2d} {ratio['fwd']:6.2f} {ratio['bwd_in']:7.2f} {ratio['bwd_w']:6.2f}",
                  flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter budget; naive rung only on the small layer")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--no-numpy", action="store_true", help="skip the NumPy im2col peer")
    ap.add_argument("--no-naive", action="store_true", help="skip rung 1 (seconds per call on these shapes)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with process CPU time instead of wall time (robust on an overloaded machine at "
                         "1 thread; at 2 threads it sums both threads)")
    ap.add_argument("--sweep-winograd", action="store_true",
                    help="only print rung 3 / rung 4 time ratios (each direction; 1 thread, CPU time) over channel "
                         "counts and image sizes: the measurements behind rung=None's choice of rung 4")
    ap.add_argument("--sweep-winograd-phases", action="store_true",
                    help="the same ratios for 4x4 stride-2 layers (Winograd F(4x4, 2x2) on the stride phases), N 64")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bench_conv.json"))
    ap.add_argument("--numpy-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.numpy_worker:
        numpy_worker(args.numpy_worker)
        return
    if args.sweep_winograd:
        sweep_winograd()
        return
    if args.sweep_winograd_phases:
        sweep_winograd_phases()
        return
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time

    import fastann
    from fastann import _cpu as cpu
    from fastann import ops

    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - any import failure means: no PyTorch peer
        torch = None
        print(f"PyTorch not available ({exc}): skipping the PyTorch columns")

    budget = 0.3 if args.quick else 1.0
    threads_list = [int(t) for t in args.threads.split(",")]
    peak_core = cpu.fma_peak_gflops(0.5) if hasattr(cpu, "fma_peak_gflops") else 237.0
    info = fastann.build_info()
    print(f"fastann {info['version']}  SIMD path: {info['simd']}  CPU: {platform.processor() or platform.machine()}"
          f"  cores: {os.cpu_count()}")
    print(f"fp32 FMA peak per core: {peak_core:.1f} GFLOP/s"
          f" ({'fastann._cpu.fma_peak_gflops' if hasattr(cpu, 'fma_peak_gflops') else 'assumed'})")
    if torch is not None:
        print(f"PyTorch {torch.__version__} (in process, aten kernels; NCHW and channels_last)")
    if not args.no_numpy:
        print("NumPy im2col peer: subprocess with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (native OpenBLAS)")
    print("GFLOP/s = the direct algorithm's 2*MACs / time for every rung (k=4, Winograd, does 2.25x fewer)")
    print("(shared machine: figures are medians and still noisy)"
          + ("; CPU time (time.process_time), not wall time" if args.cpu_time else "; wall time"))

    rows, summary = [], []
    for threads in threads_list:
        fastann.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        peak = peak_core * threads
        peer_np = {} if args.no_numpy else numpy_peer(SHAPES, threads, budget)
        print(f"\n== {threads} thread(s); peak {peak:.0f} GFLOP/s; ratio = PyTorch best layout / fastann ==")
        print(f"{'shape':10s} {'dir':7s} {'impl':14s} {'median ms':>10s} {'GFLOP/s':>8s} {'% peak':>7s} "
              f"{'vs torch':>9s}")
        for name, shape in SHAPES.items():
            fl = flops(shape)
            totals = {}
            for d in DIRECTIONS:
                entries = []
                if torch is not None:
                    for cl in (False, True):
                        t = median_time(torch_fns(torch, shape, cl)[d], budget)
                        entries.append(("torch " + ("chlast" if cl else "nchw"), t))
                if not args.no_numpy:
                    entries.append(("numpy im2col", peer_np[f"{name}|{d}"]))
                naive_ok = not args.no_naive and not (args.quick and shape[0] * shape[4] * shape[1] > 128 * 32 * 1)
                for k in ([1] if naive_ok else []) + [2, 3, 4, None]:
                    fn = fastann_fns(ops, shape, k)[d]
                    t = median_time(fn, budget if k != 1 else 0.0, min_reps=3 if k != 1 else 1)
                    entries.append((f"fastann k={k if k else 'auto'}", t))
                torch_best = min((t for i, t in entries if i.startswith("torch")), default=None)
                for impl, t in entries:
                    gf = fl / t * 1e-9
                    ratio = torch_best / t if torch_best else float("nan")
                    rows.append(dict(shape=name, dims=shape, direction=d, threads=threads, impl=impl, median_s=t,
                                     gflops=gf, pct_peak=100 * gf / peak, ratio_vs_torch_best=ratio))
                    print(f"{name:10s} {d:7s} {impl:14s} {t * 1e3:10.3f} {gf:8.1f} {100 * gf / peak:6.1f}% "
                          f"{ratio:8.2f}x")
                    totals.setdefault(impl, {})[d] = t
            # Done-means 2: the training step's conv work per layer (conv1 never needs its input gradient)
            dirs = ("fwd", "bwd_w") if name == "cnn conv1" else DIRECTIONS
            line = {impl: sum(v[d] for d in dirs) for impl, v in totals.items() if all(d in v for d in dirs)}
            summary.append(dict(shape=name, threads=threads, directions=dirs, total_s=line))
            best = " ".join(f"{i}={t * 1e3:.2f}ms" for i, t in line.items()
                            if i.startswith("torch") or i == "fastann k=auto")
            print(f"{name:10s} {'+'.join(dirs)}: {best}")

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(dict(peak_gflops_per_core=peak_core, simd=info["simd"], numpy=np.__version__,
                       torch=None if torch is None else torch.__version__,
                       env_unset_for_numpy=["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"], rows=rows, summary=summary),
                  f, indent=1)
    print(f"\nwrote {args.out}")
    try:
        import fastann.ops.pool  # noqa: F401,PLC0415
        if hasattr(ops, "max_pool2d"):
            print("pooling / batch-norm timings: see benchmarks/bench_pool_norm.py")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
