"""Elementwise and row kernels (activations, dropout, losses, softmax, optimizer steps) at 1 and 2 threads,
against PyTorch CPU and the textbook NumPy expressions.

    python benchmarks/bench_elementwise.py                  # every case, 3 rounds
    python benchmarks/bench_elementwise.py --quick          # fewer sizes, 1 round
    python benchmarks/bench_elementwise.py --busy-core      # also: a busy loop holds CPU 1 (a noisy neighbour)
    python benchmarks/bench_elementwise.py --only tanh gelu # cases whose name starts with one of these
    python benchmarks/bench_elementwise.py --only optim     # the optimizer steps

Each contender (fastann at 1 thread, fastann at 2, torch at 1, torch at 2, NumPy) runs in its own fresh
process, the processes alternate for --rounds rounds, and a case's figure is the median over rounds of each
process's median call time (µs, float32, the output allocated by the call as a user gets it, Python call
included). The table gives fastann's 2-thread speed-up over its own 1-thread time (the grains that decide when
a loop is split: csrc/cpu/activation_loops.hpp, dropout_loops.hpp, loss.cpp, softmax.cpp), and fastann's
speed-up over torch at the same thread count and over NumPy (> 1: fastann is faster). NumPy is the expression
a textbook MLP writes (np.maximum, 1 / (1 + np.exp(-x)), np.tanh, ...; its ufuncs use one thread; "-" where
NumPy has no such function, e.g. erf for gelu); torch rows are skipped, with a message, when torch is not
importable. With --busy-core, the same table again while a Python busy loop holds the last CPU: a split must
not cost much when the helper thread has no core to run on. Results go to
benchmarks/results/bench_elementwise.json. The ufuncs do not call BLAS, so OPENBLAS_* do not matter here.

The optimizer cases ("optim <config> <n>", n = 266 610: the 784-300-100-10 MLP's parameters as one array) time
one in-place step: fastann's ``ops.<name>_step``; torch's ``torch.optim`` optimizer over one parameter tensor
with its ``.grad`` set, ``fused=True`` where torch has a fused CPU kernel (SGD, Adam, AdamW, Adagrad), its
default otherwise (RMSprop), ``opt.step()`` as a training loop calls it; NumPy's in-place textbook update
(``m *= b1; m += (1 - b1) * g`` ...). Configurations: SGD with momentum 0.9, Adam, Adam with AMSGrad, AdamW
(weight decay 0.01), RMSprop, RMSprop centered with momentum 0.9, Adagrad; lr 1e-3, eps 1e-7 everywhere.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [4096, 16384, 38400, 131072, 1048576]       # 38400 = 128 x 300, an MLP layer's activations
QUICK_SIZES = [16384, 131072]
ROWS = [(128, 10), (128, 100), (128, 300), (128, 1000)]  # (batch, classes) of softmax and cross-entropy
QUICK_ROWS = [(128, 100), (128, 1000)]
UNARY = ["relu", "sigmoid", "tanh", "gelu", "elu", "selu", "softplus"]
OPTIM_SIZES = [266610]                                # the MLP's parameters
OPTIM = ["sgd-momentum", "adam", "adam-amsgrad", "adamw", "rmsprop", "rmsprop-centered-momentum", "adagrad"]
LR, EPS = 1e-3, 1e-7


def cases(quick):
    """[(name, kind, shape)]: kind 'unary' (an activation forward), 'dropout', 'mse', 'bce' (binary cross-entropy on
    probabilities in (0, 1)), 'softmax', 'ce', 'optim'."""
    out = []
    for n in (QUICK_SIZES if quick else SIZES):
        out += [(f"{a} {n}", ("unary", a), (n,)) for a in UNARY]
        out += [(f"dropout {n}", ("dropout",), (n,)), (f"mse_loss {n}", ("mse",), (n,)),
                (f"binary_cross_entropy {n}", ("bce",), (n,))]
    for r, c in (QUICK_ROWS if quick else ROWS):
        out += [(f"softmax {r}x{c}", ("softmax",), (r, c)), (f"cross_entropy {r}x{c}", ("ce",), (r, c))]
    for n in OPTIM_SIZES:
        out += [(f"optim {o} {n}", ("optim", o), (n,)) for o in OPTIM]
    return out


def optimizer_step(lib, config, x, g):
    """A zero-argument function doing one in-place step of optimizer `config` (OPTIM) on a copy of x with
    gradient g, in library `lib`'s usual form (module docstring)."""
    import numpy as np

    p = x.copy()
    if lib == "fastann":
        from fastann import ops

        state = [np.zeros_like(p) for _ in range(3)]
        t = [0]
        if config.startswith("adam"):
            step = ops.adamw_step if config == "adamw" else ops.adam_step
            kw = dict(weight_decay=0.01) if config == "adamw" else {}
            vmax = state[2] if config == "adam-amsgrad" else None

            def f():
                t[0] += 1
                step(p, g, state[0], state[1], step=t[0], lr=LR, eps=EPS, max_exp_avg_sq=vmax, **kw)
            return f
        if config == "sgd-momentum":
            return lambda: ops.sgd_step(p, g, state[0], lr=LR, momentum=0.9)
        if config.startswith("rmsprop"):
            centered = config != "rmsprop"
            return lambda: ops.rmsprop_step(p, g, state[0], state[1] if centered else None,
                                            state[2] if centered else None, lr=LR, eps=EPS,
                                            momentum=0.9 if centered else 0.0, centered=centered)
        return lambda: ops.adagrad_step(p, g, state[0], lr=LR, eps=EPS)
    if lib == "torch":
        import torch

        param = torch.nn.Parameter(torch.from_numpy(p))
        param.grad = torch.from_numpy(g)
        make = {"sgd-momentum": lambda **f: torch.optim.SGD([param], lr=LR, momentum=0.9, **f),
                "adam": lambda **f: torch.optim.Adam([param], lr=LR, eps=EPS, **f),
                "adam-amsgrad": lambda **f: torch.optim.Adam([param], lr=LR, eps=EPS, amsgrad=True, **f),
                "adamw": lambda **f: torch.optim.AdamW([param], lr=LR, eps=EPS, weight_decay=0.01, **f),
                "rmsprop": lambda **f: torch.optim.RMSprop([param], lr=LR, eps=EPS),
                "rmsprop-centered-momentum": lambda **f: torch.optim.RMSprop([param], lr=LR, eps=EPS, momentum=0.9,
                                                                             centered=True),
                "adagrad": lambda **f: torch.optim.Adagrad([param], lr=LR, eps=EPS, **f)}[config]
        try:
            opt = make(fused=True)
            opt.step()  # a fused kernel missing for this device or dtype fails here, not at construction
        except (RuntimeError, TypeError, ValueError):
            opt = make()
        return opt.step
    b1, b2, c1, c2 = np.float32(0.9), np.float32(0.999), np.float32(0.1), np.float32(0.001)
    m, v, a = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    t = [0]

    # the arrays as default arguments: the in-place updates (m *= b1) then act on them, not on new locals
    def adam(p=p, m=m, v=v, a=a):
        t[0] += 1
        if config == "adamw":
            p *= np.float32(1 - LR * 0.01)
        m *= b1
        m += c1 * g
        v *= b2
        v += c2 * g * g
        if config == "adam-amsgrad":
            np.maximum(a, v, out=a)
        denom = np.sqrt((a if config == "adam-amsgrad" else v) / np.float32(1 - 0.999 ** t[0])) + np.float32(EPS)
        p -= np.float32(LR / (1 - 0.9 ** t[0])) * m / denom

    def sgd(p=p, m=m):
        m *= np.float32(0.9)
        m += g
        p -= np.float32(LR) * m

    def rmsprop(p=p, m=m, v=v, a=a):
        v *= np.float32(0.9)
        v += np.float32(0.1) * g * g
        if config == "rmsprop":
            p -= np.float32(LR) * g / (np.sqrt(v) + np.float32(EPS))
            return
        a *= np.float32(0.9)
        a += np.float32(0.1) * g
        m *= np.float32(0.9)
        m += g / (np.sqrt(v - a * a) + np.float32(EPS))
        p -= np.float32(LR) * m

    def adagrad(p=p, v=v):
        v += g * g
        p -= np.float32(LR) * g / (np.sqrt(v) + np.float32(EPS))
    return adam if config.startswith("adam") else sgd if config == "sgd-momentum" else \
        rmsprop if config.startswith("rmsprop") else adagrad


