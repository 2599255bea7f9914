"""The linear layer (ops.linear and ops.linear_backward) at Dense shapes, 1 and 2 threads, against PyTorch CPU and
NumPy on native OpenBLAS.

    python benchmarks/bench_linear.py            # 3 alternating rounds
    python benchmarks/bench_linear.py --quick    # 1 round

Shapes (batch 128, float32): the MLP's first layer (784 -> 300), and the heads with few outputs that run as dot
products instead of the packed GEMM (csrc/cpu/gemm.cpp, kLinearNarrowMaxOut): a DCGAN discriminator's
Dense(1) after Flatten (6272 -> 1), a binary classifier's Dense(1) (300 -> 1), two outputs (6272 -> 2), and
just past the cut (6272 -> 4). "fwd" is y = x W^T + b; "bwd" the weight, bias and input gradients. Contenders
and table as benchmarks/bench_elementwise.py (each in a fresh process, medians of the process medians, µs per
call with the Python call and output allocation; NumPy: x @ W.T + b and (g.T @ x, g.sum(0), g @ W) on
OpenBLAS with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset and one thread). Results go to
benchmarks/results/bench_linear.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import bench_elementwise as be

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [(128, 784, 300), (128, 6272, 1), (128, 300, 1), (128, 6272, 2), (128, 6272, 4)]  # (N, in, out)


def worker(lib, threads):
    import numpy as np

    rng = np.random.default_rng(0)
    res = {}
    if lib == "fastann":
        import fastann
        from fastann import ops
        fastann.set_num_threads(threads)
    elif lib == "torch":
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(threads)
    for n, i, o in SHAPES:
        x = rng.standard_normal((n, i)).astype(np.float32)
        w = rng.standard_normal((o, i)).astype(np.float32)
        b = rng.standard_normal(o).astype(np.float32)
        g = rng.standard_normal((n, o)).astype(np.float32)
        if lib == "fastann":
            fwd = lambda: ops.linear(x, w, b)  # noqa: E731
            bwd = lambda: ops.linear_backward(g, x, w)  # noqa: E731
        elif lib == "numpy":
            fwd = lambda: x @ w.T + b  # noqa: E731
            bwd = lambda: (g.T @ x, g.sum(0), g @ w)  # noqa: E731
        else:
            tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, g))
            fwd = lambda: F.linear(tx, tw, tb)  # noqa: E731
            bwd = lambda: (tg.T @ tx, tg.sum(0), tg @ tw)  # noqa: E731
        res[f"fwd {i}->{o}"] = be.timed_us(fwd)
        res[f"bwd {i}->{o}"] = be.timed_us(bwd)
    return res


def native_openblas(lib, threads):
    """The worker's environment: OpenBLAS on its native kernels (CORETYPE / L2_SIZE unset), `threads` threads."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return dict(env, OPENBLAS_NUM_THREADS=str(threads))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3, --quick 1)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bench_linear.json"))
    ap.add_argument("--worker", choices=["fastann", "torch", "numpy"], help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads)))
        return
    sys.path.insert(0, os.path.join(HERE, "..", "python"))  # a source checkout without fastann installed
    import fastann
    import _training_bench as tb
    from _machine import describe

    lines, facts = describe(fastann)
    print("\n".join(lines))
    rounds = args.rounds or (1 if args.quick else 3)
    rows = [be.run_round(__file__, env_for=native_openblas) for _ in range(rounds)]
    results = {"machine": facts, "idle": be.table(rows, "idle machine")}
    tb.write_results(args.out, results)


if __name__ == "__main__":
    main()
