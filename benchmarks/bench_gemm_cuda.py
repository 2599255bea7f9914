"""CUDA GEMM ladder vs cuBLAS (CuPy matmul, TF32 off): GFLOP/s, % of cuBLAS, % of fp32 peak.

    python benchmarks/bench_gemm_cuda.py [--quick] [--sizes 1024 4096] [--rungs 6 7] [--repeats 10]

Writes benchmarks/results/gemm_cuda.json. Needs a GPU, CuPy and fastann._cuda.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import _cuda_gemm_bench  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="sizes 1024 and 4096, 5 repeats")
    p.add_argument("--sizes", type=int, nargs="*", default=None)
    p.add_argument("--rungs", type=int, nargs="*", default=None)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--no-mlp", action="store_true", help="skip the MLP shapes")
    args = p.parse_args(argv)
    sizes = args.sizes or ([1024, 4096] if args.quick else None)
    repeats = 5 if args.quick else args.repeats
    res = _cuda_gemm_bench.run(sizes=sizes, rungs=args.rungs, repeats=repeats, mlp=not args.no_mlp)
    out_dir = os.path.join(os.path.dirname(__file__), "results")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "gemm_cuda.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
