#!/usr/bin/env python
"""GEMM benchmark: every rung of fastann's GEMM ladder against NumPy's ``@`` on native OpenBLAS.

    python benchmarks/bench_gemm.py            # n = 128..4096 and the MLP's shapes, 1 and 2 threads
    python benchmarks/bench_gemm.py --cases square --sizes 4096   # chosen square sizes only
    python benchmarks/bench_gemm.py --cases square --rounds 3   # NumPy and fastann alternating, medians of 3
    python benchmarks/bench_gemm.py --quick    # fewer sizes and repeats
    python benchmarks/bench_gemm.py --busy-core  # also: 2-thread GEMM while a busy loop holds a core
    python benchmarks/bench_gemm.py --thread-work  # CPU time per call, 2 threads / 1 (threading overhead)
    python benchmarks/bench_gemm.py --device cuda  # the CUDA ladder vs cuBLAS (see _cuda_gemm_bench.py)

Prints, per case and thread count: median time, GFLOP/s, the ratio to NumPy (NumPy time / fastann time:
> 1 means fastann is faster) and the share of the CPU's FMA peak, measured here by
``fastann._cpu.fma_peak_gflops`` (independent FMA chains on vector registers, one core) times the threads.
All float32, C = A @ B (or with the transposes the MLP's layers use).

The NumPy peer runs in a subprocess with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE *unset*: these machines
export them, which holds OpenBLAS to its Haswell (AVX2) kernels at about half its speed on this CPU; the
fair peer is OpenBLAS's native kernel. Threads: OPENBLAS_NUM_THREADS / fastann.set_num_threads.
Rungs 1 and 2 run only at small n (they take seconds beyond). Results go to benchmarks/results/bench_gemm.json.
Timings on a shared machine are noisy: each figure is a median over repeats.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))  # a source checkout with an in-place build

# The MLP's (784-300-100-10, batch 128) GEMMs: (name, M, N, K, trans_a, trans_b).
MLP_SHAPES = [
    ("mlp fwd 1  x@W1^T", 128, 300, 784, False, True),
    ("mlp fwd 2  h@W2^T", 128, 100, 300, False, True),
    ("mlp fwd 3  h@W3^T", 128, 10, 100, False, True),
    ("mlp dW1  dz^T@x", 300, 784, 128, True, False),
    ("mlp dW2  dz^T@h", 100, 300, 128, True, False),
    ("mlp dW3  dz^T@h", 10, 100, 128, True, False),
    ("mlp dx2  dz@W2", 128, 300, 100, False, False),
    ("mlp dx3  dz@W3", 128, 100, 10, False, False),
]


def cases(quick: bool, which: str = "all", sizes=None):
    if sizes is None:
        sizes = [128, 512, 1024, 2048] if quick else [128, 256, 512, 1024, 2048, 4096]
    out = [(f"square n={n}", n, n, n, False, False) for n in sizes] if which in ("all", "square") else []
    return out + (MLP_SHAPES if which in ("all", "mlp") else [])


def operands(m, n, k, ta, tb, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    return a, b


#: time.perf_counter (wall time, the default) or time.process_time (--cpu-time: CPU seconds of all the
#: process's threads, which on a machine shared with other jobs does not count the time they hold the cores;
#: exact for 1 thread, and for 2 threads it also counts spin-waiting, so it measures work per CPU-second).
CLOCK = time.perf_counter


def median_time(fn, budget_s: float, min_reps: int = 3, max_reps: int = 200) -> float:
    """Median time (CLOCK) of fn() over repeats: at least min_reps, more while under budget_s of wall time."""
    fn()  # warm-up (page faults, packing buffers, thread pool)
    times = []
    start = time.perf_counter()
    while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() - start < budget_s):
        t = CLOCK()
        fn()
        times.append(CLOCK() - t)
    return float(np.median(times))


# ---- the NumPy peer (runs in a subprocess with a cleaned environment) -------------------------------

def numpy_worker(spec: str) -> None:
    """Time NumPy's matmul for every case in spec (JSON) and print {name: seconds} as JSON."""
    global CLOCK
    job = json.loads(spec)
    CLOCK = time.process_time if job.get("cpu_time") else time.perf_counter
    res = {}
    for name, m, n, k, ta, tb in job["cases"]:
        a, b = operands(m, n, k, ta, tb)
        opa, opb = (a.T if ta else a), (b.T if tb else b)
        c = np.empty((m, n), np.float32)
        res[name] = median_time(lambda: np.matmul(opa, opb, out=c), job["budget"])
    print(json.dumps(res))