def timed_us(f, budget=0.2):
    """Median µs of f() over ~budget seconds of calls (at least 15), after one warm-up call."""
    f()
    ts, end = [], time.perf_counter() + budget
    while time.perf_counter() < end or len(ts) < 15:
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e6


def worker(lib, threads, quick, only):
    import numpy as np

    rng = np.random.default_rng(0)
    # calls[kind[0]](x, t, activation name or None): the zero-argument function a case times, or None where the
    # library has no such function (NumPy's gelu); x and t pass through `operand` first (once per case: torch
    # wraps the arrays as tensors, outside the timed call)
    operand = lambda a: a  # noqa: E731
    if lib == "fastann":
        import fastann
        from fastann import ops
        fastann.set_num_threads(threads)
        calls = {"unary": lambda x, t, a: lambda: ops.activation(a, x),
                 "dropout": lambda x, t, a: lambda: ops.dropout(x, 0.5, seed=1),
                 "mse": lambda x, t, a: lambda: ops.mse_loss(x, t),
                 "bce": lambda x, t, a: lambda: ops.binary_cross_entropy(x, t),
                 "softmax": lambda x, t, a: lambda: ops.softmax(x, dim=-1),
                 "ce": lambda x, t, a: lambda: ops.cross_entropy(x, t)}
    elif lib == "numpy":
        def softmax(x):
            e = np.exp(x - x.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

        def cross_entropy(x, t):
            z = x - x.max(axis=1, keepdims=True)
            return np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(t)), t])

        def bce(x, t):
            p = np.clip(x, np.float32(1e-7), np.float32(1 - 1e-7))
            return -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))

        unary = {"relu": lambda x: np.maximum(x, 0), "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "tanh": np.tanh,
                 "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
                 "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(
                     np.minimum(x, 0))),
                 "softplus": lambda x: np.logaddexp(0, x)}
        gen = np.random.default_rng(1)
        calls = {"unary": lambda x, t, a: (lambda: unary[a](x)) if a in unary else None,
                 "dropout": lambda x, t, a: lambda: x * (gen.random(x.shape, dtype=np.float32) >= 0.5) * np.float32(2),
                 "mse": lambda x, t, a: lambda: np.mean((x - t) ** 2),
                 "bce": lambda x, t, a: lambda: bce(x, t),
                 "softmax": lambda x, t, a: lambda: softmax(x),
                 "ce": lambda x, t, a: lambda: cross_entropy(x, t)}
    else:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(threads)
        unary = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "gelu": F.gelu, "elu": F.elu,
                 "selu": F.selu, "softplus": F.softplus}
        operand = torch.from_numpy
        calls = {"unary": lambda x, t, a: lambda: unary[a](x),
                 "dropout": lambda x, t, a: lambda: F.dropout(x, 0.5, training=True),
                 "mse": lambda x, t, a: lambda: F.mse_loss(x, t),
                 "bce": lambda x, t, a: lambda: F.binary_cross_entropy(x, t),
                 "softmax": lambda x, t, a: lambda: torch.softmax(x, dim=-1),
                 "ce": lambda x, t, a: lambda: F.cross_entropy(x, t)}
    res = {}
    for name, kind, shape in cases(quick):
        if only and not any(name.startswith(o) for o in only):
            continue
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        t = rng.integers(0, shape[1], shape[0]) if kind[0] == "ce" else rng.standard_normal(shape).astype(np.float32)
        if kind[0] == "bce":  # probabilities and targets in (0, 1)
            x, t = rng.uniform(0.01, 0.99, shape).astype(np.float32), rng.uniform(0, 1, shape).astype(np.float32)
        f = optimizer_step(lib, kind[1], x, t) if kind[0] == "optim" else \
            calls[kind[0]](operand(x), operand(t), kind[1] if kind[0] == "unary" else None)
        if f is not None:
            res[name] = timed_us(f)
    return res


