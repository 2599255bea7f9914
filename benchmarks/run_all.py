"""run_all.py: run every benchmark script in sequence, then print one summary table, JSON and plots.

    PYTHONPATH=python python benchmarks/run_all.py [--quick] [--threads 1 2] [--only gemm mlp ...]
    python benchmarks/run_all.py --device cuda       # the CUDA scripts instead (needs a GPU, CuPy, fastann._cuda)
    python benchmarks/run_all.py --no-run            # only summarize the JSON already in benchmarks/results/

Each benchmark runs as a subprocess (its own interpreter, so its environment handling, e.g. unsetting
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for the NumPy peer, stays as the script does it). Its output is shown
live and also saved to benchmarks/results/<name>.log. `--quick` is passed to every script; `--threads` to the
scripts that take it. CPU benchmarks: gemm, elementwise, linear, mlp, conv, pool_norm, cnn; CUDA benchmarks (only with
`--device cuda` or `all`): gemm_cuda, conv_cuda, mlp_cuda and cnn_cuda (bench_mlp.py / bench_cnn.py with
`--device cuda`: fastann on the GPU against PyTorch CUDA).

Afterwards it reads each script's JSON (benchmarks/results/, gitignored) and prints the key lines:
GEMM rung 4 GFLOP/s and speed-up over NumPy at the largest square n; MLP/CNN training samples/s and the
ratio to the faster peer; conv/pool/norm milliseconds and the ratio to the best PyTorch layout; CUDA GEMM
and conv rows. The table's rows go to benchmarks/results/summary.json, and plots (if matplotlib is
installed; otherwise they are skipped with a note) to benchmarks/results/*.png.

A script that fails, or JSON that lacks an expected key, is reported and the rest continues; the exit
status is 1 if any benchmark failed or had no readable results. Ratios are "x faster than the peer"
(> 1 means fastann is faster). Timings on a shared machine are noisy: read the per-script logs.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")

# name -> script, JSON file it writes, how it takes thread counts ("comma": --threads 1,2; "list":
# --threads 1 2; None: it does not), extra arguments, device.
BENCHMARKS = {
    "gemm": dict(script="bench_gemm.py", json="bench_gemm.json", threads="comma", device="cpu"),
    # json None: no row in the summary table (its own JSON and log hold its tables)
    "elementwise": dict(script="bench_elementwise.py", json=None, threads=None, device="cpu"),
    "linear": dict(script="bench_linear.py", json=None, threads=None, device="cpu"),
    "mlp": dict(script="bench_mlp.py", json="bench_mlp.json", threads="list", device="cpu"),
    "conv": dict(script="bench_conv.py", json="bench_conv.json", threads="comma", device="cpu"),
    "pool_norm": dict(script="bench_pool_norm.py", json="bench_pool_norm.json", threads="list", device="cpu",
                      args=["--json", os.path.join(RESULTS, "bench_pool_norm.json")]),
    "cnn": dict(script="bench_cnn.py", json="bench_cnn.json", threads="list", device="cpu"),
    "gemm_cuda": dict(script="bench_gemm_cuda.py", json="gemm_cuda.json", threads=None, device="cuda"),
    "conv_cuda": dict(script="bench_conv_cuda.py", json="conv_cuda.json", threads=None, device="cuda"),
    "mlp_cuda": dict(script="bench_mlp.py", json="bench_mlp_cuda.json", threads=None, device="cuda",
                     args=["--device", "cuda"]),
    "cnn_cuda": dict(script="bench_cnn.py", json="bench_cnn_cuda.json", threads=None, device="cuda",
                     args=["--device", "cuda"]),
}


# ---- running ---------------------------------------------------------------------------------------

def command(name, spec, args):
    cmd = [sys.executable, os.path.join(HERE, spec["script"])]
    if args.quick:
        cmd.append("--quick")
    if args.threads and spec["threads"] == "comma":
        cmd += ["--threads", ",".join(map(str, args.threads))]
    elif args.threads and spec["threads"] == "list":
        cmd += ["--threads", *map(str, args.threads)]
    return cmd + spec.get("args", [])


def run_one(name, spec, args):
    """Run one script, echo and log its output; returns (exit status, seconds)."""
    cmd = command(name, spec, args)
    print(f"\n######## {name}: {' '.join(cmd)}", flush=True)
    log_path = os.path.join(RESULTS, f"{name}.log")
    start = time.perf_counter()
    try:
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in proc.stdout:  # echo live, keep a copy
                sys.stdout.write(line)
                log.write(line)
            rc = proc.wait()
    except OSError as e:
        print(f"{name}: could not start: {e}")
        rc = 127
    secs = time.perf_counter() - start
    print(f"######## {name}: exit {rc} after {secs:.0f} s (log: {log_path})", flush=True)
    return rc, secs


# ---- summarizing: one function per JSON format, each returns rows of (benchmark, what, value, ratio, note) --

def row(bench, what, value, unit, ratio=None, peer=None):
    return dict(benchmark=bench, what=what, value=value, unit=unit, ratio=ratio, ratio_peer=peer)


def summarize_gemm(d):
    rows = d["rows"]
    out = []
    for threads in sorted({r["threads"] for r in rows}):
        square = [r for r in rows if r["threads"] == threads and r["case"].startswith("square")]
        if not square:
            continue
        n = max(r["n"] for r in square)
        for r in square:
            if r["n"] == n and r["impl"] == "rung 4":
                out.append(row("gemm", f"rung 4, n={n}, {threads} thr", r["gflops"], "GFLOP/s",
                               r.get("ratio_vs_numpy"), "NumPy"))
    return out


def run_keys(runs):
    """The keys of a training JSON's "runs": thread counts in order, or "cuda" for a --device cuda run."""
    return sorted(runs, key=lambda k: int(k) if k.isdigit() else 0)