def numpy_peer(case_list, threads: int, budget: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    spec = json.dumps({"cases": case_list, "budget": budget, "cpu_time": CLOCK is time.process_time})
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--numpy-worker", spec], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def numpy_config() -> str:
    code = ("import numpy, json; c = numpy.show_config(mode='dicts'); "
            "b = c['Build Dependencies']['blas']; print(b.get('name'), b.get('version'))")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    try:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception as exc:  # noqa: BLE001 - informational only
        return f"unknown ({exc})"


# ---- fastann ----------------------------------------------------------------------------------------

def fastann_time(cpu, name, m, n, k, ta, tb, rung, budget):
    a, b = operands(m, n, k, ta, tb)
    c = np.empty((m, n), np.float32)
    return median_time(lambda: cpu.gemm(c, a, b, ta, tb, 1.0, 0.0, rung), budget)


def rungs_for(m, n, k, threads):
    macs = m * n * k
    rungs = []
    if macs <= 256 ** 3:
        rungs += [1, 2]  # the simple rungs take seconds beyond this
    rungs += [3] if threads == 1 else []  # rung 3 is single-threaded: shown once
    return rungs + [4]


def run_table(cpu, fastann, case_list, threads_list, budget, peak_core, rounds=1):
    rows = []
    for threads in threads_list:
        fastann.set_num_threads(threads)
        # Rounds alternate the contenders (NumPy's subprocess over every case, then fastann over every case), so
        # on a machine whose second core comes and goes both sides sample the same conditions; each figure is
        # the median over the rounds of the per-round medians.
        peers, times, stats = [], {}, {}
        for _ in range(rounds):
            peers.append(numpy_peer(case_list, threads, budget))
            for name, m, n, k, ta, tb in case_list:
                before = cpu.gemm_thread_stats()
                for r in rungs_for(m, n, k, threads):
                    times.setdefault((name, r), []).append(fastann_time(cpu, name, m, n, k, ta, tb, r, budget))
                after = cpu.gemm_thread_stats()
                acc = stats.setdefault(name, dict.fromkeys(after, 0))
                for key in after:
                    acc[key] += after[key] - before[key]
        peak = peak_core * threads
        print(f"\n== {threads} thread(s); peak {peak:.0f} GFLOP/s; NumPy = native OpenBLAS "
              f"(OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset){'; median of %d alternating rounds' % rounds if rounds > 1 else ''} ==")
        print(f"{'case':24s} {'M':>5s} {'N':>5s} {'K':>5s} {'impl':>10s} {'median ms':>10s} {'GFLOP/s':>8s} "
              f"{'vs NumPy':>9s} {'% peak':>7s}" + ("  per-round ratios" if rounds > 1 else ""))
        for name, m, n, k, ta, tb in case_list:
            flops = 2.0 * m * n * k
            np_rounds = [peer[name] for peer in peers]
            t_np = statistics.median(np_rounds)
            entries = [("numpy", t_np, None)] + [
                (f"rung {r}", statistics.median(times[(name, r)]),
                 [a / b for a, b in zip(np_rounds, times[(name, r)])]) for r in rungs_for(m, n, k, threads)]
            for impl, t, per_round in entries:
                gf = flops / t * 1e-9
                row = dict(case=name, m=m, n=n, k=k, trans_a=ta, trans_b=tb, threads=threads, impl=impl,
                           median_s=t, gflops=gf, ratio_vs_numpy=t_np / t, pct_peak=100 * gf / peak)
                if per_round is not None:
                    row["ratio_per_round"] = per_round
                rows.append(row)
                extra = ("  " + " ".join(f"{x:.2f}" for x in per_round)) if per_round and rounds > 1 else ""
                print(f"{name:24s} {m:5d} {n:5d} {k:5d} {impl:>10s} {t * 1e3:10.3f} {gf:8.1f} "
                      f"{t_np / t:8.2f}x {100 * gf / peak:6.1f}%{extra}")
            if threads > 1:
                # rung 4's threads in this case: calls threaded, helpers late (a busy core), calls that waited
                # for a helper's tile, calls kept on one thread by the busy-core back-off
                st = stats[name]
                rows[-1]["gemm_thread_stats"] = st
                print(f"{'':24s} rung 4 threads: {st['threaded']} calls threaded, {st['late']} with a late "
                      f"helper, {st['waited']} waited for one, {st['backed_off']} on one thread (back-off)")
    return rows


# ---- busy-core mode (Done-means 6) ---------------------------------------------------------------

BUSY_LOOP = "while True:\n    pass\n"


def run_busy(cpu, fastann, budget, peak_core):
    """2-thread GEMMs while another process spins on CPU 1, against 1 thread and 2 threads unloaded."""
    busy_cases = [("square n=1024", 1024, 1024, 1024, False, False), ("square n=256", 256, 256, 256, False, False)]
    busy_cases += MLP_SHAPES[:2] + MLP_SHAPES[3:4]
    results = []

    def measure(label):
        out = {}
        for threads in (1, 2):
            fastann.set_num_threads(threads)
            peer = numpy_peer(busy_cases, threads, budget)
            for name, m, n, k, ta, tb in busy_cases:
                t = fastann_time(cpu, name, m, n, k, ta, tb, 4, budget)
                out[(name, threads)] = (t, peer[name])
                results.append(dict(mode=label, case=name, threads=threads, fastann_s=t, numpy_s=peer[name]))
        return out

    quiet = measure("quiet")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        if len(cpus) >= 2 and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(busy.pid, {cpus[-1]})  # the busy loop owns the last core
        time.sleep(0.2)
        loaded = measure("busy")
    finally:
        busy.kill()
        busy.wait()
    print("\n== busy core: a separate process spins on CPU", cpus[-1] if cpus else "?",
          "while fastann / NumPy run (median ms; rung 4 / native OpenBLAS) ==")
    print(f"{'case':24s} {'impl':>8s} {'1 thr quiet':>12s} {'2 thr quiet':>12s} {'2 thr busy':>11s} "
          f"{'busy/1thr':>10s}")
    for name, *_ in busy_cases:
        for impl, idx in (("fastann", 0), ("numpy", 1)):
            one, two, two_busy = quiet[(name, 1)][idx], quiet[(name, 2)][idx], loaded[(name, 2)][idx]
            print(f"{name:24s} {impl:>8s} {one * 1e3:12.3f} {two * 1e3:12.3f} {two_busy * 1e3:11.3f} "
                  f"{two_busy / one:9.2f}x")
    return results


def run_thread_work(cpu, fastann, case_list, budget):
    """CPU time of all threads per call at 2 threads over 1 thread (ideal 1.00): on a machine shared with other
    jobs, this shows whether threading wastes work (a caller spinning for a helper another process holds,
    extra packing) even when wall-clock times are meaningless."""
    global CLOCK
    saved, CLOCK = CLOCK, time.process_time
    print("\n== thread work: process CPU time per call, 2 threads / 1 thread (ideal 1.00) ==")
    rows = []
    try:
        for name, m, n, k, ta, tb in case_list:
            cpu_s = {}
            for threads in (1, 2):
                fastann.set_num_threads(threads)
                cpu_s[threads] = fastann_time(cpu, name, m, n, k, ta, tb, 4, budget)
            rows.append(dict(case=name, cpu_s_1=cpu_s[1], cpu_s_2=cpu_s[2], ratio=cpu_s[2] / cpu_s[1]))
            print(f"{name:24s} 1 thread {cpu_s[1] * 1e3:9.3f} ms  2 threads {cpu_s[2] * 1e3:9.3f} ms  "
                  f"{cpu_s[2] / cpu_s[1]:5.2f}x")
    finally:
        CLOCK = saved
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer sizes, shorter timing budget")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--cases", choices=["all", "square", "mlp"], default="all", help="which cases to run")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate NumPy and fastann this many times per thread count and report medians over the "
                         "rounds (for a machine whose second core comes and goes)")
    ap.add_argument("--sizes", help="comma-separated square sizes n (default 128..4096; --quick: 128..2048)")
    ap.add_argument("--busy-core", action="store_true", help="also run the busy-core measurement")
    ap.add_argument("--busy-only", action="store_true", help="only the busy-core measurement")
    ap.add_argument("--thread-work", action="store_true",
                    help="only the CPU time per call at 2 threads over 1 thread (threading overhead on a busy machine)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with process CPU time instead of wall time (for a machine shared with other jobs)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bench_gemm.json"))
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                    help="cuda: the CUDA ladder against cuBLAS (benchmarks/_cuda_gemm_bench.py; needs a GPU and CuPy)")
    ap.add_argument("--numpy-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.numpy_worker:
        numpy_worker(args.numpy_worker)
        return
    if args.device == "cuda":
        sys.path.insert(0, HERE)
        import _cuda_gemm_bench  # noqa: PLC0415

        res = _cuda_gemm_bench.run(sizes=[1024, 4096] if args.quick else None, repeats=5 if args.quick else 10,
                                   mlp=args.cases in ("all", "mlp"))
        out = os.path.join(os.path.dirname(args.out), "bench_gemm_cuda.json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            json.dump(res, f, indent=1)
        print(f"wrote {out}")
        return

    import fastann
    from fastann import _cpu as cpu

    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time

    budget = 0.25 if args.quick else 0.6
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else None
    threads_list = [int(t) for t in args.threads.split(",")]
    peak_core = cpu.fma_peak_gflops(0.5)
    info = fastann.build_info()
    sys.path.insert(0, HERE)
    import _machine  # noqa: PLC0415

    machine_lines, machine = _machine.describe(fastann)
    print(f"fastann {info['version']}  SIMD path: {info['simd']}  {platform.machine()}  cores: {os.cpu_count()}")
    print("\n".join(machine_lines))
    print(f"measured fp32 FMA peak: {peak_core:.1f} GFLOP/s per core ({info['simd']} FMA chains, "
          "fastann._cpu.fma_peak_gflops)")
    print(f"NumPy {np.__version__}, BLAS: {numpy_config()}; peer run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset")
    print("GOMP_SPINCOUNT =", os.environ.get("GOMP_SPINCOUNT"), " OMP_WAIT_POLICY =", os.environ.get("OMP_WAIT_POLICY"))
    print("clock:", "process CPU time (--cpu-time)" if args.cpu_time else "wall time")
    print(f"(shared machine, load average {os.getloadavg()[0]:.1f}, nice {os.nice(0)}: figures are medians and "
          "still noisy)")

    result = dict(clock="cpu" if args.cpu_time else "wall", peak_gflops_per_core=peak_core, simd=info["simd"],
                  machine=machine, numpy=np.__version__,
                  env_unset_for_numpy=["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"], rows=[], busy=[])
    if args.thread_work:
        result["thread_work"] = run_thread_work(cpu, fastann, cases(args.quick, args.cases, sizes), budget)
    elif not args.busy_only:
        result["rows"] = run_table(cpu, fastann, cases(args.quick, args.cases, sizes), threads_list, budget, peak_core,
                                   args.rounds)
    if args.busy_core or args.busy_only:
        result["busy"] = run_busy(cpu, fastann, budget, peak_core)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
