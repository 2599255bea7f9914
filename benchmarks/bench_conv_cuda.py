"""CUDA conv2d rungs (every direction), max/avg pooling and batch norm vs PyTorch CUDA (cuDNN, TF32 off).

    python benchmarks/bench_conv_cuda.py [--quick] [--repeats 20]

Shapes: the CNN's two conv layers at batch 128 (1->32 and 32->64, 3x3, "same", 28x28 and 14x14), a VGG-style
layer (batch 32, 64->64, 3x3, 56x56, pad 1); pooling and batch norm on the CNN's activations. Times are
medians of CUDA-event-timed repeats after a warm-up, in ms; PyTorch is measured in the same process in NCHW
and channels_last (its best layout is the ratio's denominator). Writes benchmarks/results/conv_cuda.json.
Needs a GPU, CuPy and fastann._cuda; PyTorch (CUDA build) optional.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics

import numpy as np

CONV_SHAPES = [  # name, (N, C, H, W), (OC, C, KH, KW), padding
    ("cnn_conv1", (128, 1, 28, 28), (32, 1, 3, 3), 1),
    ("cnn_conv2", (128, 32, 14, 14), (64, 32, 3, 3), 1),
    ("vgg_64x56", (32, 64, 56, 56), (64, 64, 3, 3), 1),
]


def cuda_time(cp, fn, repeats):
    """Median ms of fn() over `repeats` runs, each bracketed by CUDA events on the current stream."""
    fn()
    cp.cuda.get_current_stream().synchronize()
    times = []
    for _ in range(repeats):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop))
    return statistics.median(times)


def torch_peer(xs, ws, pad, repeats):
    """PyTorch CUDA forward / input grad / weight grad in ms, NCHW and channels_last (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    res = {}
    for layout in ("nchw", "channels_last"):
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        x = torch.randn(xs, device="cuda").contiguous(memory_format=fmt)
        w = torch.randn(ws, device="cuda").contiguous(memory_format=fmt)
        y = torch.nn.functional.conv2d(x, w, padding=pad)
        g = torch.randn_like(y)

        def t(fn):
            fn()
            torch.cuda.synchronize()
            times = []
            for _ in range(repeats):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record()
                fn()
                e.record()
                e.synchronize()
                times.append(s.elapsed_time(e))
            return statistics.median(times)

        res[layout] = {
            "forward": t(lambda: torch.nn.functional.conv2d(x, w, padding=pad)),
            "backward_input": t(lambda: torch.nn.grad.conv2d_input(xs, w, g, padding=pad)),
            "backward_weight": t(lambda: torch.nn.grad.conv2d_weight(x, ws, g, padding=pad)),
        }
    return res


def bench_conv(cp, cuda, repeats):
    rows = []
    for name, xs, ws, pad in CONV_SHAPES:
        rng = np.random.default_rng(0)
        x = cp.asarray(rng.standard_normal(xs, dtype=np.float32))
        w = cp.asarray(rng.standard_normal(ws, dtype=np.float32))
        N, C, H, W = xs
        OC, _, KH, KW = ws
        OH, OW = H + 2 * pad - KH + 1, W + 2 * pad - KW + 1
        out = cp.empty((N, OC, OH, OW), np.float32)
        g = cp.asarray(rng.standard_normal(out.shape, dtype=np.float32))
        dx, dw = cp.empty(xs, np.float32), cp.empty(ws, np.float32)
        geo = (1, 1, pad, pad, pad, pad, 1, 1, 1, "zeros")
        flops = 2.0 * N * OC * OH * OW * C * KH * KW
        peer = torch_peer(xs, ws, pad, repeats)
        for direction, call in [
            ("forward", lambda k: cuda.conv2d_forward(out, x, w, None, *geo, k)),
            ("backward_input", lambda k: cuda.conv2d_backward_input(dx, g, w, *geo, k)),
            ("backward_weight", lambda k: cuda.conv2d_backward_weight(dw, None, g, x, *geo, k)),
        ]:
            for k in (1, 2, 3, 0):
                ms = cuda_time(cp, lambda: call(k), repeats)
                row = {"shape": name, "direction": direction, "rung": k, "ms": ms, "gflops": flops / ms / 1e6}
                if peer:
                    best = min(peer["nchw"][direction], peer["channels_last"][direction])
                    row.update(torch_nchw_ms=peer["nchw"][direction], torch_cl_ms=peer["channels_last"][direction],
                               ratio_vs_torch_best=best / ms)
                rows.append(row)
                extra = f"  torch best {best:7.3f} ms  ({best / ms:5.2f}x)" if peer else ""
                print(f"{name:10s} {direction:16s} rung={k}  {ms:8.3f} ms  {row['gflops']:8.0f} GFLOP/s{extra}")
    return rows


def bench_pool_norm(cp, cuda, repeats):
    rows = []
    rng = np.random.default_rng(1)
    for shape in [(128, 32, 28, 28), (128, 64, 14, 14)]:
        x = cp.asarray(rng.standard_normal(shape, dtype=np.float32))
        N, C, H, W = shape
        half = (N, C, H // 2, W // 2)
        out, idx = cp.empty(half, np.float32), cp.empty(half, np.int64)
        gb = 4.0 * x.size + 12.0 * out.size  # bytes moved by max_pool2d forward: read x, write out + indices
        for k in (1, 2, 3):
            ms = cuda_time(cp, lambda: cuda.max_pool2d_forward(out, idx, x, (2, 2), (2, 2), (0, 0), (1, 1), False, k),
                           repeats)
            rows.append({"op": "max_pool2d", "shape": shape, "rung": k, "ms": ms, "GB/s": gb / ms / 1e6})
            print(f"max_pool2d {shape} rung={k}  {ms:8.3f} ms  {gb / ms / 1e6:7.0f} GB/s")
        y, sm, si = cp.empty_like(x), cp.empty(C, np.float32), cp.empty(C, np.float32)
        rm, rv = cp.zeros(C, np.float32), cp.ones(C, np.float32)
        ms = cuda_time(cp, lambda: cuda.batch_norm_forward_training(y, sm, si, rm, rv, x, None, None, 0.1, 1e-5),
                       repeats)
        rows.append({"op": "batch_norm_training", "shape": shape, "ms": ms, "GB/s": 12.0 * x.size / ms / 1e6})
        print(f"batch_norm training {shape}  {ms:8.3f} ms  {12.0 * x.size / ms / 1e6:7.0f} GB/s (3 passes)")
        dx, dwt, db = cp.empty_like(x), cp.empty(C, np.float32), cp.empty(C, np.float32)
        ms = cuda_time(cp, lambda: cuda.batch_norm_backward(dx, dwt, db, y, x, None, sm, si), repeats)
        rows.append({"op": "batch_norm_backward", "shape": shape, "ms": ms, "GB/s": 20.0 * x.size / ms / 1e6})
        print(f"batch_norm backward {shape}  {ms:8.3f} ms  {20.0 * x.size / ms / 1e6:7.0f} GB/s (5 passes)")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="5 repeats")
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args(argv)
    try:
        import cupy as cp
    except ImportError:
        print("bench_conv_cuda: CuPy is not installed (pip install fastann[cuda]); nothing to measure")
        return 1
    import fastann
    if not fastann.cuda.is_available():
        print(f"no usable GPU: {fastann.cuda.why_unavailable()}")
        return 1
    from fastann import _backend
    cuda = _backend.cuda
    repeats = 5 if args.quick else args.repeats
    print(f"device: {cuda.get_device_name(0)}; float32; CUDA-event medians of {repeats} repeats")
    res = {"device": cuda.get_device_name(0), "conv": bench_conv(cp, cuda, repeats),
           "pool_norm": bench_pool_norm(cp, cuda, repeats)}
    out_dir = os.path.join(os.path.dirname(__file__), "results")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "conv_cuda.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