def summarize_training(bench, d):
    """bench_mlp / bench_cnn: {"runs": {threads or "cuda": {contender: {...samples_per_s...}}}}."""
    out = []
    for key in run_keys(d["runs"]):
        contenders = d["runs"][key]
        where = f"{key} thr" if key.isdigit() else key
        for c in ("fastann", "fastann+accuracy"):
            r = contenders.get(c)
            if not r:
                continue
            if "error" in r:
                out.append(row(bench, f"{c}, {where}", None, "samples/s", None, f"failed: {r['error']}"))
                continue
            ratio = r.get("ratio_to_faster_peer", r.get("ratio_to_best_torch"))
            peer = "faster peer" if "ratio_to_faster_peer" in r else "best PyTorch"
            if key == "cuda":
                peer = "PyTorch CUDA" if "ratio_to_faster_peer" in r else "best PyTorch CUDA"
            out.append(row(bench, f"{c}, {where}", r["samples_per_s"], "samples/s", ratio, peer))
    return out


def summarize_conv(d):
    out = []
    for s in d["summary"]:
        totals = s["total_s"]
        fa = totals.get("fastann k=auto")
        torch_best = min((t for i, t in totals.items() if i.startswith("torch")), default=None)
        if fa is None:
            continue
        what = f"{s['shape']} {'+'.join(s['directions'])}, {s['threads']} thr"
        out.append(row("conv", what, fa * 1e3, "ms", torch_best / fa if torch_best else None, "best PyTorch"))
    return out


def summarize_pool_norm(d):
    out = []
    for r in d:
        what = f"{r['op']} [{r['variant']}] {'x'.join(map(str, r['shape']))}, {r['threads']} thr"
        out.append(row("pool_norm", what, r["ms"], "ms", r.get("ratio_vs_best_torch"), "best PyTorch"))
    return out


def summarize_gemm_cuda(d):
    return [row("gemm_cuda", f"{r['shape']} {r['kernel']}", r["gflops"], "GFLOP/s", r["pct_cublas"] / 100, "cuBLAS")
            for r in d["rows"] if r["kernel"] != "cuBLAS"]


def summarize_conv_cuda(d):
    out = []
    conv = d.get("conv")
    conv_rows = conv if isinstance(conv, list) else (conv or {}).get("rows", [])
    for r in conv_rows:
        out.append(row("conv_cuda", f"{r['shape']} {r['direction']} rung={r['rung']}", r["ms"], "ms"))
    for r in d.get("pool_norm") or []:
        out.append(row("conv_cuda", f"{r['op']} {r['shape']}", r["ms"], "ms"))
    return out