def run_round(script, worker_args=(), env_for=None):
    """One process per contender (fastann and torch at 1 and 2 threads, NumPy at 1), in turn, each running
    `script --worker LIB --threads T *worker_args` with the environment env_for(lib, threads) (default: this
    one) and printing a JSON {case: µs} as its last line: {contender: {case: µs}} (torch missing when it fails)."""
    out = {}
    for lib, threads in (("fastann", 1), ("fastann", 2), ("torch", 1), ("torch", 2), ("numpy", 1)):
        cmd = [sys.executable, script, "--worker", lib, "--threads", str(threads), *worker_args]
        env = dict(env_for(lib, threads) if env_for else os.environ, PYTHONPATH=os.path.join(HERE, "..", "python"))
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            if lib == "torch":
                print(f"torch at {threads} thread(s) skipped: {p.stderr.strip().splitlines()[-1]}")
                continue
            raise SystemExit(p.stderr)
        out[f"{lib} {threads}T"] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


def worker_args(args):
    return (["--quick"] if args.quick else []) + (["--only", *args.only] if args.only else [])


def table(rounds, title):
    cols = ["fastann 1T", "fastann 2T", "torch 1T", "torch 2T", "numpy 1T"]
    have = [c for c in cols if all(c in r for r in rounds)]
    med = {c: {k: statistics.median(r[c][k] for r in rounds) for k in rounds[0][c]} for c in have}
    nan = float("nan")
    print(f"\n== {title} (median µs over {len(rounds)} round(s)) ==")
    peers = [(f"torch {t}", f"fastann {t}", f"vs torch {t}") for t in ("1T", "2T")] + \
        [("numpy 1T", "fastann 1T", "vs numpy")]
    peers = [p for p in peers if p[0] in have]
    head = f"{'case':40s}" + "".join(f"{c:>12s}" for c in have) + f"{'2T/1T':>8s}"
    print(head + "".join(f"{name:>13s}" for _, _, name in peers))
    for k in med["fastann 1T"]:
        row = f"{k:40s}" + "".join(f"{med[c].get(k, nan):12.1f}" for c in have)
        row += f"{med['fastann 1T'][k] / med['fastann 2T'][k]:7.2f}x"
        row += "".join(f"{med[peer].get(k, nan) / med[ours][k]:12.2f}x" for peer, ours, _ in peers)
        print(row.replace("nan", "  -"))
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3, --quick 1)")
    ap.add_argument("--busy-core", action="store_true")
    ap.add_argument("--only", nargs="+", default=None)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bench_elementwise.json"))
    ap.add_argument("--worker", choices=["fastann", "torch", "numpy"], help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads, args.quick, args.only)))
        return
    sys.path.insert(0, os.path.join(HERE, "..", "python"))  # a source checkout without fastann installed
    import fastann
    import _training_bench as tb
    from _machine import describe

    lines, facts = describe(fastann)
    print("\n".join(lines))
    rounds = args.rounds or (1 if args.quick else 3)
    results = {"machine": facts,
               "idle": table([run_round(__file__, worker_args(args)) for _ in range(rounds)], "idle machine")}
    if args.busy_core:
        hog = subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"])
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        try:
            if len(cpus) >= 2:
                os.sched_setaffinity(hog.pid, {cpus[-1]})  # the busy loop owns the last core
            where = f"CPU {cpus[-1]}" if len(cpus) >= 2 else "a CPU the scheduler picks"
            results["busy_core"] = table([run_round(__file__, worker_args(args)) for _ in range(rounds)],
                                         f"a busy loop on {where}")
        finally:
            hog.kill()
    tb.write_results(args.out, results)


if __name__ == "__main__":
    main()
