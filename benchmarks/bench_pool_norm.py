"""Benchmark: fastann pooling and batch norm against PyTorch CPU (NCHW and channels_last).

    PYTHONPATH=python python benchmarks/bench_pool_norm.py [--quick] [--threads 1 2] [--only NAME] [--json F]

Shapes are the CNN's (batch 128): 128x32x28x28 (after conv1) and 128x64x14x14 (after conv2), float32.
For each op, thread count and shape it prints the median time over repeats, the effective bandwidth
(bytes the op must read + write, divided by the time) and the ratio PyTorch-time / fastann-time (> 1:
fastann is faster). PyTorch is measured in the same process with the same thread count, in NCHW and
channels_last memory formats (skipped, with a message, when torch is not importable).

Rows:
  max_pool2d fwd     2x2/stride 2, with int64 indices (PyTorch: max_pool2d(return_indices=True), what its
                     autograd runs in training); fastann rungs 1 and 2 (direct, 2x2 on the CPU's best ISA:
                     FASTANN_SIMD=scalar times rung 2's scalar loop) and the auto choice; "kernel only" rows
                     time the compiled function with preallocated outputs
  max_pool2d bwd     scatter by indices
  avg_pool2d fwd/bwd 2x2/stride 2
  batch_norm train   forward with batch statistics and running-stat update
  batch_norm bwd     dx, dgamma, dbeta (PyTorch: aten.native_batch_norm_backward)
  batch_norm infer   forward with running statistics

No NumPy/BLAS peer is timed here, so OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE do not matter to these numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import fastann  # noqa: E402
from fastann import ops  # noqa: E402

CPU = fastann._backend.cpu

try:
    import torch
    import torch.nn.functional as F
except Exception as exc:  # noqa: BLE001 - any import failure means "no peer"
    torch = None
    TORCH_ERROR = f"{type(exc).__name__}: {exc}"
else:
    TORCH_ERROR = None


def timed_ms(f, repeats: int, warmup: int = 2) -> tuple[float, float]:
    """(median, min) wall time in ms. The median is the number reported; the min shows how much of it is
    noise from other processes on a shared machine."""
    for _ in range(warmup):
        f()
    # Cheap ops get more repeats (up to ~0.3 s of calls, at most 200): on a shared machine a median over
    # a handful of sub-millisecond calls is at the mercy of one scheduler hiccup.
    t0 = time.perf_counter()
    f()
    once = max(time.perf_counter() - t0, 1e-6)
    repeats = int(min(200, max(repeats, 0.3 / once)))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3), float(np.min(times) * 1e3)


def set_threads(n: int) -> None:
    fastann.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def cases(shape, rng):
    """(name, bytes moved, fastann callables {label: f}, torch callables {label: f})."""
    N, C, H, W = shape
    x = rng.standard_normal(shape).astype(np.float32)
    n_in = x.size
    n_out = N * C * (H // 2) * (W // 2)
    out = np.empty((N, C, H // 2, W // 2), np.float32)
    idx = np.empty(out.shape, np.int64)
    _, indices = ops.max_pool2d(x, 2)
    g_pool = rng.standard_normal(out.shape).astype(np.float32)
    g_full = rng.standard_normal(shape).astype(np.float32)
    w = rng.uniform(0.5, 1.5, C).astype(np.float32)
    b = rng.standard_normal(C).astype(np.float32)
    rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
    _, save_mean, save_invstd = ops.batch_norm(x, rm, rv, w, b, training=True, return_stats=True)

    # The fused batch norm + ReLU + 2x2 max pool (training) against the same three as separate ops.
    fused_out, f_mean, f_invstd, f_wi = ops.batch_norm_relu(x, rm, rv, w, b, training=True, max_pool=True)
    sep_y = ops.batch_norm(x, rm, rv, w, b, training=True)
    sep_r = ops.relu(sep_y)
    _, sep_idx = ops.max_pool2d(sep_r, 2)

    def separate_fwd():
        y, m, s = ops.batch_norm(x, rm, rv, w, b, training=True, return_stats=True)
        return ops.max_pool2d(ops.relu(y), 2)

    def separate_bwd():
        gz = ops.relu_backward(ops.max_pool2d_backward(g_pool, sep_idx, shape), sep_y)
        return ops.batch_norm_backward(gz, x, w, save_mean, save_invstd)

    geo = ((2, 2), (2, 2), (0, 0), (1, 1), False)
    rungs = [1, 2]
    fa_max = {"auto": lambda: ops.max_pool2d(x, 2)}
    for r in rungs:
        fa_max[f"rung {r}"] = (lambda r=r: ops.max_pool2d(x, 2, rung=r))
    fa_max["auto, kernel only"] = lambda: CPU.max_pool2d_forward(out, idx, x, *geo, 0)

    rows = [
        ("max_pool2d fwd", 4 * n_in + 4 * n_out + 8 * n_out, fa_max),
        ("max_pool2d bwd", 4 * n_out + 8 * n_out + 4 * n_in,
         {"auto": lambda: ops.max_pool2d_backward(g_pool, indices, shape)}),
        ("avg_pool2d fwd", 4 * n_in + 4 * n_out, {"auto": lambda: ops.avg_pool2d(x, 2)}),
        ("avg_pool2d bwd", 4 * n_out + 4 * n_in, {"auto": lambda: ops.avg_pool2d_backward(g_pool, shape, 2)}),
        # Minimum traffic: read x once, write y once (the second read of a channel hits cache).
        ("batch_norm train", 8 * n_in,
         {"auto": lambda: ops.batch_norm(x, rm, rv, w, b, training=True, return_stats=True)}),
        ("batch_norm bwd", 12 * n_in, {"auto": lambda: ops.batch_norm_backward(g_full, x, w, save_mean, save_invstd)}),
        ("batch_norm infer", 8 * n_in, {"auto": lambda: ops.batch_norm(x, rm, rv, w, b)}),
        # Minimum traffic: read x (twice: statistics, then apply; the second read may hit cache), write the
        # pooled output and its byte indices; backward: read the pooled arrays twice (the sums come from the
        # output), x once, write dx.
        ("batch_norm_relu fwd", 8 * n_in + 5 * n_out,
         {"fused (max_pool)": lambda: ops.batch_norm_relu(x, rm, rv, w, b, training=True, max_pool=True),
          "separate ops": separate_fwd}),
        ("batch_norm_relu bwd", 8 * n_in + 17 * n_out,
         {"fused (max_pool)": lambda: ops.batch_norm_relu_backward(g_pool, fused_out, x, w, b, f_mean, f_invstd,
                                                                   f_wi),
          "separate ops": separate_bwd}),
    ]
    if torch is None:
        return [(name, nbytes, fa, {}) for name, nbytes, fa in rows]

    def torch_set(make):
        res = {}
        for fmt_name, fmt in (("NCHW", torch.contiguous_format), ("channels_last", torch.channels_last)):
            res[fmt_name] = make(fmt)
        return res

    tx = torch.from_numpy(x)
    tw, tb = torch.from_numpy(w), torch.from_numpy(b)
    trm, trv = torch.zeros(C), torch.ones(C)
    tg_pool = torch.from_numpy(g_pool)
    tg_full = torch.from_numpy(g_full)
    t_mean, t_invstd = torch.from_numpy(save_mean), torch.from_numpy(save_invstd)

    def t_maxfwd(fmt):
        xx = tx.contiguous(memory_format=fmt)
        return lambda: F.max_pool2d(xx, 2, return_indices=True)

    def t_maxbwd(fmt):
        xx = tx.contiguous(memory_format=fmt)
        gg = tg_pool.contiguous(memory_format=fmt)
        _, ii = F.max_pool2d(xx, 2, return_indices=True)
        return lambda: torch.ops.aten.max_pool2d_with_indices_backward(gg, xx, [2, 2], [2, 2], [0, 0], [1, 1],
                                                                       False, ii)

    def t_avgfwd(fmt):
        xx = tx.contiguous(memory_format=fmt)
        return lambda: F.avg_pool2d(xx, 2)

    def t_avgbwd(fmt):
        xx = tx.contiguous(memory_format=fmt)
        gg = tg_pool.contiguous(memory_format=fmt)
        return lambda: torch.ops.aten.avg_pool2d_backward(gg, xx, [2, 2], [2, 2], [0, 0], False, True, None)

    def t_bntrain(fmt):
        xx = tx.contiguous(memory_format=fmt)
        return lambda: torch.ops.aten.native_batch_norm(xx, tw, tb, trm, trv, True, 0.1, 1e-5)

    def t_bnbwd(fmt):
        xx = tx.contiguous(memory_format=fmt)
        gg = tg_full.contiguous(memory_format=fmt)
        return lambda: torch.ops.aten.native_batch_norm_backward(gg, xx, tw, trm, trv, t_mean, t_invstd, True, 1e-5,
                                                                 [True, True, True])

    def t_bninfer(fmt):
        xx = tx.contiguous(memory_format=fmt)
        return lambda: F.batch_norm(xx, trm, trv, tw, tb, False)

    def t_bnrelupool(fmt):
        xx = tx.contiguous(memory_format=fmt)
        return lambda: F.max_pool2d(F.relu(F.batch_norm(xx, trm, trv, tw, tb, True)), 2, return_indices=True)

    def t_bnrelupool_bwd(fmt):
        xx = tx.contiguous(memory_format=fmt)
        gg = tg_pool.contiguous(memory_format=fmt)
        y = F.batch_norm(xx, trm, trv, tw, tb, True)
        r = F.relu(y)
        _, ii = F.max_pool2d(r, 2, return_indices=True)

        def bwd():
            gr = torch.ops.aten.max_pool2d_with_indices_backward(gg, r, [2, 2], [2, 2], [0, 0], [1, 1], False, ii)
            gy = torch.ops.aten.threshold_backward(gr, r, 0)
            return torch.ops.aten.native_batch_norm_backward(gy, xx, tw, trm, trv, t_mean, t_invstd, True, 1e-5,
                                                             [True, True, True])
        return bwd

    peers = [t_maxfwd, t_maxbwd, t_avgfwd, t_avgbwd, t_bntrain, t_bnbwd, t_bninfer, t_bnrelupool, t_bnrelupool_bwd]
    return [(name, nbytes, fa, torch_set(p)) for (name, nbytes, fa), p in zip(rows, peers)]


def run(quick: bool = False, threads=(1, 2), only: str | None = None):
    rng = np.random.default_rng(0)
    shapes = [(128, 32, 28, 28)] if quick else [(128, 32, 28, 28), (128, 64, 14, 14)]
    repeats = 7 if quick else 25
    results = []
    for shape in shapes:
        for nt in threads:
            set_threads(nt)
            with torch.no_grad() if torch is not None else _null():
                for name, nbytes, fa, peers in cases(shape, rng):
                    if only and only not in name:
                        continue
                    t_peer = {k: timed_ms(f, repeats) for k, f in peers.items()}
                    best_peer = min(t[0] for t in t_peer.values()) if t_peer else None
                    for label, f in fa.items():
                        ms, ms_min = timed_ms(f, repeats)
                        results.append(dict(op=name, variant=label, shape=list(shape), threads=nt, ms=ms,
                                            ms_min=ms_min, gbs=nbytes / ms / 1e6,
                                            torch_nchw_ms=t_peer["NCHW"][0] if t_peer else None,
                                            torch_nchw_ms_min=t_peer["NCHW"][1] if t_peer else None,
                                            torch_channels_last_ms=t_peer["channels_last"][0] if t_peer else None,
                                            torch_channels_last_ms_min=t_peer["channels_last"][1] if t_peer else None,
                                            ratio_vs_best_torch=(best_peer / ms) if best_peer else None))
    return results


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def print_table(results) -> None:
    print(f"fastann {fastann.__version__}, SIMD {CPU.simd_level()}, torch "
          f"{torch.__version__ if torch is not None else 'not available (' + TORCH_ERROR + ')'}; "
          "float32; times are medians (min in brackets); ratio = best PyTorch median / fastann median")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other processes skew timings)")
    hdr = (f"{'op':<21}{'variant':<20}{'shape':<17}{'thr':>3}{'fastann ms':>11}{'(min)':>8}{'GB/s':>7}"
           f"{'torch NCHW':>11}{'(min)':>8}{'torch CL':>10}{'(min)':>8}{'ratio':>7}")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        def fmt(v, spec):
            return format(v, spec) if v is not None else "-".rjust(len(format(0.0, spec)))
        print(f"{r['op']:<21}{r['variant']:<20}{'x'.join(map(str, r['shape'])):<17}{r['threads']:>3}"
              f"{r['ms']:>11.3f}{r['ms_min']:>8.3f}{r['gbs']:>7.1f}{fmt(r['torch_nchw_ms'], '>11.3f')}"
              f"{fmt(r['torch_nchw_ms_min'], '>8.3f')}{fmt(r['torch_channels_last_ms'], '>10.3f')}"
              f"{fmt(r['torch_channels_last_ms_min'], '>8.3f')}{fmt(r['ratio_vs_best_torch'], '>7.2f')}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one shape, fewer repeats")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--only", help="run only the ops whose name contains this (e.g. 'max_pool2d fwd')")
    p.add_argument("--json", help="also write the rows as JSON to this path")
    args = p.parse_args(argv)
    if torch is None:
        print(f"PyTorch not importable ({TORCH_ERROR}): timing fastann alone", file=sys.stderr)
    results = run(args.quick, tuple(args.threads), args.only)
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