SUMMARIZERS = {
    "gemm": summarize_gemm, "mlp": lambda d: summarize_training("mlp", d),
    "cnn": lambda d: summarize_training("cnn", d), "conv": summarize_conv, "pool_norm": summarize_pool_norm,
    "gemm_cuda": summarize_gemm_cuda, "conv_cuda": summarize_conv_cuda,
    "mlp_cuda": lambda d: summarize_training("mlp_cuda", d), "cnn_cuda": lambda d: summarize_training("cnn_cuda", d),
}


def load(name, spec):
    """(data, problem): the parsed JSON, or None and why not."""
    if spec["json"] is None:
        return None, "writes no JSON (see its log)"
    path = os.path.join(RESULTS, spec["json"])
    if not os.path.exists(path):
        return None, f"no results file {path}"
    try:
        with open(path) as f:
            return json.load(f), None
    except (OSError, ValueError) as e:
        return None, f"unreadable {path}: {e}"


def summarize(name, data):
    """(rows, problem); a missing key or odd format is reported instead of raised."""
    try:
        return SUMMARIZERS[name](data), None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError) as e:
        return [], f"unexpected JSON format ({type(e).__name__}: {e})"


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_table(rows):
    print(f"\n{'benchmark':<10} {'what':<58} {'value':>12} {'unit':<10} {'ratio':>7}  peer")
    print("-" * 108)
    for r in rows:
        value = fmt(r["value"], ",.3f" if r["unit"] == "ms" else ",.1f")
        print(f"{r['benchmark']:<10} {r['what'][:58]:<58} {value:>12} {r['unit']:<10} "
              f"{fmt(r['ratio'], '.2f'):>6}x  {r['ratio_peer'] or ''}")


# ---- plots -------------------------------------------------------------------------------------------

