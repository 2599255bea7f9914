"""Benchmark: fastann layer_norm (forward, backward) and prelu (forward, backward) against PyTorch CPU.

    PYTHONPATH=python python benchmarks/bench_layer_norm.py [--quick] [--threads 1 2]

Shapes: (batch*tokens, features) rows of a transformer block, (4096, 512) and (512, 4096), float32, and the
CNN's conv output (128, 32, 28, 28) for prelu with one weight per channel. For each op, thread count and shape
it prints the median time over repeats and the ratio PyTorch-time / fastann-time (> 1: fastann is faster),
PyTorch measured in the same process with the same thread count (skipped, with a message, when torch is not
importable). The backward rows time what training runs: torch's aten backward ops on saved statistics.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import fastann  # noqa: E402
from fastann import ops  # noqa: E402

try:
    import torch
except Exception as exc:  # noqa: BLE001 - any import failure means "no peer"
    torch, TORCH_ERROR = None, f"{type(exc).__name__}: {exc}"
else:
    TORCH_ERROR = None


def median_ms(f, repeats):
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def cases(rng):
    """(name, fastann callable, torch callable or None)."""
    out = []
    for M, N in ((4096, 512), (512, 4096)):
        x = rng.standard_normal((M, N)).astype(np.float32)
        w, b = np.ones(N, np.float32), np.zeros(N, np.float32)
        g = rng.standard_normal((M, N)).astype(np.float32)
        _, mean, invstd = ops.layer_norm(x, N, w, b, return_stats=True)
        tf = tb = None
        if torch is not None:
            X, W, B, G = (torch.from_numpy(a) for a in (x, w, b, g))
            _, tm, ti = torch.ops.aten.native_layer_norm(X, [N], W, B, 1e-5)
            tf = lambda X=X, W=W, B=B, N=N: torch.nn.functional.layer_norm(X, (N,), W, B)  # noqa: E731
            tb = lambda G=G, X=X, W=W, B=B, tm=tm, ti=ti, N=N: torch.ops.aten.native_layer_norm_backward(  # noqa: E731
                G, X, [N], tm, ti, W, B, [True, True, True])
        out.append((f"layer_norm fwd {M}x{N}", lambda x=x, w=w, b=b, N=N: ops.layer_norm(x, N, w, b), tf))
        out.append((f"layer_norm bwd {M}x{N}",
                    lambda g=g, x=x, w=w, m=mean, s=invstd, N=N: ops.layer_norm_backward(g, x, N, w, m, s), tb))
    x = rng.standard_normal((128, 32, 28, 28)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w = np.full(32, 0.25, np.float32)
    tf = tb = None
    if torch is not None:
        X, W, G = (torch.from_numpy(a) for a in (x, w, g))
        tf = lambda: torch.nn.functional.prelu(X, W)  # noqa: E731
        W4 = W.view(1, 32, 1, 1)  # autograd's view of the weight; its gradient is then summed per channel

        def tb():
            dx, dw = torch.ops.aten._prelu_kernel_backward(G, X, W4)
            return dx, dw.sum((0, 2, 3))
    out.append(("prelu fwd 128x32x28x28", lambda: ops.prelu(x, w), tf))
    out.append(("prelu bwd 128x32x28x28", lambda: ops.prelu_backward(g, x, w), tb))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 repeats instead of 30")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, fastann.get_num_threads()])
    a = ap.parse_args()
    if torch is None:
        print(f"PyTorch not importable ({TORCH_ERROR}): fastann times only")
    rng = np.random.default_rng(0)
    table = cases(rng)
    repeats = 5 if a.quick else 30
    for t in a.threads:
        fastann.set_num_threads(t)
        if torch is not None:
            torch.set_num_threads(t)
        for name, f, tf in table:
            ms = median_ms(f, repeats)
            line = f"threads={t}  {name:28s} fastann {ms:8.3f} ms"
            if tf is not None:
                tms = median_ms(tf, repeats)
                line += f"   torch {tms:8.3f} ms   torch/fastann {tms / ms:5.2f}"
            print(line)


if __name__ == "__main__":
    main()