def plot_all(data):
    """Write PNGs for the results at hand; returns the paths written."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\nmatplotlib is not installed: plots skipped (pip install '.[bench]')")
        return []
    written = []

    def save(fig, name):
        path = os.path.join(RESULTS, name)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    try:
        if "gemm" in data:  # GFLOP/s per rung vs n, square cases, one panel per thread count
            rows = [r for r in data["gemm"]["rows"] if r["case"].startswith("square")]
            threads = sorted({r["threads"] for r in rows})
            if threads:
                fig, axes = plt.subplots(1, len(threads), figsize=(5 * len(threads), 4), squeeze=False)
                for ax, t in zip(axes[0], threads):
                    for impl in sorted({r["impl"] for r in rows if r["threads"] == t}):
                        pts = sorted((r["n"], r["gflops"]) for r in rows if r["threads"] == t and r["impl"] == impl)
                        ax.plot(*zip(*pts), marker="o", label=impl)
                    peak = data["gemm"].get("peak_gflops_per_core")
                    if peak:  # the measured FMA peak of this many cores: the ceiling every rung climbs toward
                        ax.axhline(peak * t, color="gray", linestyle="--", label="FMA peak")
                    ax.set_xscale("log", base=2)
                    ax.set(title=f"GEMM float32, {t} thread(s)", xlabel="n (square n x n x n)", ylabel="GFLOP/s")
                    ax.legend(fontsize=8)
                save(fig, "gemm_gflops.png")
    except (KeyError, TypeError, ValueError) as e:
        print(f"gemm plot skipped: {type(e).__name__}: {e}")

    for bench in ("mlp", "cnn", "mlp_cuda", "cnn_cuda"):  # samples/s per contender, grouped by thread count
        try:
            if bench not in data:
                continue
            runs = data[bench]["runs"]
            threads = run_keys(runs)
            contenders = sorted({c for t in threads for c in runs[t]})
            fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(contenders) * len(threads)), 4))
            width = 0.8 / max(1, len(threads))
            for j, t in enumerate(threads):
                vals = [runs[t].get(c, {}).get("samples_per_s", 0) for c in contenders]
                ax.bar([i + j * width for i in range(len(contenders))], vals, width,
                       label=f"{t} thread(s)" if t.isdigit() else data[bench].get("gpu", t))
            ax.set_xticks([i + width * (len(threads) - 1) / 2 for i in range(len(contenders))])
            ax.set_xticklabels(contenders, rotation=20, ha="right", fontsize=8)
            ax.set(title=f"{bench.upper()} training throughput", ylabel="samples/s")
            ax.legend(fontsize=8)
            save(fig, f"{bench}_samples_per_s.png")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            print(f"{bench} plot skipped: {type(e).__name__}: {e}")

    try:
        if "conv" in data:  # per-layer training-step conv time: fastann auto vs PyTorch layouts
            summ = data["conv"]["summary"]
            labels = [f"{s['shape']}\n{s['threads']} thr" for s in summ]
            impls = sorted({i for s in summ for i in s["total_s"] if i.startswith("torch") or i == "fastann k=auto"})
            fig, ax = plt.subplots(figsize=(max(5, 1.5 * len(labels)), 4))
            width = 0.8 / max(1, len(impls))
            for j, impl in enumerate(impls):
                vals = [s["total_s"].get(impl, 0) * 1e3 for s in summ]
                ax.bar([i + j * width for i in range(len(labels))], vals, width, label=impl)
            ax.set_xticks([i + width * (len(impls) - 1) / 2 for i in range(len(labels))])
            ax.set_xticklabels(labels, fontsize=8)
            ax.set(title="conv2d per layer, one training step (fwd+bwd)", ylabel="ms")
            ax.legend(fontsize=8)
            save(fig, "conv_ms.png")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        print(f"conv plot skipped: {type(e).__name__}: {e}")
    return written


# ---- main --------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="pass --quick to every script")
    ap.add_argument("--threads", type=int, nargs="+", default=None,
                    help="thread counts, passed to the scripts that take --threads (default: each script's own)")
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
                    help=f"run/summarize these only: {', '.join(BENCHMARKS)}")
    ap.add_argument("--device", choices=["cpu", "cuda", "all"], default="cpu",
                    help="cpu (default): the CPU scripts; cuda: the CUDA scripts; all: both")
    ap.add_argument("--no-run", action="store_true", help="run nothing; summarize the JSON already in results/")
    args = ap.parse_args(argv)

    names = [n for n, s in BENCHMARKS.items() if args.device in ("all", s["device"])]
    if args.only:
        names = [n for n in names if n in args.only]
        skipped = [n for n in args.only if n not in names]
        if skipped:
            print(f"not run with --device {args.device}: {', '.join(skipped)}")
    os.makedirs(RESULTS, exist_ok=True)

    status = {}  # name -> dict(rc, seconds, problem)
    for name in names:
        if args.no_run:
            status[name] = dict(rc=None, seconds=None)
            continue
        rc, secs = run_one(name, BENCHMARKS[name], args)
        status[name] = dict(rc=rc, seconds=secs)

    rows, data, failed = [], {}, []
    for name in names:
        st = status[name]
        if st["rc"]:
            st["problem"] = f"exit status {st['rc']}"
            failed.append(name)
            continue  # a stale JSON from an earlier run would be misleading
        if name not in SUMMARIZERS:
            continue
        d, problem = load(name, BENCHMARKS[name])
        if d is not None:
            got, problem = summarize(name, d)
            rows += got
            if problem is None:
                data[name] = d
        if problem:
            st["problem"] = problem
            # with --no-run, a benchmark that was never run is absent, not failed
            if not (args.no_run and problem.startswith("no results file")):
                failed.append(name)

    print("\n======== summary" + (" (existing results, --no-run)" if args.no_run else ""))
    print("ratio = how many times faster fastann is than the peer (best PyTorch layout, faster of NumPy/PyTorch,"
          " native-OpenBLAS NumPy, cuBLAS)")
    print_table(rows)
    for name in names:
        st = status[name]
        if st.get("problem") or name not in SUMMARIZERS:
            log = os.path.join(RESULTS, name + ".log")
            print(f"{name}: {st.get('problem') or f'no summary row (its tables are in its output above and in {log})'}")

    summary_path = os.path.join(RESULTS, "summary.json")
    with open(summary_path, "w") as f:
        json.dump(dict(quick=args.quick, threads=args.threads, device=args.device, ran=not args.no_run,
                       benchmarks=status, rows=rows), f, indent=1)
    print(f"\nwrote {summary_path}")
    for path in plot_all(data):
        print(f"wrote {path}")
    if failed:
        print(f"\nFAILED or incomplete: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
